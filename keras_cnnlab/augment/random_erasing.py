"""RandomErasing: blank out a random rectangle of some images (Zhong et al., 2020)."""

from __future__ import annotations

import math
import numbers

import keras

from keras_cnnlab._internals import BaseImagePreprocessingLayer
from keras_cnnlab.augment import _checks

__all__ = ["RandomErasing"]


def _check_interval(value, name, *, low, high, what):
    ok = (
        isinstance(value, (tuple, list))
        and len(value) == 2
        and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value)
        and low < value[0] <= value[1] <= high
    )
    if not ok:
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected (min, max) {what} with "
            f"{low:g} < min <= max <= {high:g}. Received {name}={value!r}."
        )
    return float(value[0]), float(value[1])


@keras.saving.register_keras_serializable(package="keras_cnnlab")
class RandomErasing(BaseImagePreprocessingLayer):
    """Erase one random rectangle in each image, with probability ``probability``.

    Each erased image loses one axis-aligned rectangle whose area is a fraction
    of the image drawn from ``scale`` and whose height/width ratio is drawn
    (log-uniformly) from ``ratio``; the rectangle is whole pixels and lies inside
    the image, so it works on images as small as 8x8. Unlike
    ``keras.layers.RandomErasing``, ``probability`` is the exact chance that an
    image is erased.

    Safe inside ``tf.data`` on every backend. Identity at inference.

    Args:
        probability: chance that an image is erased, in [0, 1].
        scale: ``(min, max)`` fraction of the image area to erase, in (0, 1].
        ratio: ``(min, max)`` height/width ratio of the rectangle.
        fill_value: ``"random"`` (uniform noise within ``value_range``, as in the
            paper) or a number (clipped to ``value_range``).
        value_range: ``(low, high)`` of the pixel values.
        seed: integer seed.
        data_format: ``"channels_last"`` or ``"channels_first"``.
        **kwargs: base Layer arguments.

    Example:

    ```python
    erase = RandomErasing(0.5, value_range=(0, 1), seed=0)
    erased = erase(images, training=True)
    ```
    """

    _USE_BASE_FACTOR = False

    def __init__(
        self,
        probability=0.5,
        *,
        scale=(0.02, 0.33),
        ratio=(0.3, 3.3),
        fill_value="random",
        value_range=(0, 1),
        seed=None,
        data_format=None,
        **kwargs,
    ):
        super().__init__(data_format=data_format, **kwargs)
        if (
            isinstance(probability, bool)
            or not isinstance(probability, numbers.Real)
            or not 0 <= probability <= 1
        ):
            raise ValueError(
                "Invalid value for argument `probability`. Expected a number in [0, 1]. "
                f"Received probability={probability!r}."
            )
        self.probability = float(probability)
        self.scale = _check_interval(scale, "scale", low=0.0, high=1.0, what="area fractions")
        self.ratio = _check_interval(ratio, "ratio", low=0.0, high=math.inf, what="height/width ratios")
        if fill_value != "random" and (
            isinstance(fill_value, bool) or not isinstance(fill_value, numbers.Real)
        ):
            raise ValueError(
                "Invalid value for argument `fill_value`. Expected 'random' or a number. "
                f"Received fill_value={fill_value!r}."
            )
        self.fill_value = fill_value
        self.value_range = _checks.standardize_value_range(value_range)
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)
        if self.data_format == "channels_first":
            self._height_axis, self._width_axis, self._channel_axis = -2, -1, -3
        else:
            self._height_axis, self._width_axis, self._channel_axis = -3, -2, -1

    def get_random_transformation(self, data, training=True, seed=None):
        if not training:
            return None
        images = data["images"] if isinstance(data, dict) else data
        ops = self.backend
        shape = ops.shape(images)
        if len(shape) not in (3, 4):
            raise ValueError(
                f"{type(self).__name__} expects images of rank 3 or 4. Received shape {shape}."
            )
        batch = 1 if len(shape) == 3 else shape[0]
        height, width = shape[self._height_axis], shape[self._width_axis]
        channels = shape[self._channel_axis]
        seed = seed or self._get_seed_generator(ops._backend)
        dtype = self.compute_dtype
        u = ops.random.uniform((batch, 5), dtype="float32", seed=seed)
        area_fraction = self.scale[0] + (self.scale[1] - self.scale[0]) * u[:, 0]
        log_low, log_high = math.log(self.ratio[0]), math.log(self.ratio[1])
        aspect = ops.numpy.exp(log_low + (log_high - log_low) * u[:, 1])
        h_f, w_f = ops.cast(height, "float32"), ops.cast(width, "float32")
        area = area_fraction * h_f * w_f
        # Whole-pixel rectangle, at least 1x1, never larger than the image.
        box_h = ops.numpy.clip(ops.numpy.round(ops.numpy.sqrt(area * aspect)), 1.0, h_f)
        box_w = ops.numpy.clip(ops.numpy.round(ops.numpy.sqrt(area / aspect)), 1.0, w_f)
        top = ops.numpy.floor(u[:, 2] * (h_f - box_h + 1.0))
        left = ops.numpy.floor(u[:, 3] * (w_f - box_w + 1.0))
        apply = u[:, 4] < self.probability

        rows = ops.numpy.arange(height, dtype="float32")[None, :, None]
        cols = ops.numpy.arange(width, dtype="float32")[None, None, :]
        top, left = top[:, None, None], left[:, None, None]
        mask = (
            (rows >= top)
            & (rows < top + box_h[:, None, None])
            & (cols >= left)
            & (cols < left + box_w[:, None, None])
            & apply[:, None, None]
        )
        mask = ops.numpy.expand_dims(mask, self._channel_axis)  # (batch, H, W, 1)

        full_shape = [batch, 1, 1, 1]
        full_shape[self._channel_axis] = channels
        full_shape[self._height_axis] = height
        full_shape[self._width_axis] = width
        low, high = self.value_range
        if self.fill_value == "random":
            fill = ops.random.uniform(full_shape, low, high, dtype=dtype, seed=seed)
        else:
            fill = ops.numpy.full(full_shape, min(max(float(self.fill_value), low), high), dtype=dtype)
        return {"mask": mask, "fill": fill}

    def transform_images(self, images, transformation, training=True):
        images = self.backend.cast(images, self.compute_dtype)
        if training and transformation is not None:
            images = self.backend.numpy.where(transformation["mask"], transformation["fill"], images)
        return images

    def transform_labels(self, labels, transformation, training=True):
        return labels

    def transform_bounding_boxes(self, bounding_boxes, transformation, training=True):
        return bounding_boxes

    def transform_segmentation_masks(self, segmentation_masks, transformation, training=True):
        return segmentation_masks

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            probability=self.probability,
            scale=list(self.scale),
            ratio=list(self.ratio),
            fill_value=self.fill_value,
            value_range=list(self.value_range),
            seed=self.seed,
        )
        return config
