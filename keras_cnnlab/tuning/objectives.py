"""A gap-aware tuning objective: validation accuracy penalised by overfitting."""

from __future__ import annotations

import numbers

import keras

__all__ = ["GapPenalizedAccuracy", "gap_objective", "gap_metric_name"]


def gap_metric_name(metric: str = "accuracy") -> str:
    """The log key :class:`GapPenalizedAccuracy` writes: ``val_<metric>_minus_gap``."""
    return f"val_{metric}_minus_gap"


class GapPenalizedAccuracy(keras.callbacks.Callback):
    """Adds ``val_accuracy_minus_gap`` to each epoch's logs, for a gap-aware objective.

    ``val_accuracy_minus_gap = val_accuracy - penalty * max(0, accuracy - val_accuracy)``:
    a configuration that fits the training set much better than the validation
    set scores lower than one with the same validation accuracy and no gap.
    Nothing is written when either accuracy is missing from the logs (e.g. no
    validation data).

    CNNHyperModel adds this callback to every trial only when asked:
    ``CNNHyperModel(..., gap_penalty=1.0)``, so a tuner can optimise it with
    ``objective=gap_objective()`` (its default ``gap_penalty=None`` adds
    nothing, and that objective without it is an error). With your own build
    function, pass it to ``search(callbacks=[GapPenalizedAccuracy()])``.

    Args:
        penalty: weight of the gap, ``>= 0`` (``0`` gives plain validation accuracy).
        metric: the compiled metric whose train/validation gap is penalised.

    Example:

    ```python
    hypermodel = CNNHyperModel((8, 8, 1), 10, gap_penalty=1.0)
    tuner = keras_tuner.RandomSearch(hypermodel, objective=gap_objective())
    ```
    """

    def __init__(self, penalty: float = 1.0, *, metric: str = "accuracy"):
        super().__init__()
        if isinstance(penalty, bool) or not isinstance(penalty, numbers.Real) or penalty < 0:
            raise ValueError(
                "Invalid value for argument `penalty`. Expected a number >= 0. "
                f"Received penalty={penalty!r}."
            )
        if not isinstance(metric, str) or not metric:
            raise ValueError(
                f"Invalid value for argument `metric`. Expected a metric name such as "
                f"'accuracy'. Received metric={metric!r}."
            )
        self.penalty = float(penalty)
        self.metric = metric
        self.key = gap_metric_name(metric)

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        train = logs.get(self.metric)
        val = logs.get(f"val_{self.metric}")
        if train is None or val is None:
            return
        train, val = float(train), float(val)
        logs[self.key] = val - self.penalty * max(0.0, train - val)


def gap_objective(metric: str = "accuracy"):
    """The KerasTuner objective that maximises ``val_<metric>_minus_gap``.

    The metric is written by :class:`GapPenalizedAccuracy`: give a
    CNNHyperModel ``gap_penalty=1.0`` (or another weight) with this objective,
    or pass the callback to ``search()`` with your own build function.
    """
    import keras_tuner

    return keras_tuner.Objective(gap_metric_name(metric), direction="max")
