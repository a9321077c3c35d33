"""The training report's state and records: one fit's run, its epoch records, its summary.

Plain data and the rules that fill it, with no console and no Keras hook: the
:class:`~keras_cnnlab.callbacks.RichTrainingReport` (``report.py``) feeds a
:class:`ReportRun` from its hooks, and the renderers (``report_render.py``)
draw it. Everything here can be built and checked without a ``fit``.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import threading
import time
import warnings

from keras_cnnlab import _internals
from keras_cnnlab.curves import metric_direction
from keras_cnnlab.display.formatting import general_number

__all__ = [
    "EpochRecord",
    "TrainingSummary",
    "ReportRun",
    "batch_geometry",
    "choose_monitor",
    "search_objective",
    "trial_header",
    "log_base",
]

PREFIXES = ("val_", "train_eval_", "gap_")
LR_KEYS = ("learning_rate", "lr")
# Log keys of derived tuning objectives (GapPenalizedAccuracy's val_accuracy_minus_gap):
# they repeat figures the table has, so they are shown only when they pick the best epoch.
DERIVED_SUFFIXES = ("_minus_gap",)


@dataclasses.dataclass(frozen=True)
class EpochRecord:
    """One row of the epoch table.

    Attributes:
        epoch: the epoch, 0-based as in Keras callbacks.
        logs: the epoch's numeric logs (losses, metrics, ``val_*``, ``gap_*``).
        seconds: wall time of the epoch, validation included.
        train_seconds: wall time of the training steps alone.
        steps: training steps run.
        images: training images seen, when the batch size is known.
        learning_rate: the optimizer's learning rate at the end of the epoch.
    """

    epoch: int
    logs: dict
    seconds: float
    train_seconds: float
    steps: int
    images: int | None
    learning_rate: float | None

    @property
    def images_per_second(self) -> float | None:
        """Training throughput of the epoch (validation excluded); ``None`` without images."""
        if not self.images or self.train_seconds <= 0:
            return None
        return self.images / self.train_seconds


@dataclasses.dataclass(frozen=True)
class TrainingSummary:
    """The closing summary of a fit, as figures.

    Attributes:
        epochs: epochs run.
        first_epoch: the first of them, 0-based (above 0 when the fit resumed,
            with ``initial_epoch`` or ``keras.callbacks.BackupAndRestore``).
        monitor: the log key that chose the best epoch.
        best_epoch: the best epoch, 0-based.
        best_value: the value of ``monitor`` at the best epoch.
        final_logs: the logs of the last epoch.
        final_gaps: the ``gap_*`` entries of the last epoch.
        verdict: the gap monitor's verdict, when one was attached.
        seconds: wall time from the start of training to its end.
        train_seconds: time spent in training steps.
        images: training images seen, when the batch size is known.
        images_per_second: ``images / train_seconds``.
        trial: the KerasTuner trial header, inside a search.
    """

    epochs: int
    first_epoch: int
    monitor: str | None
    best_epoch: int | None
    best_value: float | None
    final_logs: dict
    final_gaps: dict
    verdict: str | None
    seconds: float
    train_seconds: float
    images: int | None
    images_per_second: float | None
    trial: str | None


class ReportRun:
    """State of one fit: where it is, its records and its best epoch; a new one per ``on_train_begin``.

    The hooks write the counters (``step``, ``val_step``, ``phase``...); an
    epoch that ended waits in ``pending`` until :meth:`complete_epoch` turns
    it into an :class:`EpochRecord`, so that the callbacks after the report
    have written their figures into the same logs.
    """

    def __init__(self):
        self.in_fit = False
        self.mode = "plain"
        self.display = None
        self.epochs = None
        self.steps = None
        self.batch_size = None
        self.num_batches = None
        self.partial_batch = None
        self.trial = None
        self.objective = None  # (name, direction) of the KerasTuner search running this fit
        self.gap_monitor = None  # the OverfittingGapMonitor of this fit's model, held for summary()
        self.start = time.perf_counter()
        self.end = None
        self.epoch = None
        self.epoch_start = None
        self.val_start = None
        self.phase = "starting"
        self.interrupted = None  # where fit raised, when it did
        self.ctrl_c = False  # it raised on Ctrl-C, as far as the display knows
        self.step = 0
        self.val_step = 0
        self.batch_logs = None
        # Keras runs batch hooks on a thread pool on some backends, in no fixed order.
        self.lock = threading.Lock()
        self.pending = None
        self.records: list[EpochRecord] = []
        self.monitor = None
        self.direction = None
        self.best_index = None
        self.marked = False  # a streamed row carries the "*" of a new best
        self.layout = None  # the columns of the rows printed so far
        self.notes: list[str] = []

    # -- counting ----------------------------------------------------------------

    def images(self, steps) -> int | None:
        """Images in the first ``steps`` batches of an epoch, the smaller last batch counted exactly."""
        if self.batch_size is None or steps is None:
            return None
        images = steps * self.batch_size
        if self.partial_batch and self.num_batches and steps == self.num_batches:
            images -= self.batch_size - self.partial_batch
        return images

    def images_known(self) -> bool:
        """Whether every record counts its images (else the rates are in steps/s)."""
        return bool(self.records) and all(r.images is not None for r in self.records)

    # -- epochs ------------------------------------------------------------------

    def begin_epoch(self, epoch, now) -> None:
        if self.epoch is None and epoch > 0:  # initial_epoch, or BackupAndRestore resuming
            self.notes.append(_resumed_note(epoch, self.epochs))
        self.epoch, self.epoch_start, self.val_start = epoch, now, None
        self.step = self.val_step = 0
        self.phase = "training"

    def end_epoch(self, epoch, logs, learning_rate, now) -> None:
        """Leave ``epoch`` pending, timed up to ``now``; its record is made by :meth:`complete_epoch`."""
        start = self.epoch_start if self.epoch_start is not None else now
        train_end = self.val_start if self.val_start is not None else now
        self.pending = (epoch, logs if logs is not None else {}, now - start, train_end - start,
                        self.step, learning_rate)
        self.phase = "epoch done"

    def complete_epoch(self, choose) -> tuple[EpochRecord, bool] | None:
        """The pending epoch as a record, and whether it is a new best; ``None`` when none is pending.

        ``choose(logs)`` gives ``(monitor, direction)`` on the first record.
        """
        if self.pending is None:
            return None
        epoch, logs, seconds, train_seconds, steps, lr = self.pending
        self.pending = None
        values = {k: float(v) for k, v in logs.items()
                  if isinstance(v, numbers.Real) and not isinstance(v, bool) and k not in LR_KEYS}
        record = EpochRecord(epoch=epoch, logs=values, seconds=seconds, train_seconds=train_seconds,
                             steps=steps, images=self.images(steps), learning_rate=lr)
        self.records.append(record)
        improved = self._update_best(record, choose)
        if not steps and not any(r.steps for r in self.records[:-1]):
            self.notes.insert(0, f"Epoch {epoch + 1} ran no training step: the data given to fit is empty.")
        return record, improved

    def _update_best(self, record, choose) -> bool:
        if self.monitor is None:
            self.monitor, self.direction = choose(record.logs)
        value = record.logs.get(self.monitor)
        if value is None or not math.isfinite(value):
            return False
        if self.best_index is not None:
            best = self.records[self.best_index].logs[self.monitor]
            if not (value > best if self.direction == "max" else value < best):
                return False
        self.best_index = len(self.records) - 1
        return True

    def finish(self, now, phase="done") -> None:
        self.end, self.in_fit, self.phase = now, False, phase

    def interruption(self, phase) -> str:
        """Where a fit that raised in ``phase`` stopped: ``"in epoch 2/3 at step 4/8"``."""
        total = f"/{self.epochs}" if self.epochs else ""
        if self.epoch is None:
            return "before the first epoch"
        if phase == "epoch done":
            return f"after epoch {self.epoch + 1}{total}"
        if phase == "validating":
            return f"in epoch {self.epoch + 1}{total}, while validating"
        steps = f"/{self.steps}" if self.steps else ""
        return f"in epoch {self.epoch + 1}{total} at step {self.step}{steps}"

    # -- results -----------------------------------------------------------------

    def summary(self, now=None) -> TrainingSummary:
        """The run as a :class:`TrainingSummary` (timed up to ``now`` while it runs)."""
        records = self.records
        last = records[-1].logs if records else {}
        best = records[self.best_index] if self.best_index is not None else None
        images = [r.images for r in records]
        total_images = sum(images) if records and None not in images else None
        train_seconds = sum(r.train_seconds for r in records)
        end = self.end if self.end is not None else (now if now is not None else time.perf_counter())
        monitor = self.gap_monitor
        # only a monitor that took part in this fit: it wrote its gap into these logs
        if monitor is not None and not (
            records and monitor.last_epoch == records[-1].epoch and any(k.startswith("gap_") for k in last)
        ):
            monitor = None
        return TrainingSummary(
            epochs=len(records),
            first_epoch=records[0].epoch if records else 0,
            monitor=self.monitor,
            best_epoch=best.epoch if best else None,
            best_value=best.logs.get(self.monitor) if best else None,
            final_logs=dict(last),
            final_gaps={k: v for k, v in last.items() if k.startswith("gap_")},
            verdict=monitor.verdict if monitor is not None else None,
            seconds=end - self.start if records else 0.0,
            train_seconds=train_seconds,
            images=total_images,
            images_per_second=total_images / train_seconds if total_images and train_seconds > 0 else None,
            trial=self.trial,
        )

    def columns(self, metrics=None) -> list[str]:
        """The log keys shown, in table order: training, val_, train_eval_, gap_ figures.

        ``metrics`` (names without prefixes) limits them; the loss is always shown.
        """
        keys = []
        for record in self.records:
            keys += [k for k in record.logs if k not in keys]
        keys = [k for k in keys if not k.endswith(DERIVED_SUFFIXES) or k == self.monitor]
        bases = []
        for key in keys:
            base = log_base(key)
            if base not in bases and (metrics is None or base == "loss" or base in metrics):
                bases.append(base)
        bases.sort(key=lambda b: (b != "loss", b))
        columns = []
        for prefix in ("", "val_", "train_eval_", "gap_"):
            columns += [prefix + b for b in bases if prefix + b in keys]
        return columns


def log_base(key: str) -> str:
    """``key`` without its ``val_``, ``train_eval_`` or ``gap_`` prefix."""
    for prefix in PREFIXES:
        key = key.removeprefix(prefix)
    return key


def batch_geometry(batch_size, read) -> tuple:
    """(batch size, batches per epoch, size of the last batch) of a fit.

    ``batch_size`` is the report's ``batch_size=`` argument, and comes first.
    ``read`` is what :func:`keras_cnnlab._internals.fit_batch_geometry` read of
    the data given to ``fit``: it gives the batch size when none was given, and
    the batches per epoch and the size of their last, smaller one only when
    its batch size is the one used (else those images are counted in whole
    batches).
    """
    size, num_batches, partial = read
    if batch_size is None:
        return size, num_batches, partial
    if size == batch_size:
        return batch_size, num_batches, partial
    return batch_size, None, None


def choose_monitor(logs, monitor, mode, objective, model, *, stacklevel=2) -> tuple[str, str]:
    """The key that picks the best epoch, and its direction (``"min"`` or ``"max"``).

    ``monitor`` and ``mode`` are the report's arguments, ``objective`` the
    ``(name, direction)`` of the KerasTuner search running the fit. An unknown
    ``monitor`` warns (``stacklevel`` as :func:`warnings.warn` takes it) and
    falls back to ``val_loss``, or ``loss`` without validation figures. With
    ``mode="auto"`` the direction is inferred.
    """
    chosen, direction = _choose_key(logs, monitor, objective, model, stacklevel)
    return chosen, mode if mode != "auto" else direction


def _choose_key(logs, monitor, objective, model, stacklevel):
    if monitor is None and objective is not None and objective[0] in logs:
        return objective  # a tuner search: the best epoch is the one its objective prefers
    fallback = "val_loss" if "val_loss" in logs else "loss"
    chosen = fallback
    if monitor is not None:
        if monitor in logs:
            chosen = monitor
        else:
            warnings.warn(
                f"RichTrainingReport: monitor={monitor!r} is not in the epoch logs "
                f"(available: {', '.join(sorted(logs))}); the best epoch is chosen by {fallback!r}.",
                UserWarning,
                stacklevel=stacklevel + 1,
            )
    return chosen, metric_direction(chosen, model) or "min"


def search_objective(oracle):
    """(name, direction) of a KerasTuner oracle's objective; ``None`` without one, or for several metrics."""
    goal = getattr(oracle, "objective", None)
    name, direction = getattr(goal, "name", None), getattr(goal, "direction", None)
    if isinstance(name, str) and direction in ("min", "max") and type(goal).__name__ != "MultiObjective":
        return name, direction
    return None


