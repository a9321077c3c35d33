"""Training curves: train against validation, the gap shaded, the onset marked.

Needs matplotlib, the ``plot`` extra: ``pip install 'keras-cnnlab[plot]'``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from pathlib import Path

from keras_cnnlab.curves import find_overfitting_onset, metric_direction, metric_gap

__all__ = ["plot_history"]

_INSTALL_HINT = "plot_history needs matplotlib: pip install 'keras-cnnlab[plot]'"


def _matplotlib():
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(_INSTALL_HINT) from error
    return Figure, FigureCanvasAgg


def _history_dict(history) -> dict[str, list[float]]:
    logs = getattr(history, "history", history)
    if not isinstance(logs, Mapping):
        raise ValueError(
            "Invalid value for argument `history`. Expected the History returned by `fit` "
            f"or its `.history` dict. Received history of type {type(history).__name__}."
        )
    series = {}
    for key, values in logs.items():
        if isinstance(values, Sequence) and not isinstance(values, str):
            if all(isinstance(v, numbers.Real) for v in values):
                series[str(key)] = [float(v) for v in values]
    if not any(series.values()):
        raise ValueError(
            "Invalid value for argument `history`: it holds no per-epoch numbers. Pass the History "
            f"of a fit that ran at least one epoch. Received keys {sorted(logs)}."
        )
    return series


def plot_history(
    history,
    path: str | Path | None = "curves.png",
    *,
    metrics: Sequence[str] = ("accuracy", "loss"),
    onset="auto",
    patience: int = 3,
    min_delta: float = 0.0,
    title: str | None = None,
    dpi: int = 120,
):
    """Plot training against validation curves, shade the gap, mark the onset.

    One panel per metric, epochs 1-based on the x axis. Between the training
    and validation curves the gap is shaded: red where the model does better on
    the training data (overfitting), grey where it does not. The overfitting
    onset is marked with a vertical line. When the history holds the
    ``train_eval_*`` figures of an unbiased :class:`OverfittingGapMonitor`, the
    training curve and the gap use them, and the running average Keras logs is
    drawn dotted.

    Args:
        history: the ``History`` returned by ``fit``, or its ``.history`` dict.
        path: where to save the picture (format from the suffix); ``None`` to
            only return the figure.
        metrics: the metrics to plot, one panel each; those missing from the
            history are skipped.
        onset: the onset epoch (0-based) to mark; ``"auto"`` finds it in the
            losses with :func:`~keras_cnnlab.curves.find_overfitting_onset`
            (``patience``, ``min_delta``); an ``OverfittingOnset`` or an
            ``OverfittingGapMonitor`` gives theirs; ``None`` marks nothing.
        patience: see :func:`~keras_cnnlab.curves.find_overfitting_onset`.
        min_delta: see :func:`~keras_cnnlab.curves.find_overfitting_onset`.
        title: a title above the panels.
        dpi: resolution of the saved picture.

    Returns:
        The matplotlib ``Figure``.

    Example:
        >>> # history = model.fit(x, y, validation_data=(xv, yv), epochs=20)
        >>> # plot_history(history, "curves.png")
    """
    Figure, FigureCanvasAgg = _matplotlib()
    series = _history_dict(history)
    if isinstance(metrics, str):
        metrics = [metrics]
    shown = [m for m in metrics if m in series]
    if not shown:
        raise ValueError(
            f"Invalid value for argument `metrics`: none of {list(metrics)} is in the history. "
            f"Available: {sorted(k for k in series if not k.startswith(('val_', 'gap_')))}."
        )
    onset_epoch = _onset_epoch(onset, series, patience, min_delta, find_overfitting_onset)

    fig = Figure(figsize=(5.2 * len(shown), 3.8), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, len(shown), squeeze=False)[0]
    for ax, name in zip(axes, shown):
        train = series[name]
        epochs = list(range(1, len(train) + 1))
        unbiased = series.get(f"train_eval_{name}")
        if unbiased is not None and len(unbiased) == len(train):
            # The gap monitor's inference-mode figures: the running average stays, dotted.
            ax.plot(epochs, train, linestyle=":", linewidth=1, color="tab:blue",
                    label=f"train {name} (running, as logged)")
            train = unbiased
            ax.plot(epochs, train, marker="o", markersize=3, color="tab:blue",
                    label=f"train {name} (inference mode)")
        else:
            ax.plot(epochs, train, marker="o", markersize=3, label=f"train {name}", color="tab:blue")
        val = series.get(f"val_{name}")
        if val is not None and len(val) == len(train):
            ax.plot(epochs, val, marker="o", markersize=3, label=f"validation {name}", color="tab:orange")
            direction = metric_direction(name) or "min"
            overfit = [  # a positive gap: better on the training data
                _finite(t) and _finite(v) and metric_gap(t, v, direction) > 0
                for t, v in zip(train, val)
            ]
            ax.fill_between(epochs, train, val, where=overfit, interpolate=True, color="tab:red",
                            alpha=0.18, label="gap (train better)")
            ax.fill_between(epochs, train, val, where=[not o for o in overfit], interpolate=True,
                            color="0.6", alpha=0.15)
        if onset_epoch is not None and onset_epoch < len(train):
            ax.axvline(onset_epoch + 1, color="tab:red", linestyle="--", linewidth=1.2,
                       label=f"overfitting onset (epoch {onset_epoch + 1})")
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.set_title(name)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    if path is not None:
        fig.savefig(Path(path), dpi=dpi)
    return fig


def _finite(value) -> bool:
    return math.isfinite(value)


def _onset_epoch(onset, series, patience, min_delta, find_onset):
    if onset is None:
        return None
    if isinstance(onset, str):
        if onset != "auto":
            raise ValueError(
                "Invalid value for argument `onset`. Expected 'auto', None, an epoch number, an "
                f"OverfittingOnset or an OverfittingGapMonitor. Received onset={onset!r}."
            )
        loss, val_loss = series.get("loss"), series.get("val_loss")
        if loss is None or val_loss is None or len(loss) != len(val_loss):
            return None
        found = find_onset(loss, val_loss, patience=patience, min_delta=min_delta)
        return None if found is None else found.epoch
    if hasattr(onset, "onset") and not hasattr(onset, "detected_at"):  # a gap monitor
        onset = onset.onset
        if onset is None:
            return None
    if hasattr(onset, "detected_at"):
        return onset.epoch
    if isinstance(onset, numbers.Integral) and not isinstance(onset, bool) and onset >= 0:
        return int(onset)
    raise ValueError(
        "Invalid value for argument `onset`. Expected 'auto', None, an epoch number, an "
        f"OverfittingOnset or an OverfittingGapMonitor. Received onset={onset!r}."
    )
