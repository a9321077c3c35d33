"""Losses that Keras lacks: label smoothing for integer class ids."""

from __future__ import annotations

import numbers

import keras
from keras import ops

__all__ = ["SparseCategoricalCrossentropy", "check_label_smoothing"]


def check_label_smoothing(value) -> float:
    """``value`` as a float in [0, 1), or a ValueError naming ``label_smoothing``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(
            "Invalid value for argument `label_smoothing`. Expected a number in [0, 1) "
            f"(0.1 is usual; 0 turns it off). Received label_smoothing={value!r}."
        )
    return float(value)


@keras.saving.register_keras_serializable(package="keras_cnnlab")
class SparseCategoricalCrossentropy(keras.losses.Loss):
    """Crossentropy for integer class ids, with label smoothing.

    ``keras.losses.SparseCategoricalCrossentropy`` has no ``label_smoothing``; this
    loss one-hot encodes the ids inside the step and applies Keras's
    ``categorical_crossentropy`` with smoothing: the true class gets
    ``1 - label_smoothing + label_smoothing / num_classes``, every other class
    ``label_smoothing / num_classes``. With ``label_smoothing=0`` it equals Keras's
    sparse loss.

    Args:
        label_smoothing: in [0, 1).
        from_logits: whether the model outputs logits rather than probabilities.
        reduction: as for every Keras loss.
        name: the loss's name.
        dtype: the loss's computation dtype.

    Example:

    ```python
    model.compile("adam", loss=SparseCategoricalCrossentropy(label_smoothing=0.1))
    ```
    """

    def __init__(
        self,
        label_smoothing=0.0,
        from_logits=False,
        reduction="sum_over_batch_size",
        name="sparse_categorical_crossentropy",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.label_smoothing = check_label_smoothing(label_smoothing)
        self.from_logits = bool(from_logits)

    def call(self, y_true, y_pred):
        y_pred = ops.convert_to_tensor(y_pred)
        y_true = ops.convert_to_tensor(y_true)
        if len(y_true.shape) == len(y_pred.shape):
            y_true = ops.squeeze(y_true, axis=-1)
        one_hot = ops.one_hot(ops.cast(y_true, "int32"), ops.shape(y_pred)[-1], dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(
            one_hot, y_pred, from_logits=self.from_logits, label_smoothing=self.label_smoothing
        )

    def get_config(self):
        config = super().get_config()
        config.update(label_smoothing=self.label_smoothing, from_logits=self.from_logits)
        return config