def trial_header(trial, oracle) -> str:
    """``Trial #<n>`` and the hyperparameters KerasTuner's own table did not show whole.

    Trials are numbered as KerasTuner numbers them ("Search: Running Trial #1"
    for trial_id "0"). The hyperparameters follow when KerasTuner printed no
    table of them in this process (``verbose=0``, a worker of a distributed
    search); after its table only the values it cut short are repeated, whole.
    """
    trial_numbers, verbose, width = _internals.tuner_display(oracle)
    number = trial_numbers.get(trial.trial_id)
    trials = getattr(oracle, "trials", None)
    if number is None and isinstance(trials, dict) and trial.trial_id in trials:
        number = list(trials).index(trial.trial_id) + 1  # what KerasTuner would number it
    if number is None:
        number = int(trial.trial_id) + 1 if str(trial.trial_id).isdigit() else trial.trial_id
    values = getattr(trial.hyperparameters, "values", {}) or {}
    if verbose >= 1:  # its table is just above
        values = {
            k: v for k, v in values.items()
            if not isinstance(v, numbers.Real) and len(str(v)) > width  # cut with "..." there
        }
    settings = ", ".join(f"{k}={general_number(v)}" for k, v in values.items())
    return f"Trial #{number}" + (f": {settings}" if settings else "")


def _resumed_note(epoch: int, epochs: int | None) -> str:
    """``Resumed at epoch 4/6: epochs 1-3 ran in an earlier fit, not in this report.``"""
    total = f"/{epochs}" if epochs else ""
    earlier = "epoch 1" if epoch == 1 else f"epochs 1-{epoch}"
    return f"Resumed at epoch {epoch + 1}{total}: {earlier} ran in an earlier fit, not in this report."
