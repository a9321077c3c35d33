"""OverfittingGapMonitor: the train/validation gap, its onset and what to do about it.

The gap of a metric is how much better it is on the training data than on the
validation data, so that a positive gap always means overfitting:

* for a metric to maximise (accuracy): ``gap = train - validation``;
* for a metric to minimise (loss): ``gap = validation - train``.

(:mod:`keras_cnnlab.curves` holds these definitions: :func:`metric_gap`,
:func:`metric_direction`, :func:`find_overfitting_onset`.)

The monitor writes ``gap_<metric>`` and ``gap_loss`` into the epoch logs, where
``EarlyStopping``, ``History``, the training report and a KerasTuner objective
can read them. It declares overfitting when either criterion holds:

* **onset** (after Prechelt, "Early Stopping - But When?", 1998): the
  validation loss stays above its best value for ``patience`` consecutive
  epochs while the training loss stays below its value at that best epoch:
  the model keeps fitting the training data and stops generalising. The onset
  is the first epoch of that run; the report gives Prechelt's generalisation
  loss ``GL = 100 * (val_loss / best_val_loss - 1)`` in percent.
* **gap**: the gap of the chosen metric exceeds ``max_gap`` for ``patience``
  consecutive epochs.

The training metric Keras logs is a running average over the epoch, taken with
dropout and augmentation active, so the plain gap is biased. With
``unbiased_subset=n`` and ``train_data=(x, y)`` the monitor re-evaluates a fixed
random subset of ``n`` training examples in inference mode at the end of every
epoch (``model.evaluate``; the cost is one inference pass over ``n`` images per
epoch, about ``n / len(x) / 3`` of a training epoch) and computes the gap from
those figures, logged as ``train_eval_loss`` and ``train_eval_<metric>``.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import numbers
import warnings

import keras
import numpy as np

from keras_cnnlab._validation import check_int

# The link to the report lives in callbacks.links and the curve logic in curves; the names
# these modules used to define here (attach_report, attached_monitor, OverfittingOnset,
# find_overfitting_onset, metric_direction) stay importable from here.
from keras_cnnlab.callbacks.links import (  # noqa: F401 (attach_report, attached_monitor: old homes)
    attach_monitor,
    attach_report,
    attached_monitor,
    attached_report,
)
from keras_cnnlab.curves import (
    OverfittingOnset,
    find_overfitting_onset,
    metric_direction,
    metric_gap,
)

__all__ = ["OverfittingGapMonitor", "OverfittingOnset", "find_overfitting_onset", "metric_direction"]

_ACTIONS = ("warn", "stop")
_MODES = ("auto", "min", "max")


def _finite(value) -> bool:
    return isinstance(value, numbers.Real) and math.isfinite(value)


def _number(value) -> float | None:
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    return None


def _check_number(name, value, *, minimum=0.0, allow_none=False):
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= minimum or not math.isfinite(value):
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected a finite number >= {minimum}"
            f"{' or None' if allow_none else ''}. Received {name}={value!r}."
        )


def _resolve_aliases(monitor, metric, action, restore_best_weights):
    """Map the deprecated ``metric=`` and ``action="restore_best"`` onto the Keras names.

    Each old name warns with a DeprecationWarning that names its replacement;
    an old name given together with its new one is a ValueError naming both.
    ``monitor`` and ``restore_best_weights`` count as given when they differ
    from their defaults (``"accuracy"``, ``False``).
    """
    if metric is not None:
        if monitor != "accuracy":
            raise ValueError(
                "Arguments `monitor` and `metric` name the same thing (`metric` is the deprecated "
                f"alias of `monitor`): pass only `monitor`. Received monitor={monitor!r} and "
                f"metric={metric!r}."
            )
        warnings.warn(
            "OverfittingGapMonitor: argument `metric` is deprecated and will be removed in the next "
            f"release; use `monitor` instead: OverfittingGapMonitor(monitor={metric!r}).",
            DeprecationWarning,
            stacklevel=3,
        )
        monitor = metric
    if action == "restore_best":
        if restore_best_weights is not False:
            raise ValueError(
                "Arguments `action='restore_best'` and `restore_best_weights` ask for the same thing "
                "(`action='restore_best'` is the deprecated alias of `action='stop', "
                "restore_best_weights=True`): pass only `restore_best_weights`. Received "
                f"action='restore_best' and restore_best_weights={restore_best_weights!r}."
            )
        warnings.warn(
            "OverfittingGapMonitor: `action='restore_best'` is deprecated and will be removed in the "
            "next release; use argument `restore_best_weights` instead: "
            "OverfittingGapMonitor(action='stop', restore_best_weights=True).",
            DeprecationWarning,
            stacklevel=3,
        )
        action, restore_best_weights = "stop", True
    return monitor, action, restore_best_weights


class _Run:
    """State of one fit; replaced at every ``on_train_begin``."""

    def __init__(self):
        self.history: dict[str, list[float]] = {}
        self.train_key = None
        self.val_key = None
        self.mode = None
        self.resolved = False
        self.onset = None
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


class OverfittingGapMonitor(keras.callbacks.Callback):
    """Watch the train/validation gap, detect overfitting, warn, stop or restore.

    Writes ``gap_<metric>`` and ``gap_loss`` (positive means the model does
    better on the training data) into each epoch's logs. Overfitting is
    declared by the onset criterion (validation loss above its best for
    ``patience`` epochs while the training loss keeps below its value then; see
    :func:`find_overfitting_onset`) or when the gap exceeds ``max_gap`` for
    ``patience`` epochs. NaN or infinite losses are reported as divergence.

    The arguments follow Keras's ``EarlyStopping``: ``monitor`` names the
    metric, ``action="stop"`` stops training and ``restore_best_weights=True``
    then restores the weights of the best epoch.

    Args:
        monitor: the metric whose gap is tracked, as logged by Keras without the
            ``val_`` prefix: ``"accuracy"`` (default), ``"loss"``, ``"auc"``...
            A logged name ending in ``_<monitor>`` (``sparse_categorical_accuracy``)
            is accepted for it.
        max_gap: gap above which, for ``patience`` epochs, overfitting is
            declared, in the metric's units (0.1 = ten points of accuracy).
            ``None`` relies on the onset criterion alone.
        patience: epochs in a row both criteria need (at least 1).
        min_delta: change in validation loss (onset) or metric (best epoch)
            below which it counts as no change.
        start_from_epoch: epochs (0-based) before this one are logged but not
            judged, so the noisy first epochs do not trigger anything.
        mode: ``"max"`` if larger values of ``monitor`` are better, ``"min"`` if
            smaller, ``"auto"`` to infer it from the metric.
        action: what to do when overfitting or divergence is found:
            ``"warn"`` prints it (default), ``"stop"`` also stops training.
        unbiased_subset: number of training examples re-evaluated in inference
            mode at each epoch end to compute an unbiased gap; needs
            ``train_data``. ``None`` (default) uses the logged training metric.
        restore_best_weights: with ``action="stop"``, when the monitor stops
            training, restore at the end of training the weights of the epoch
            with the best validation ``monitor``, as Keras's ``EarlyStopping``
            does (``False`` by default: the weights of the last epoch stay).
        train_data: ``(x, y)`` or ``(x, y, sample_weight)`` arrays the subset is
            drawn from (once, with ``seed``).
        eval_batch_size: batch size of that re-evaluation.
        seed: seed of the subset draw.
        console: where messages go: ``None`` (standard output), a path, a file
            or a ``rich.console.Console``.
        verbose: 0 to stay silent (results stay in the logs and attributes).
        metric: deprecated alias of ``monitor``; warns, and is removed in the
            next release.

    The old ``action="restore_best"`` is a deprecated alias of
    ``action="stop", restore_best_weights=True``: it warns, and is removed in
    the next release. An old name given with its new one is a ``ValueError``.

    Example:
        >>> monitor = OverfittingGapMonitor("accuracy", max_gap=0.1, action="stop", restore_best_weights=True)
        >>> # model.fit(x, y, validation_data=(xv, yv), epochs=30, callbacks=[monitor])
        >>> # history.history["gap_accuracy"], monitor.onset, monitor.verdict
    """

    def __init__(
        self,
        monitor: str = "accuracy",
        max_gap: float | None = 0.1,
        patience: int = 3,
        min_delta: float = 0.0,
        start_from_epoch: int = 0,
        mode: str = "auto",
        action: str = "warn",
        unbiased_subset: int | None = None,
        *,
        restore_best_weights: bool = False,
        train_data=None,
        eval_batch_size: int = 256,
        seed: int = 0,
        console=None,
        verbose: int = 1,
        metric: str | None = None,
    ):
        super().__init__()
        monitor, action, restore_best_weights = _resolve_aliases(monitor, metric, action, restore_best_weights)
        if not isinstance(monitor, str) or not monitor or monitor.startswith("val_"):
            raise ValueError(
                "Invalid value for argument `monitor`. Expected a metric name as logged for the "
                f"training data, such as 'accuracy' or 'loss'. Received monitor={monitor!r}."
            )
        _check_number("max_gap", max_gap, allow_none=True)
        check_int(patience, "patience", minimum=1)
        _check_number("min_delta", min_delta)
        check_int(start_from_epoch, "start_from_epoch", minimum=0)
        if mode not in _MODES:
            raise ValueError(
                f"Invalid value for argument `mode`. Expected one of {_MODES}. Received mode={mode!r}."
            )
        if action not in _ACTIONS:
            raise ValueError(
                f"Invalid value for argument `action`. Expected one of {_ACTIONS}. "
                f"Received action={action!r}."
            )
        if not isinstance(restore_best_weights, bool):
            raise ValueError(
                "Invalid value for argument `restore_best_weights`. Expected True or False. "
                f"Received restore_best_weights={restore_best_weights!r}."
            )
        if restore_best_weights and action == "warn":
            raise ValueError(
                "Argument `restore_best_weights=True` restores the weights when the monitor stops "
                "training, and action='warn' never stops it: pass action='stop' with it. "
                "Received action='warn'."
            )
        if unbiased_subset is not None:
            check_int(unbiased_subset, "unbiased_subset", minimum=1)
            if train_data is None:
                raise ValueError(
                    "Argument `unbiased_subset` needs the training data to draw the subset from: "
                    "pass `train_data=(x_train, y_train)`. Received train_data=None."
                )
        if train_data is not None:
            train_data = _check_train_data(train_data)
        check_int(eval_batch_size, "eval_batch_size", minimum=1)
        check_int(verbose, "verbose", minimum=0)
        if monitor == "loss" and mode == "max":
            raise ValueError(
                "Invalid value for argument `mode`: a loss is minimised. Use mode='min' or "
                "'auto' with monitor='loss'. Received mode='max'."
            )
        self.monitor = monitor
        self.max_gap = max_gap
        self.patience = patience
        self.min_delta = float(min_delta)
        self.start_from_epoch = start_from_epoch
        self.mode = mode
        self.action = action
        self.restore_best_weights = restore_best_weights
        self.unbiased_subset = unbiased_subset
        self.train_data = train_data
        self.eval_batch_size = eval_batch_size
        self.seed = seed
        self.verbose = verbose
        if console is not None:
            from keras_cnnlab.display.console import make_console

            console = make_console(console)
        self._console = console
        self._run = _Run()

    # -- results -------------------------------------------------------------

    @property
    def gaps(self) -> dict[str, list[float]]:
        """Per-epoch values written by the monitor in the last fit (``gap_*``, ``train_eval_*``)."""
        return {k: list(v) for k, v in self._run.history.items()}

    @property
    def onset(self) -> OverfittingOnset | None:
        """Where overfitting began in the last fit, or ``None``."""
        return self._run.onset

    @property
    def gap_exceeded_epoch(self) -> int | None:
        """First epoch (0-based) of the run in which the gap stayed above ``max_gap``."""
        return self._run.gap_exceeded_epoch

    @property
    def diverged_epoch(self) -> int | None:
        """Epoch (0-based) at which a loss or metric became NaN or infinite."""
        return self._run.diverged_epoch

    @property
    def best_epoch(self) -> int | None:
        """Epoch (0-based) with the best validation ``monitor``."""
        return self._run.best_epoch

    @property
    def best_value(self) -> float | None:
        """The best validation ``monitor``."""
        return self._run.best_value

    @property
    def stopped_epoch(self) -> int | None:
        """Epoch (0-based) at which the monitor stopped training, if it did."""
        return self._run.stopped_epoch

    @property
    def restored_epoch(self) -> int | None:
        """Epoch (0-based) whose weights were restored at the end, if any."""
        return self._run.restored_epoch

    @property
    def last_epoch(self) -> int | None:
        """The last epoch (0-based) the monitor judged, or ``None`` before any."""
        return self._run.last_epoch

    @property
    def metric(self) -> str:
        """Deprecated alias of ``monitor``, the tracked metric; warns."""
        warnings.warn(
            "OverfittingGapMonitor: attribute `metric` is deprecated and will be removed in the next "
            "release; use `monitor` instead.",
            DeprecationWarning,
            stacklevel=2,
        )
        return self.monitor

    @property
    def gap_key(self) -> str:
        """The log key of the tracked gap, such as ``gap_accuracy``."""
        return f"gap_{self.monitor}"

    @property
    def overfitting(self) -> bool:
        """Whether the last fit showed overfitting by either criterion."""
        return self._run.onset is not None or self._run.gap_exceeded_epoch is not None

    @property
    def verdict(self) -> str:
        """One sentence on the last fit: divergence, overfitting, or none."""
        run = self._run
        parts = []
        if run.diverged_epoch is not None:
            parts.append(f"diverged at epoch {run.diverged_epoch + 1} ({run.divergence})")
        if run.onset is not None:
            parts.append(run.onset.describe())
        if run.gap_exceeded_epoch is not None:
            parts.append(
                f"{self.gap_key} above max_gap {self.max_gap:g} from epoch "
                f"{run.gap_exceeded_epoch + 1} for {self.patience} epochs"
            )
        if not parts:
            if run.last_epoch is None:
                return "no epochs seen"
            return "no overfitting detected" + self._gap_standing()
        if run.stopped_epoch is not None:
            parts.append(f"training stopped at epoch {run.stopped_epoch + 1}")
        if run.restored_epoch is not None:
            parts.append(f"weights restored from epoch {run.restored_epoch + 1}")
        elif run.stopped_epoch is not None and run.best_weights is not None:
            parts.append(f"weights of epoch {run.best_epoch + 1} restored at the end of training")
        return "; ".join(parts)

    def _gap_standing(self) -> str:
        """The final gap, and how near the gap criterion came, for a verdict of no overfitting."""
        run = self._run
        key = self.gap_key if run.history.get(self.gap_key) else "gap_loss"
        final = run.history.get(key)
        if not final:
            return ""
        figure = f"final {key} {final[-1]:.4f}"
        if self.max_gap is None or key != self.gap_key:
            return f" ({figure})"
        if run.gap_run:  # above max_gap now, for fewer epochs than patience
            short = self.patience - run.gap_run
            return (
                f" yet: {self.gap_key} above max_gap {self.max_gap:g} in the last {run.gap_run} "
                f"epoch(s), {short} short of patience {self.patience} ({figure})"
            )
        if run.gap_epochs_above:
            return (
                f" ({figure}, within max_gap {self.max_gap:g}; above it in {run.gap_epochs_above} "
                f"epoch(s), never {self.patience} in a row)"
            )
        return f" ({figure}, within max_gap {self.max_gap:g})"

    # -- Keras hooks ---------------------------------------------------------

    def set_model(self, model):
        super().set_model(model)
        attach_monitor(model, self)

    def on_train_begin(self, logs=None):
        self._run = _Run()
        if self.unbiased_subset is not None:
            self._run.subset = _draw_subset(self.train_data, self.unbiased_subset, self.seed)

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        run = self._run
        run.last_epoch = epoch
        if not run.resolved:
            self._resolve(logs)
        if run.subset is not None:
            self._evaluate_subset(logs)

        train_prefix = "train_eval_" if run.subset is not None else ""
        loss = _number(logs.get(f"{train_prefix}loss"))
        val_loss = _number(logs.get("val_loss"))
        run.epochs.append(epoch)
        run.train_loss.append(math.nan if loss is None else loss)
        run.val_loss.append(math.nan if val_loss is None else val_loss)
        self._record(logs, "gap_loss", metric_gap(loss, val_loss, "min"))
        gap = train_value = val_value = None
        if self.monitor == "loss":
            gap, val_value = metric_gap(loss, val_loss, "min"), val_loss
        elif run.train_key is not None:
            train_value = _number(logs.get(train_prefix + run.train_key))
            val_value = _number(logs.get(run.val_key))
            gap = metric_gap(train_value, val_value, run.mode)
            self._record(logs, self.gap_key, gap)

        self._check_divergence(epoch, logs)
        self._track_best(epoch, val_value)
        if epoch >= self.start_from_epoch and run.diverged_epoch is None:
            self._check_onset(epoch)
            self._check_gap(epoch, gap)

    def on_train_end(self, logs=None):
        run = self._run
        if self.restore_best_weights and run.stopped_epoch is not None and run.best_weights is not None:
            try:
                self.model.set_weights(run.best_weights)
            except Exception as error:  # never lose the trained model over a restore
                self._say(f"could not restore the best weights: {error}")
            else:
                run.restored_epoch = run.best_epoch
                self._say(f"restored the weights of epoch {run.best_epoch + 1} "
                          f"(val_{self.monitor} {run.best_value:.4f})")
        run.best_weights = None

    # -- internals -------------------------------------------------------------

    def _resolve(self, logs):
        run = self._run
        run.resolved = True
        if "val_loss" not in logs:
            self._warn(
                "the epoch logs have no validation figures, so there is no gap to track. "
                "Pass validation_data=(x_val, y_val) or validation_split= to fit."
            )
            return
        if self.monitor == "loss":
            run.train_key, run.val_key, run.mode = "loss", "val_loss", "min"
            return
        train_keys = [k for k in logs if not k.startswith(("val_", "gap_", "train_eval_"))]
        candidates = [self.monitor] + sorted(k for k in train_keys if k.endswith("_" + self.monitor))
        key = next((k for k in candidates if k in logs and f"val_{k}" in logs), None)
        if key is None:
            self._warn(
                f"metric {self.monitor!r} (with val_{self.monitor}) is not in the epoch logs "
                f"(available: {', '.join(sorted(logs)) or 'none'}); only gap_loss is tracked. "
                "Compile with metrics=[...] including it and pass validation data, or set "
                "monitor= to a logged name."
            )
            return
        mode = self.mode if self.mode != "auto" else metric_direction(key, self.model)
        if mode is None:
            self._warn(
                f"cannot tell whether {key!r} is better high or low; pass mode='max' or "
                f"mode='min'. Only gap_loss is tracked."
            )
            return
        run.train_key, run.val_key, run.mode = key, f"val_{key}", mode

    def _evaluate_subset(self, logs):
        x, y, w = self._run.subset
        try:
            results = self.model.evaluate(
                x, y, sample_weight=w, batch_size=self.eval_batch_size, verbose=0, return_dict=True
            )
        except Exception as error:  # report, keep training
            self._warn(f"re-evaluating the training subset failed ({error}); the gap uses the "
                       "logged training figures")
            self._run.subset = None
            return
        for name, value in results.items():
            self._record(logs, f"train_eval_{name}", _number(value))

    def _record(self, logs, key, value):
        if value is None:
            return
        logs[key] = value
        self._run.history.setdefault(key, []).append(value)

    def _check_divergence(self, epoch, logs):
        run = self._run
        if run.diverged_epoch is not None:
            return
        keys = ["loss", "val_loss"]
        if run.train_key:
            keys += [run.train_key, run.val_key]
        bad = [(k, logs[k]) for k in keys if k in logs and _number(logs[k]) is not None
               and not math.isfinite(logs[k])]
        if not bad:
            return
        run.diverged_epoch = epoch
        run.divergence = ", ".join(f"{k} = {v}" for k, v in bad)
        self._say(f"epoch {epoch + 1}: training diverged ({run.divergence})")
        if self.action != "warn":
            self._stop(epoch)

    def _track_best(self, epoch, value):
        run = self._run
        if not _finite(value) or run.mode is None:
            return
        mode = run.mode
        improved = run.best_value is None or (
            value > run.best_value + self.min_delta if mode == "max" else value < run.best_value - self.min_delta
        )
        if improved:
            run.best_value, run.best_epoch = float(value), epoch
            if self.restore_best_weights:
                run.best_weights = self.model.get_weights()

    def _check_onset(self, epoch):
        run = self._run
        if run.onset is not None:
            return
        # Indices into this fit's lists, mapped back to epochs (fit may start at initial_epoch).
        first = next((i for i, e in enumerate(run.epochs) if e >= self.start_from_epoch), None)
        if first is None:
            return
        onset = find_overfitting_onset(
            run.train_loss, run.val_loss, patience=self.patience, min_delta=self.min_delta,
            start_from_epoch=first,
        )
        if onset is not None:
            run.onset = dataclasses.replace(
                onset,
                epoch=run.epochs[onset.epoch],
                detected_at=run.epochs[onset.detected_at],
                best_epoch=run.epochs[onset.best_epoch],
            )
            self._act(epoch, run.onset.describe())

    def _check_gap(self, epoch, gap):
        run = self._run
        if self.max_gap is None or run.gap_exceeded_epoch is not None:
            return
        if _finite(gap) and gap > self.max_gap:
            run.gap_run += 1
            run.gap_epochs_above += 1
            if run.gap_run >= self.patience:
                run.gap_exceeded_epoch = epoch - self.patience + 1
                self._act(epoch, f"{self.gap_key} {gap:.4f} above max_gap {self.max_gap:g} for "
                                 f"{self.patience} epochs (since epoch {run.gap_exceeded_epoch + 1})")
        else:
            run.gap_run = 0

    def _act(self, epoch, message):
        self._say(f"epoch {epoch + 1}: {message}")
        if self.action != "warn":
            self._stop(epoch)

    def _stop(self, epoch):
        run = self._run
        if run.stopped_epoch is None:
            run.stopped_epoch = epoch
        self.model.stop_training = True

    def _warn(self, message):
        self._run.messages.append(message)
        warnings.warn(f"OverfittingGapMonitor: {message}", UserWarning, stacklevel=3)

    def _say(self, message):
        self._run.messages.append(message)
        if not self.verbose:
            return
        text = f"OverfittingGapMonitor: {message}"
        report = attached_report(self._model) if self._console is None and self._model is not None else None
        if report is not None and report.add_note(text):
            return  # printed by the report, after the line of the epoch it concerns
        if self._console is None:
            from keras_cnnlab.display.console import make_console

            self._console = make_console(None)
        self._console.print(text, markup=False, highlight=False, soft_wrap=True)

    # -- copies ----------------------------------------------------------------

    def __deepcopy__(self, memo):
        # KerasTuner deep-copies callbacks per trial: share the training data and
        # the console, start with no model and no state.
        cls = type(self)
        new = cls.__new__(cls)
        memo[id(self)] = new
        shared = {"train_data", "_console"}
        for key, value in self.__dict__.items():
            if key in shared:
                new.__dict__[key] = value
            elif key in ("_model", "params"):
                new.__dict__[key] = None
            elif key == "_run":
                new.__dict__[key] = _Run()
            else:
                new.__dict__[key] = copy.deepcopy(value, memo)
        return new


def _check_train_data(train_data):
    if not isinstance(train_data, (tuple, list)) or len(train_data) not in (2, 3):
        raise ValueError(
            "Invalid value for argument `train_data`. Expected a tuple (x, y) or "
            f"(x, y, sample_weight) of arrays. Received train_data of type {type(train_data).__name__}."
        )
    lengths = {len(part) for part in train_data if part is not None}
    if len(lengths) != 1:
        raise ValueError(
            "Invalid value for argument `train_data`: x, y (and sample_weight) must have the same "
            f"number of examples. Received lengths {[len(p) for p in train_data if p is not None]}."
        )
    return tuple(train_data)


def _draw_subset(train_data, size, seed):
    x, y, *rest = train_data
    w = rest[0] if rest else None
    n = len(x)
    rng = np.random.default_rng(seed)
    index = np.sort(rng.choice(n, size=min(size, n), replace=False))

    def take(part):
        return None if part is None else np.asarray(part)[index]

    return take(x), take(y), take(w)
