"""CutMix: paste a rectangle of one image into another, labels by area (Yun et al., 2019)."""

from __future__ import annotations

import keras

from keras_cnnlab.augment.mixing import LabelMixingLayer

__all__ = ["CutMix"]


@keras.saving.register_keras_serializable(package="keras_cnnlab")
class CutMix(LabelMixingLayer):
    """Paste a rectangle from a partner image of the batch; mix labels by pixel area.

    For each image a target share ``w ~ Beta(alpha, alpha)`` is drawn and a
    whole-pixel rectangle of about ``(1 - w)`` of the area, centred at a random
    pixel and clipped to the image, is copied from a partner image (a random
    permutation of the batch). The label weight is the share of pixels that
    actually stayed, counted after rounding and clipping, so labels match the
    pixels even on 8x8 images (``keras.layers.CutMix`` uses the unrounded box).
    The labels come out soft: train with ``categorical_crossentropy``.

    Call it on batches in the input pipeline, like :class:`MixUp`.

    Args:
        alpha: parameter of the Beta distribution of the share kept (1.0, the
            paper's choice, makes it uniform).
        num_classes: number of classes, to one-hot encode integer labels; ``None``
            when the labels are one-hot already.
        seed: integer seed.
        data_format: ``"channels_last"`` or ``"channels_first"``.
        **kwargs: base Layer arguments.

    Example:

    ```python
    ds = (tf.data.Dataset.from_tensor_slices((x_train, y_train))
          .shuffle(1024).batch(32).map(CutMix(num_classes=10, seed=0)))
    ```
    """

    def __init__(self, alpha=1.0, *, num_classes=None, seed=None, data_format=None, **kwargs):
        super().__init__(alpha, num_classes=num_classes, seed=seed, data_format=data_format, **kwargs)

    def get_random_transformation(self, data, training=True, seed=None):
        if not training:
            return None
        images = data["images"] if isinstance(data, dict) else data
        ops = self.backend
        shape = ops.shape(images)
        batch, height, width = shape[0], shape[self._height_axis], shape[self._width_axis]
        seed = seed or self._get_seed_generator(ops._backend)
        share = ops.random.beta((batch,), self.alpha, self.alpha, seed=seed, dtype="float32")
        centre = ops.random.uniform((batch, 2), dtype="float32", seed=seed)
        h_f, w_f = ops.cast(height, "float32"), ops.cast(width, "float32")
        side = ops.numpy.sqrt(1.0 - share)
        cut_h, cut_w = ops.numpy.round(side * h_f), ops.numpy.round(side * w_f)
        cy, cx = ops.numpy.floor(centre[:, 0] * h_f), ops.numpy.floor(centre[:, 1] * w_f)
        top = ops.numpy.clip(cy - ops.numpy.floor(cut_h / 2), 0.0, h_f)
        bottom = ops.numpy.clip(cy - ops.numpy.floor(cut_h / 2) + cut_h, 0.0, h_f)
        left = ops.numpy.clip(cx - ops.numpy.floor(cut_w / 2), 0.0, w_f)
        right = ops.numpy.clip(cx - ops.numpy.floor(cut_w / 2) + cut_w, 0.0, w_f)

        rows = ops.numpy.arange(height, dtype="float32")[None, :, None]
        cols = ops.numpy.arange(width, dtype="float32")[None, None, :]
        mask = (
            (rows >= top[:, None, None])
            & (rows < bottom[:, None, None])
            & (cols >= left[:, None, None])
            & (cols < right[:, None, None])
        )
        mask = ops.numpy.expand_dims(mask, self._channel_axis)
        # The box is whole pixels, so this is exactly the share of pixels kept.
        weight = 1.0 - (bottom - top) * (right - left) / (h_f * w_f)
        return {"permutation": self._permutation(batch, seed), "weight": weight, "mask": mask}

    def mix_images(self, images, partners, transformation):
        return self.backend.numpy.where(transformation["mask"], partners, images)
