"""MixUp: blend pairs of images and their labels (Zhang et al., 2018)."""

from __future__ import annotations

import keras

from keras_cnnlab.augment.mixing import LabelMixingLayer

__all__ = ["MixUp"]


@keras.saving.register_keras_serializable(package="keras_cnnlab")
class MixUp(LabelMixingLayer):
    """Blend each image with a partner from its batch, and the labels alike.

    Image ``i`` becomes ``w * x[i] + (1 - w) * x[j]`` and its label
    ``w * y[i] + (1 - w) * y[j]``, with ``j`` a random permutation of the batch
    and ``w ~ Beta(alpha, alpha)`` drawn per image. The labels come out soft, so
    train with ``categorical_crossentropy`` (one-hot targets), never the sparse
    loss; integer labels are one-hot encoded when ``num_classes`` is given.

    Call it on batches in the input pipeline: ``ds.batch(32).map(MixUp(...))``
    on a ``tf.data`` dataset of ``(image, label)`` pairs (any backend), or
    ``images, labels = mix(images, labels)`` on arrays. Identity at
    ``training=False`` (labels still one-hot encoded).

    Args:
        alpha: parameter of the Beta distribution of the weights; small values
            (0.1-0.4) keep most images nearly intact.
        num_classes: number of classes, to one-hot encode integer labels; ``None``
            when the labels are one-hot already.
        seed: integer seed.
        data_format: ``"channels_last"`` or ``"channels_first"``.
        **kwargs: base Layer arguments.

    Example:

    ```python
    data = load_dataset("digits", one_hot=True)
    ds = (tf.data.Dataset.from_tensor_slices((data.x_train, data.y_train))
          .shuffle(1024).batch(32).map(MixUp(alpha=0.2, seed=0)))
    model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    model.fit(ds, epochs=10)
    ```
    """

    def __init__(self, alpha=0.2, *, num_classes=None, seed=None, data_format=None, **kwargs):
        super().__init__(alpha, num_classes=num_classes, seed=seed, data_format=data_format, **kwargs)

    def get_random_transformation(self, data, training=True, seed=None):
        if not training:
            return None
        images = data["images"] if isinstance(data, dict) else data
        ops = self.backend
        batch = ops.shape(images)[0]
        seed = seed or self._get_seed_generator(ops._backend)
        weight = ops.random.beta((batch,), self.alpha, self.alpha, seed=seed, dtype="float32")
        return {"permutation": self._permutation(batch, seed), "weight": weight}

    def mix_images(self, images, partners, transformation):
        weight = self.backend.cast(transformation["weight"], self.compute_dtype)[:, None, None, None]
        return weight * images + (1.0 - weight) * partners
