"""The gap monitor's state and decisions: one fit's gaps, best epoch, onset and verdict.

Plain Python on the epoch logs, with no model and no console: the
:class:`~keras_cnnlab.callbacks.OverfittingGapMonitor` (``gap_monitor.py``)
feeds a :class:`GapRun` each epoch and acts on what it finds (prints it,
stops training, takes or restores weights). The curve logic itself (the gap's
sign, the onset criterion) is :mod:`keras_cnnlab.curves`.
"""

from __future__ import annotations

import dataclasses
import math
import numbers

import numpy as np

from keras_cnnlab.curves import find_overfitting_onset, metric_gap

__all__ = ["GapRun", "number", "finite", "draw_subset"]


def finite(value) -> bool:
    return isinstance(value, numbers.Real) and math.isfinite(value)


def number(value) -> float | None:
    """``value`` as a float when it is a real number (not a bool), else ``None``."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    return None


class GapRun:
    """State of one fit of the gap monitor; a new one per ``on_train_begin``.

    Args:
        monitor: the tracked metric, as logged for the training data.
        max_gap: gap above which, for ``patience`` epochs, overfitting is declared; ``None``: never.
        patience: epochs in a row both criteria need.
        min_delta: change below which the validation loss or metric counts as no change.
        start_from_epoch: the first epoch judged.
    """

    def __init__(self, monitor="accuracy", max_gap=0.1, patience=3, min_delta=0.0, start_from_epoch=0):
        self.monitor, self.max_gap, self.patience = monitor, max_gap, patience
        self.min_delta, self.start_from_epoch = float(min_delta), start_from_epoch
        self.history: dict[str, list[float]] = {}
        self.train_key = None
        self.val_key = None
        self.mode = None
        self.resolved = False
        self.onset = None
        self.recovered = None  # (epoch, val_loss) once val_loss falls below its best before the onset
        self.gap_exceeded_epoch = None
        self.gap_run = 0  # judged epochs in a row with the gap above max_gap
        self.gap_epochs_above = 0
        self.diverged_epoch = None
        self.divergence = None
        self.best_epoch = None
        self.best_value = None
        self.best_weights = None
        self.stopped_epoch = None
        self.restored_epoch = None
        self.messages: list[str] = []
        self.announced: set[str] = set()
        self.subset = None
        self.last_epoch = None
        # this fit's epochs and the losses the onset criterion reads
        self.epochs: list[int] = []
        self.train_loss: list[float] = []
        self.val_loss: list[float] = []

    @property
    def gap_key(self) -> str:
        return f"gap_{self.monitor}"

    # -- the logs -------------------------------------------------------------------

    def resolve(self, logs, mode, direction_of) -> str | None:
        """Find the logged keys of the metric in the first epoch's ``logs``; a warning when it cannot.

        ``mode`` is the monitor's (``"auto"`` infers it with ``direction_of(key)``).
        """
        self.resolved = True
        if "val_loss" not in logs:
            return ("the epoch logs have no validation figures, so there is no gap to track. "
                    "Pass validation_data=(x_val, y_val) or validation_split= to fit.")
        if self.monitor == "loss":
            self.train_key, self.val_key, self.mode = "loss", "val_loss", "min"
            return None
        train_keys = [k for k in logs if not k.startswith(("val_", "gap_", "train_eval_"))]
        candidates = [self.monitor] + sorted(k for k in train_keys if k.endswith("_" + self.monitor))
        key = next((k for k in candidates if k in logs and f"val_{k}" in logs), None)
        if key is None:
            return (f"metric {self.monitor!r} (with val_{self.monitor}) is not in the epoch logs "
                    f"(available: {', '.join(sorted(logs)) or 'none'}); only gap_loss is tracked. "
                    "Compile with metrics=[...] including it and pass validation data, or set "
                    "monitor= to a logged name.")
        direction = mode if mode != "auto" else direction_of(key)
        if direction is None:
            return (f"cannot tell whether {key!r} is better high or low; pass mode='max' or "
                    f"mode='min'. Only gap_loss is tracked.")
        self.train_key, self.val_key, self.mode = key, f"val_{key}", direction
        return None

    def record(self, logs, key, value) -> None:
        """Write ``value`` into the epoch's ``logs`` as ``key`` and keep it; ``None`` is skipped."""
        if value is None:
            return
        logs[key] = value
        self.history.setdefault(key, []).append(value)

    def add_gaps(self, epoch, logs):
        """Write this epoch's ``gap_*`` into ``logs``; return ``(gap, validation value)`` of the metric."""
        self.last_epoch = epoch
        train_prefix = "train_eval_" if self.subset is not None else ""
        loss = number(logs.get(f"{train_prefix}loss"))
        val_loss = number(logs.get("val_loss"))
        self.epochs.append(epoch)
        self.train_loss.append(math.nan if loss is None else loss)
        self.val_loss.append(math.nan if val_loss is None else val_loss)
        self.record(logs, "gap_loss", metric_gap(loss, val_loss, "min"))
        if self.monitor == "loss":
            return metric_gap(loss, val_loss, "min"), val_loss
        if self.train_key is None:
            return None, None
        train_value = number(logs.get(train_prefix + self.train_key))
        val_value = number(logs.get(self.val_key))
        gap = metric_gap(train_value, val_value, self.mode)
        self.record(logs, self.gap_key, gap)
        return gap, val_value

    # -- the criteria ---------------------------------------------------------------

    def check_divergence(self, epoch, logs) -> str | None:
        """The finding when a loss or metric became NaN or infinite at ``epoch`` (once)."""
        if self.diverged_epoch is not None:
            return None
        keys = ["loss", "val_loss"]
        if self.train_key:
            keys += [self.train_key, self.val_key]
        bad = [(k, logs[k]) for k in keys if k in logs and number(logs[k]) is not None
               and not math.isfinite(logs[k])]
        if not bad:
            return None
        self.diverged_epoch = epoch
        self.divergence = ", ".join(f"{k} = {v}" for k, v in bad)
        return f"epoch {epoch + 1}: training diverged ({self.divergence})"

    def track_best(self, epoch, value) -> bool:
        """Whether ``value`` (the validation metric) is a new best, by more than ``min_delta``."""
        if not finite(value) or self.mode is None:
            return False
        improved = self.best_value is None or (
            value > self.best_value + self.min_delta if self.mode == "max"
            else value < self.best_value - self.min_delta
        )
        if improved:
            self.best_value, self.best_epoch = float(value), epoch
        return improved

    def check_onset(self) -> str | None:
        """The onset of overfitting by Prechelt's criterion, once it is found (as a sentence)."""
        if self.onset is not None:
            return None
        # Indices into this fit's lists, mapped back to epochs (fit may start at initial_epoch).
        first = next((i for i, e in enumerate(self.epochs) if e >= self.start_from_epoch), None)
        if first is None:
            return None
        onset = find_overfitting_onset(
            self.train_loss, self.val_loss, patience=self.patience, min_delta=self.min_delta,
            start_from_epoch=first,
        )
        if onset is None:
            return None
        self.onset = dataclasses.replace(
            onset,
            epoch=self.epochs[onset.epoch],
            detected_at=self.epochs[onset.detected_at],
            best_epoch=self.epochs[onset.best_epoch],
        )
        return self.onset.describe()

    def check_recovery(self, epoch) -> str | None:
        """The finding when, after the onset, val_loss falls below its best before it (once).

        The onset stays on record (it happened), qualified: the rise was temporary.
        """
        onset, val_loss = self.onset, self.val_loss[-1] if self.val_loss else math.nan
        if onset is None or self.recovered is not None or not finite(val_loss):
            return None
        if not val_loss < onset.best_val_loss - self.min_delta:
            return None
        self.recovered = (epoch, val_loss)
        return (f"epoch {epoch + 1}: val_loss {val_loss:.4f} is below its best before the onset ({onset.best_val_loss:.4f}, "
                f"epoch {onset.best_epoch + 1}): the rise from epoch {onset.epoch + 1} was temporary")

    def check_gap(self, epoch, gap) -> str | None:
        """The finding when the gap has stayed above ``max_gap`` for ``patience`` epochs (once)."""
        if self.max_gap is None or self.gap_exceeded_epoch is not None:
            return None
        if not (finite(gap) and gap > self.max_gap):
            self.gap_run = 0
            return None
        self.gap_run += 1
        self.gap_epochs_above += 1
        if self.gap_run < self.patience:
            return None
        self.gap_exceeded_epoch = epoch - self.patience + 1
        return (f"{self.gap_key} {gap:.4f} above max_gap {self.max_gap:g} for "
                f"{_epochs(self.patience)} (since epoch {self.gap_exceeded_epoch + 1})")

    def judge(self, epoch, gap) -> list[str]:
        """The findings of both criteria at ``epoch`` (none before ``start_from_epoch`` or after divergence)."""
        if epoch < self.start_from_epoch or self.diverged_epoch is not None:
            return []
        findings = [self.check_onset(), self.check_gap(epoch, gap)]
        return [f"epoch {epoch + 1}: {f}" for f in findings if f is not None]

    def stop(self, epoch) -> None:
        if self.stopped_epoch is None:
            self.stopped_epoch = epoch

    # -- the verdict ----------------------------------------------------------------

    def verdict(self) -> str:
        """One sentence on the fit: divergence, overfitting, or none."""
        parts = []
        if self.diverged_epoch is not None:
            parts.append(f"diverged at epoch {self.diverged_epoch + 1} ({self.divergence})")
        if self.onset is not None:
            parts.append(self.onset.describe() + self._recovery())
        if self.gap_exceeded_epoch is not None:
            parts.append(
                f"{self.gap_key} above max_gap {self.max_gap:g} from epoch "
                f"{self.gap_exceeded_epoch + 1} for {_epochs(self.patience)}"
            )
        if not parts:
            if self.last_epoch is None:
                return "no epochs seen"
            return "no overfitting detected" + self._gap_standing()
        if self.stopped_epoch is not None:
            parts.append(f"training stopped at epoch {self.stopped_epoch + 1}")
        if self.restored_epoch is not None:
            parts.append(f"weights restored from epoch {self.restored_epoch + 1}")
        elif self.stopped_epoch is not None and self.best_weights is not None:
            parts.append(f"weights of epoch {self.best_epoch + 1} restored at the end of training")
        return "; ".join(parts)

    def _recovery(self) -> str:
        if self.recovered is None:
            return ""
        epoch, val_loss = self.recovered
        return (f", a rise that passed: val_loss fell to {val_loss:.4f} at epoch {epoch + 1}, "
                f"below its best before the onset")

    def _gap_standing(self) -> str:
        """The final gap, and how near the gap criterion came, for a verdict of no overfitting."""
        key = self.gap_key if self.history.get(self.gap_key) else "gap_loss"
        final = self.history.get(key)
        if not final:
            return ""
        figure = f"final {key} {final[-1]:.4f}"
        if self.max_gap is None or key != self.gap_key:
            return f" ({figure})"
        if self.gap_run:  # above max_gap now, for fewer epochs than patience
            short = self.patience - self.gap_run
            return (
                f" yet: {self.gap_key} above max_gap {self.max_gap:g} in the last {self.gap_run} "
                f"epoch(s), {short} short of patience {self.patience} ({figure})"
            )
        if self.gap_epochs_above:
            return (
                f" ({figure}, within max_gap {self.max_gap:g}; above it in {self.gap_epochs_above} "
                f"epoch(s), never {self.patience} in a row)"
            )
        return f" ({figure}, within max_gap {self.max_gap:g})"


def draw_subset(train_data, size, seed):
    """A fixed random subset of ``size`` examples of ``train_data`` (``(x, y[, w])``), drawn with ``seed``."""
    x, y, *rest = train_data
    w = rest[0] if rest else None
    n = len(x)
    rng = np.random.default_rng(seed)
    index = np.sort(rng.choice(n, size=min(size, n), replace=False))

    def take(part):
        return None if part is None else np.asarray(part)[index]

    return take(x), take(y), take(w)


def _epochs(count: int) -> str:
    return f"{count} epoch{'s' if count != 1 else ''}"
