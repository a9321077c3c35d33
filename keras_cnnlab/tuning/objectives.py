"""A gap-aware tuning objective: validation accuracy penalised by overfitting."""

from __future__ import annotations

import numbers

import keras

from keras_cnnlab.curves import metric_direction, metric_gap

__all__ = ["GapPenalizedAccuracy", "gap_objective", "gap_metric_name"]


def gap_metric_name(metric: str = "accuracy") -> str:
    """The log key :class:`GapPenalizedAccuracy` writes: ``val_<metric>_minus_gap``."""
    return f"val_{metric}_minus_gap"


class GapPenalizedAccuracy(keras.callbacks.Callback):
    """Adds ``val_accuracy_minus_gap`` to each epoch's logs, for a gap-aware objective.

    ``val_accuracy_minus_gap = val_accuracy - penalty * max(0, gap_accuracy)``:
    a configuration that fits the training set much better than the validation
    set scores lower than one with the same validation accuracy and no gap.
    The gap is the :class:`~keras_cnnlab.callbacks.OverfittingGapMonitor`'s
    ``gap_accuracy`` when a monitor of that metric runs in the same ``fit``
    before this callback (it has written it into the epoch's logs; with
    ``unbiased_subset`` it is the inference-mode gap), else the gap of
    :func:`keras_cnnlab.curves.metric_gap` from the logged figures,
    ``accuracy - val_accuracy``. Nothing is written when the validation figure
    is missing from the logs (e.g. no validation data), or when neither gap can
    be had.

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
        val = logs.get(f"val_{self.metric}")
        if val is None:
            return
        val = float(val)
        gap = logs.get(f"gap_{self.metric}")  # the gap monitor's, when it ran before this callback
        if gap is None:
            train = logs.get(self.metric)
            if train is None:
                return
            # a metric whose direction the name does not tell is taken as one to maximise
            direction = metric_direction(self.metric, self._model) or "max"
            gap = metric_gap(float(train), val, direction)
        logs[self.key] = val - self.penalty * max(0.0, float(gap))


def gap_objective(metric: str = "accuracy"):
    """The KerasTuner objective that maximises ``val_<metric>_minus_gap``.

    The metric is written by :class:`GapPenalizedAccuracy`: give a
    CNNHyperModel ``gap_penalty=1.0`` (or another weight) with this objective,
    or pass the callback to ``search()`` with your own build function.
    """
    import keras_tuner

    return keras_tuner.Objective(gap_metric_name(metric), direction="max")
