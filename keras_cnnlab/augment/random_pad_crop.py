"""RandomPadCrop: pad, then crop back at a random offset (a random whole-pixel shift)."""

from __future__ import annotations

import numbers

import keras

from keras_cnnlab._internals import BaseImagePreprocessingLayer

__all__ = ["RandomPadCrop", "pad_pixels"]

FILL_MODES = ("constant", "reflect", "nearest", "wrap")


def pad_pixels(factor: float, size: int) -> int:
    """Whole pixels of padding for ``factor`` of a side of ``size`` pixels.

    ``round(factor * size)`` with halves rounded up, and at least one pixel when
    ``factor > 0``: 0.125 pads 1 pixel at 8, 3 at 25, 4 at 32 and 28 at 224.
    """
    if factor <= 0:
        return 0
    return max(1, int(factor * size + 0.5))


@keras.saving.register_keras_serializable(package="keras_cnnlab")
class RandomPadCrop(BaseImagePreprocessingLayer):
    """Pad each image and crop it back to its size at a random offset.

    This is the classic CIFAR recipe (pad 4 pixels, crop back to 32x32) for images
    of any size: every image moves by a whole number of pixels, drawn uniformly
    from ``-p..p`` along each axis, with ``p = round(factor * side)`` (at least 1).
    No pixel is resampled, so small images (8x8 digits) stay sharp, unlike a
    fractional shift with bilinear interpolation.

    ``factor`` is a fraction of the image size, so one preset suits 8x8 and
    224x224 alike: ``0.125`` pads 1 pixel at 8x8, 4 at 32x32 and 28 at 224x224.

    Safe inside ``tf.data`` on every backend and under JAX's jit. Identity at
    inference.

    Args:
        factor: padding as a fraction of the height and of the width, in [0, 1].
        fill_mode: what the uncovered pixels become: ``"constant"`` (``fill_value``),
            ``"reflect"`` (mirrored about the edge, as Keras's ``d c b a | a b c d``), ``"nearest"``
            (the edge pixel repeated) or ``"wrap"`` (the opposite side).
        fill_value: the value of ``"constant"`` pixels (0 is black for images in
            [0, 1]).
        seed: integer seed.
        data_format: ``"channels_last"`` or ``"channels_first"``.
        **kwargs: base Layer arguments.

    Example:

    ```python
    shift = RandomPadCrop(0.125, seed=0)        # CIFAR's pad-4-crop-32; 1 pixel at 8x8
    shifted = shift(images, training=True)
    ```
    """

    _USE_BASE_FACTOR = False

    def __init__(
        self, factor=0.125, *, fill_mode="constant", fill_value=0.0, seed=None,
        data_format=None, **kwargs,
    ):
        super().__init__(data_format=data_format, **kwargs)
        if (
            isinstance(factor, bool)
            or not isinstance(factor, numbers.Real)
            or not 0 <= factor <= 1
        ):
            raise ValueError(
                "Invalid value for argument `factor`. Expected a fraction of the image size "
                f"in [0, 1] (0.125 pads 1 pixel at 8x8, 4 at 32x32). Received factor={factor!r}."
            )
        if fill_mode not in FILL_MODES:
            raise ValueError(
                f"Invalid value for argument `fill_mode`. Expected one of {FILL_MODES}. "
                f"Received fill_mode={fill_mode!r}."
            )
        if isinstance(fill_value, bool) or not isinstance(fill_value, numbers.Real):
            raise ValueError(
                f"Invalid value for argument `fill_value`. Expected a number. Received fill_value={fill_value!r}."
            )
        self.factor = float(factor)
        self.fill_mode = fill_mode
        self.fill_value = float(fill_value)
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)
        self._axes = (-2, -1) if self.data_format == "channels_first" else (-3, -2)

    def get_random_transformation(self, data, training=True, seed=None):
        if not training or self.factor == 0:
            return None
        images = data["images"] if isinstance(data, dict) else data
        ops = self.backend
        shape = images.shape
        if len(shape) not in (3, 4):
            raise ValueError(
                f"{type(self).__name__} expects images of rank 3 or 4. Received shape {tuple(shape)}."
            )
        batch = 1 if len(shape) == 3 else ops.shape(images)[0]
        height, width = (int(shape[axis]) for axis in self._axes)
        pad_h, pad_w = pad_pixels(self.factor, height), pad_pixels(self.factor, width)
        seed = seed or self._get_seed_generator(ops._backend)
        u = ops.random.uniform((batch, 2), dtype="float32", seed=seed)
        # Offsets drawn uniformly from -p..p (2p + 1 whole values).
        dy = ops.numpy.floor(u[:, 0] * (2 * pad_h + 1)) - pad_h
        dx = ops.numpy.floor(u[:, 1] * (2 * pad_w + 1)) - pad_w
        rows, row_ok = self._source(ops, dy, height)
        cols, col_ok = self._source(ops, dx, width)
        # One flat index per output pixel: (batch, height * width).
        index = ops.numpy.reshape(rows[:, :, None] * width + cols[:, None, :], (-1, height * width))
        inside = ops.numpy.reshape(row_ok[:, :, None] & col_ok[:, None, :], (-1, height * width))
        return {"index": index, "inside": inside}

    def _source(self, ops, offset, size):
        """For each output position, the input position it copies and whether it is inside."""
        positions = ops.numpy.arange(size, dtype="float32")[None, :] + offset[:, None]
        inside = (positions >= 0) & (positions <= size - 1)
        if self.fill_mode == "wrap":
            positions = ops.numpy.mod(positions, float(size))
        elif self.fill_mode == "reflect":  # Keras's meaning: d c b a | a b c d | d c b a
            positions = ops.numpy.mod(positions, 2.0 * size)
            positions = ops.numpy.where(positions > size - 1, 2.0 * size - 1 - positions, positions)
        positions = ops.numpy.clip(positions, 0, size - 1)  # "nearest", and safe indices
        return ops.cast(positions, "int32"), inside

    def transform_images(self, images, transformation, training=True):
        ops = self.backend
        images = ops.cast(images, self.compute_dtype)
        if not training or transformation is None:
            return images
        single = len(images.shape) == 3
        if single:
            images = ops.numpy.expand_dims(images, 0)
        shape = ops.shape(images)
        index, inside = transformation["index"], transformation["inside"]
        first = self.data_format == "channels_first"
        channels = shape[1] if first else shape[3]
        flat = ops.numpy.reshape(images, (shape[0], channels, -1) if first else (shape[0], -1, channels))
        if first:
            flat = ops.numpy.transpose(flat, (0, 2, 1))  # (batch, pixels, channels)
        pixels = ops.shape(flat)[1]
        # One gather over every pixel of the batch, with int32 indices (take_along_axis
        # would widen them to int64, which TensorFlow's oneDNN kernels warn about).
        offsets = ops.numpy.arange(shape[0], dtype="int32")[:, None] * ops.cast(pixels, "int32")
        out = ops.numpy.take(
            ops.numpy.reshape(flat, (-1, channels)), ops.numpy.reshape(index + offsets, (-1,)), axis=0
        )
        out = ops.numpy.reshape(out, (shape[0], -1, channels))
        if self.fill_mode == "constant":
            out = ops.numpy.where(inside[:, :, None], out, ops.cast(self.fill_value, self.compute_dtype))
        if first:
            out = ops.numpy.transpose(out, (0, 2, 1))
        out = ops.numpy.reshape(out, shape)
        return out[0] if single else out

    def transform_labels(self, labels, transformation, training=True):
        return labels

    def transform_bounding_boxes(self, bounding_boxes, transformation, training=True):
        return bounding_boxes

    def transform_segmentation_masks(self, segmentation_masks, transformation, training=True):
        return self.transform_images(segmentation_masks, transformation, training=training)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            factor=self.factor,
            fill_mode=self.fill_mode,
            fill_value=self.fill_value,
            seed=self.seed,
        )
        return config

