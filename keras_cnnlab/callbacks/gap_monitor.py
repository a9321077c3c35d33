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

import math
import numbers
import warnings

import keras

from keras_cnnlab._validation import check_int
from keras_cnnlab.callbacks.copies import fresh_copy
from keras_cnnlab.callbacks.gap_state import GapRun, draw_subset, number

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
)
from keras_cnnlab.distribute import is_chief, jax_process_count, replica_count

__all__ = ["OverfittingGapMonitor", "OverfittingOnset", "find_overfitting_onset", "metric_direction"]

_ACTIONS = ("warn", "stop")
_MODES = ("auto", "min", "max")


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
            Under data parallelism (``keras.distribution`` or ``tf.distribute``)
            the subset and ``eval_batch_size`` are rounded down to multiples of
            the replica count (the batch to at least one image per replica), so
            that every batch splits (63 on 2 replicas: 62); across JAX processes
            the subset goes to ``evaluate`` as a ``tf.data.Dataset``, which Keras
            shards over them.
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
        train_data = _check_arguments(
            monitor, max_gap, patience, min_delta, start_from_epoch, mode, action, unbiased_subset,
            restore_best_weights, train_data, eval_batch_size, verbose,
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
        self._eval_batch = eval_batch_size
        self.seed = seed
        self.verbose = verbose
        if console is not None:
            from keras_cnnlab.display.console import make_console

            console = make_console(console)
        self._console = console
        self._run = self._new_run()

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
    def recovered(self) -> tuple[int, float] | None:
        """``(epoch, val_loss)`` where, after the onset, val_loss fell below its best before it; else ``None``."""
        return self._run.recovered

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
        return self._run.verdict()

    # -- Keras hooks ---------------------------------------------------------

    def set_model(self, model):
        super().set_model(model)
        attach_monitor(model, self)

    def on_train_begin(self, logs=None):
        self._run = self._new_run()
        self._eval_batch = self.eval_batch_size
        if self.unbiased_subset is not None:
            # under data parallelism every batch must split over the replicas: trim both
            replicas = replica_count(self.model)
            size = min(self.unbiased_subset, len(self.train_data[0]))
            self._eval_batch = max(self.eval_batch_size // replicas, 1) * replicas
            if size >= replicas:
                self._run.subset = draw_subset(self.train_data, size // replicas * replicas, self.seed)
            else:
                self._warn(f"the unbiased subset of {size} examples does not split over {replicas} replicas; "
                           "the gap uses the logged training figures")

    def on_epoch_end(self, epoch, logs=None):
        if logs is None:
            return
        run = self._run
        if not run.resolved:
            warning = run.resolve(logs, self.mode, lambda key: metric_direction(key, self.model))
            if warning is not None:
                self._warn(warning, stacklevel=2)
        if run.subset is not None:
            self._evaluate_subset(logs)
        gap, val_value = run.add_gaps(epoch, logs)
        diverged = run.check_divergence(epoch, logs)
        if diverged is not None:
            self._act(epoch, diverged)
        if run.track_best(epoch, val_value) and self.restore_best_weights:
            run.best_weights = self.model.get_weights()
        recovery = run.check_recovery(epoch)  # news, not a finding to act on
        if recovery is not None:
            self._say(recovery)
        for finding in run.judge(epoch, gap):
            self._act(epoch, finding)

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

    def _new_run(self) -> GapRun:
        return GapRun(self.monitor, self.max_gap, self.patience, self.min_delta, self.start_from_epoch)

    def _evaluate_subset(self, logs):
        try:
            results = self.model.evaluate(**_subset_inputs(self._run.subset, self._eval_batch), verbose=0,
                                          return_dict=True)
        except Exception as error:  # report, keep training
            self._warn(f"re-evaluating the training subset failed ({error}); the gap uses the "
                       "logged training figures")
            self._run.subset = None
            return
        for name, value in results.items():
            self._run.record(logs, f"train_eval_{name}", number(value))

    def _act(self, epoch, message):
        """Say ``message``; under ``action="stop"`` stop training too."""
        self._say(message)
        if self.action != "warn":
            self._run.stop(epoch)
            self.model.stop_training = True

    def _warn(self, message, stacklevel=3):
        self._run.messages.append(message)
        if self._model is not None and not is_chief(self._model):
            return  # said once, by the chief
        warnings.warn(f"OverfittingGapMonitor: {message}", UserWarning, stacklevel=stacklevel)

    def _say(self, message):
        self._run.messages.append(message)
        if not self.verbose:
            return
        text = f"OverfittingGapMonitor: {message}"
        report = attached_report(self._model) if self._console is None and self._model is not None else None
        if report is not None and report.add_note(text):
            return  # printed by the report, after the line of the epoch it concerns
        if self._model is not None and not is_chief(self._model):
            return  # one worker of several: the chief says it
        if self._console is None:
            from keras_cnnlab.display.console import make_console

            self._console = make_console(None)
        self._console.print(text, markup=False, highlight=False, soft_wrap=True)

    # -- copies ----------------------------------------------------------------

    def __deepcopy__(self, memo):
        # KerasTuner deep-copies callbacks per trial: share the training data and
        # the console, start with no model and no state.
        return fresh_copy(self, memo, shared=("train_data", "_console"), cleared=("_model", "params"),
                          fresh={"_run": OverfittingGapMonitor._new_run})


def _subset_inputs(subset, batch_size) -> dict:
    """``evaluate``'s data arguments for the subset: arrays, or a dataset across JAX processes."""
    x, y, w = subset
    if jax_process_count() > 1:  # Keras shards only a tf.data.Dataset over the processes
        import tensorflow as tf

        parts = (x, y) if w is None else (x, y, w)
        return {"x": tf.data.Dataset.from_tensor_slices(parts).batch(batch_size)}
    return {"x": x, "y": y, "sample_weight": w, "batch_size": batch_size}


def _check_arguments(monitor, max_gap, patience, min_delta, start_from_epoch, mode, action, unbiased_subset,
                     restore_best_weights, train_data, eval_batch_size, verbose):
    """Raise a ValueError naming the first bad argument; return ``train_data`` checked (a tuple or ``None``)."""
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
    return train_data

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

