"""What MixUp and CutMix share: called on (images, labels), labels made one-hot and mixed.

Both mix each image of a batch with a partner from the same batch (a random
permutation) and mix the labels in the same proportion, so the labels must be
one-hot (or integer ids with ``num_classes`` given) and the loss must accept
soft targets: ``categorical_crossentropy``, not the sparse variant.
"""

from __future__ import annotations

import numbers

import keras

from keras_cnnlab._internals import BaseImagePreprocessingLayer

__all__ = ["LabelMixingLayer"]


class LabelMixingLayer(BaseImagePreprocessingLayer):
    """Base of :class:`MixUp` and :class:`CutMix`: call on ``(images, labels)``.

    ``layer(images, labels)`` and ``layer((images, labels))`` both return the
    pair ``(images, labels)``; a dict with ``"images"`` and ``"labels"`` returns
    a dict.

    Subclasses implement ``get_random_transformation``, returning at least
    ``permutation`` (the partner of each image) and ``weight`` (the share of each
    image that stays its own, per image), and ``mix_images``.
    """

    _USE_BASE_FACTOR = False

    def __init__(self, alpha, *, num_classes=None, seed=None, data_format=None, **kwargs):
        super().__init__(data_format=data_format, **kwargs)
        if (
            isinstance(alpha, bool)
            or not isinstance(alpha, numbers.Real)
            or not alpha > 0
            or alpha == float("inf")
        ):
            raise ValueError(
                "Invalid value for argument `alpha`. Expected a positive number (the "
                f"Beta(alpha, alpha) distribution of the mixing weight). Received alpha={alpha!r}."
            )
        if num_classes is not None and (
            isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2
        ):
            raise ValueError(
                "Invalid value for argument `num_classes`. Expected an integer >= 2, or None "
                f"for labels that are already one-hot. Received num_classes={num_classes!r}."
            )
        self.alpha = float(alpha)
        self.num_classes = num_classes
        self.seed = seed
        self.generator = keras.random.SeedGenerator(seed)
        if self.data_format == "channels_first":
            self._height_axis, self._width_axis, self._channel_axis = -2, -1, -3
        else:
            self._height_axis, self._width_axis, self._channel_axis = -3, -2, -1

    def __call__(self, images, labels=None, **kwargs):
        # ds.map(layer) calls layer(images, labels) on (images, labels) elements;
        # layer((images, labels)) is the same pair, as one argument.
        if labels is None and isinstance(images, (tuple, list)):
            if len(images) != 2:
                raise ValueError(
                    f"{type(self).__name__} expects a pair (images, labels). Received a "
                    f"{type(images).__name__} of {len(images)} items."
                )
            images, labels = images
        if isinstance(images, dict):
            if "labels" not in images:
                raise ValueError(self._no_labels_message())
            return super().__call__(dict(images), **kwargs)
        if labels is None:
            raise ValueError(self._no_labels_message())
        out = super().__call__({"images": images, "labels": labels}, **kwargs)
        return out["images"], out["labels"]

    def _no_labels_message(self):
        name = type(self).__name__
        return (
            f"{name} mixes labels as well as images, and received images only: call it as "
            f"`{name}(...)(images, labels)` or `{name}(...)((images, labels))`, map it over a "
            f"dataset of (image, label) pairs (`ds.batch(32).map({name}(...))`), or pass a "
            "dict with 'images' and 'labels'."
        )

    def _one_hot(self, labels):
        ops = self.backend
        shape = tuple(labels.shape)
        name = type(self).__name__
        ids = len(shape) == 1 or (len(shape) == 2 and shape[-1] == 1)
        if ids:
            if self.num_classes is None:
                raise ValueError(
                    f"{name} received integer class ids (labels of shape {shape}); mixing "
                    "needs one-hot labels. Pass num_classes=... to encode them, or one-hot "
                    "encode the labels (load_dataset(..., one_hot=True) or "
                    "keras.utils.to_categorical), and train with categorical_crossentropy."
                )
            labels = ops.numpy.reshape(labels, (-1,))
            return ops.nn.one_hot(ops.cast(labels, "int32"), self.num_classes, dtype=self.compute_dtype)
        if len(shape) != 2 or (self.num_classes and shape[-1] not in (None, self.num_classes)):
            expected = f"(batch, {self.num_classes})" if self.num_classes else "(batch, classes)"
            raise ValueError(
                f"{name} expects one-hot labels of shape {expected} or integer ids of shape "
                f"(batch,). Received labels of shape {shape}."
            )
        return ops.cast(labels, self.compute_dtype)

    def call(self, data, training=True):
        ops = self.backend
        images = ops.cast(ops.convert_to_tensor(data["images"]), self.compute_dtype)
        if len(images.shape) != 4:
            raise ValueError(
                f"{type(self).__name__} mixes images within a batch and expects a batch of "
                f"images (rank 4); received shape {tuple(images.shape)}. In tf.data, map it "
                "after .batch()."
            )
        labels = self._one_hot(ops.convert_to_tensor(data["labels"]))
        out = dict(data)
        if training:
            transformation = self.get_random_transformation(images, training=True)
            images = self.transform_images(images, transformation)
            labels = self.transform_labels(labels, transformation)
        out["images"], out["labels"] = images, labels
        return out

    def transform_images(self, images, transformation, training=True):
        if not training or transformation is None:
            return images
        partners = self.backend.numpy.take(images, transformation["permutation"], axis=0)
        return self.mix_images(images, partners, transformation)

    def mix_images(self, images, partners, transformation):
        raise NotImplementedError

    def transform_labels(self, labels, transformation, training=True):
        if not training or transformation is None:
            return labels
        ops = self.backend
        partners = ops.numpy.take(labels, transformation["permutation"], axis=0)
        weight = ops.cast(transformation["weight"], self.compute_dtype)[:, None]
        return weight * labels + (1.0 - weight) * partners

    def transform_bounding_boxes(self, bounding_boxes, transformation, training=True):
        raise NotImplementedError(f"{type(self).__name__} does not support bounding boxes.")

    def transform_segmentation_masks(self, segmentation_masks, transformation, training=True):
        raise NotImplementedError(f"{type(self).__name__} does not support segmentation masks.")

    def _permutation(self, batch, seed):
        ops = self.backend
        return ops.random.shuffle(ops.numpy.arange(batch, dtype="int32"), seed=seed)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(alpha=self.alpha, num_classes=self.num_classes, seed=self.seed)
        return config
