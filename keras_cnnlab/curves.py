"""Training curves as numbers: metric direction, the train/validation gap, overfitting onset.

Pure Python (no Keras, no rich), the one home of these definitions: the
:class:`~keras_cnnlab.callbacks.OverfittingGapMonitor`, the training report,
:func:`~keras_cnnlab.plots.plot_history` and the tuning objective
:class:`~keras_cnnlab.tuning.GapPenalizedAccuracy` import them from here.

The gap of a metric is how much better it is on the training data than on the
validation data, so that a positive gap always means overfitting
(:func:`metric_gap`):

* for a metric to maximise (accuracy): ``gap = train - validation``;
* for a metric to minimise (loss): ``gap = validation - train``.

The onset of overfitting (:func:`find_overfitting_onset`) follows Prechelt,
"Early Stopping - But When?" (1998): the validation loss stays above its best
for ``patience`` epochs in a row while the training loss stays below its value
at that best epoch.
"""

from __future__ import annotations

import dataclasses
import math
import numbers

__all__ = ["OverfittingOnset", "find_overfitting_onset", "metric_direction", "metric_gap"]

_MAX_HINTS = ("acc", "auc", "precision", "recall", "f1", "fbeta", "iou", "r2", "top_k")
_MIN_HINTS = ("loss", "error", "crossentropy", "hinge", "mse", "mae", "mape", "msle", "poisson", "divergence")
# prefixes of the derived log keys: val_ (Keras), gap_ and train_eval_ (the gap monitor)
_PREFIXES = ("val_", "gap_", "train_eval_")


def _finite(value) -> bool:
    return isinstance(value, numbers.Real) and math.isfinite(value)


def metric_direction(name: str, model=None) -> str | None:
    """``"max"`` or ``"min"`` for a metric name, ``None`` when it cannot tell.

    Uses the ``_direction`` that Keras metrics carry when ``model`` is given
    (as Keras's EarlyStopping does), then the name: losses and errors are
    minimised, accuracies, AUC, precision, recall and F-scores maximised.
    The prefixes ``val_``, ``gap_`` and ``train_eval_`` are ignored.
    """
    base = name
    for prefix in _PREFIXES:
        base = base.removeprefix(prefix)
    if base == "loss" or base.endswith("_loss"):
        return "min"
    for metric in _model_metrics(model):
        if getattr(metric, "name", None) == base and getattr(metric, "_direction", None) in ("up", "down"):
            return "max" if metric._direction == "up" else "min"
    lowered = base.lower()
    if any(hint in lowered for hint in _MIN_HINTS):
        return "min"
    if any(hint in lowered for hint in _MAX_HINTS):
        return "max"
    return None


def _model_metrics(model) -> list:
    if model is None:
        return []
    found = []
    try:
        for metric in model.metrics:
            inner = getattr(metric, "metrics", None)
            found.extend(inner if isinstance(inner, (list, tuple)) else [metric])
    except Exception:  # a model that is not built yet has no metrics to read
        return []
    return found


def metric_gap(train, val, direction: str | None) -> float | None:
    """The gap of a metric: positive when the model does better on the training data.

    ``train - val`` for a metric to maximise (``direction="max"``), ``val - train``
    for one to minimise (``"min"``); ``None`` when either figure or the
    direction is missing. NaN and infinities pass through.

    Example:
        >>> metric_gap(0.75, 0.5, "max"), metric_gap(0.25, 0.5, "min")
        (0.25, 0.25)
    """
    if train is None or val is None or direction is None:
        return None
    return train - val if direction == "max" else val - train


@dataclasses.dataclass(frozen=True)
class OverfittingOnset:
    """Where overfitting began, with the figures that show it.

    Epochs are 0-based, as in Keras callbacks; ``describe()`` prints them 1-based.

    Attributes:
        epoch: first epoch of the run in which validation loss stayed above its
            best while training loss stayed below its value at that best.
        detected_at: the epoch at which the run reached ``patience`` epochs.
        best_epoch: epoch of the best validation loss before the onset.
        best_val_loss: that best validation loss.
        val_loss: validation loss at ``detected_at``.
        train_loss_at_best: training loss at ``best_epoch``.
        train_loss: training loss at ``detected_at``.
        generalization_loss: Prechelt's GL at ``detected_at``, in percent.
    """

    epoch: int
    detected_at: int
    best_epoch: int
    best_val_loss: float
    val_loss: float
    train_loss_at_best: float
    train_loss: float
    generalization_loss: float

    def describe(self) -> str:
        """One sentence with the epochs (1-based) and the figures."""
        return (
            f"overfitting from epoch {self.epoch + 1}: val_loss rose from {self.best_val_loss:.4f} "
            f"(epoch {self.best_epoch + 1}) to {self.val_loss:.4f} (epoch {self.detected_at + 1}, "
            f"GL {self.generalization_loss:.1f}%) while loss fell from "
            f"{self.train_loss_at_best:.4f} to {self.train_loss:.4f}"
        )


def find_overfitting_onset(
    loss, val_loss, *, patience: int = 3, min_delta: float = 0.0, start_from_epoch: int = 0
) -> OverfittingOnset | None:
    """Find the onset of overfitting in training and validation loss curves.

    The criterion, after Prechelt's generalisation loss: an epoch counts as
    overfitting when its validation loss is above the best validation loss so
    far by more than ``min_delta`` while its training loss is below the training
    loss of that best epoch. ``patience`` such epochs in a row declare the
    onset, dated to the first of them. An epoch that improves the best
    validation loss by more than ``min_delta``, or that does not count, restarts
    the run. Epochs before ``start_from_epoch`` and epochs with a non-finite
    loss are skipped.

    Args:
        loss: training loss per epoch.
        val_loss: validation loss per epoch, same length.
        patience: epochs in a row needed (at least 1).
        min_delta: change in validation loss below which it counts as flat.
        start_from_epoch: first epoch (0-based) to consider.

    Returns:
        An :class:`OverfittingOnset`, or ``None`` when the curves show none.

    Example:
        >>> onset = find_overfitting_onset([1.0, .8, .6, .5, .4, .3], [1.0, .9, .95, 1.0, 1.1, 1.2])
        >>> onset.epoch, onset.detected_at, onset.best_epoch
        (2, 4, 1)
    """
    loss, val_loss = list(loss), list(val_loss)
    if len(loss) != len(val_loss):
        raise ValueError(
            "Arguments `loss` and `val_loss` must have one value per epoch each. "
            f"Received {len(loss)} and {len(val_loss)} values."
        )
    if isinstance(patience, bool) or not isinstance(patience, numbers.Integral) or patience < 1:
        raise ValueError(
            "Invalid value for argument `patience`. Expected an integer >= 1. "
            f"Received patience={patience!r}."
        )
    best = best_epoch = run_start = None
    run = 0
    for t, (tl, vl) in enumerate(zip(loss, val_loss)):
        if t < start_from_epoch:
            continue
        if not (_finite(tl) and _finite(vl)):
            run = 0
            continue
        if best is None or vl < best - min_delta:
            best, best_epoch, run = vl, t, 0
            continue
        if vl > best + min_delta and tl < loss[best_epoch]:
            run += 1
            if run == 1:
                run_start = t
            if run >= patience:
                return OverfittingOnset(
                    epoch=run_start,
                    detected_at=t,
                    best_epoch=best_epoch,
                    best_val_loss=float(best),
                    val_loss=float(vl),
                    train_loss_at_best=float(loss[best_epoch]),
                    train_loss=float(tl),
                    generalization_loss=100.0 * (vl / best - 1.0) if best > 0 else math.inf,
                )
        else:
            run = 0
    return None
