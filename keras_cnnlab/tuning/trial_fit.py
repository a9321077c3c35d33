"""What CNNHyperModel.fit adds to a trial's ``model.fit``.

The callbacks it asks for, the learning-rate schedule, a plain verbosity for
logs, and the figures recorded with the trial for :func:`results_table`.
"""

from __future__ import annotations

import math
import numbers

import keras
import keras_tuner

from keras_cnnlab import _internals
from keras_cnnlab.tuning.objectives import GapPenalizedAccuracy

__all__ = [
    "CosineSchedule",
    "check_trial_batches",
    "fit_search",
    "record_trial_figures",
    "tell_reports",
    "trial_callbacks",
    "trial_verbosity",
]


class CosineSchedule(keras.callbacks.Callback):
    """Cosine decay of the learning rate over a trial's ``epochs``, epoch by epoch.

    A trial's epoch count is only known in ``fit`` (Hyperband gives each round its
    own), so the schedule is set per epoch here rather than built into the
    optimizer; unlike ``keras.callbacks.LearningRateScheduler`` it adds nothing to
    the logs, so reports and trial tables stay as they were.
    """

    def __init__(self, peak: float, epochs: int):
        super().__init__()
        self.peak, self.epochs = float(peak), max(int(epochs), 1)

    def on_epoch_begin(self, epoch, logs=None):
        self.model.optimizer.learning_rate = self.peak * 0.5 * (1 + math.cos(math.pi * epoch / self.epochs))


def fit_search(callbacks):
    """(tuner, trial) of the KerasTuner search calling ``fit``, each ``None`` outside one.

    KerasTuner's own callback among the trial's ``callbacks`` tells; a tuner's own
    ``run_trial`` adds none, and the call stack is then read (both in
    :mod:`keras_cnnlab._internals`).
    """
    tuner, trial = _internals.search_from_callbacks(callbacks)
    if tuner is None:
        tuner, trial = _internals.calling_search()
    return tuner, trial


def check_trial_batches(model, args, kwargs, *, same_batch: bool) -> None:
    """Check that the trial's batches split over the replicas of its strategy or distribution.

    ``args`` and ``kwargs`` are those of the trial's ``model.fit``; Keras's default
    batch size (32) counts when none is given. A ``ValueError`` names
    ``batch_size`` and the replica count (:func:`keras_cnnlab.distribute.check_fit_batches`).
    It is KerasTuner's ``FatalValueError``, which stops the search at once, when
    every trial would fail alike: ``same_batch`` (one batch size for every trial)
    or no batch size splits (under JAX, a number of examples that is not a
    multiple of the replicas).
    """
    from keras_cnnlab.distribute import check_fit_batches, replica_count

    x = kwargs.get("x", args[0] if args else None)
    batch_size = kwargs.get("batch_size") or 32
    if not isinstance(batch_size, numbers.Integral) or isinstance(batch_size, bool):
        return  # fit itself names a batch size that is not a whole number

    def check(size):
        check_fit_batches(
            model, size, x, validation_data=kwargs.get("validation_data"),
            validation_split=kwargs.get("validation_split", 0.0),
            validation_batch_size=kwargs.get("validation_batch_size"),
        )

    try:
        check(int(batch_size))
    except ValueError as error:
        every_trial = same_batch
        if not every_trial:
            try:  # a batch of exactly one image per replica is the smallest that splits
                check(replica_count(model))
            except ValueError:
                every_trial = True  # the data, not the batch size, is at fault
        if every_trial:
            raise keras_tuner.errors.FatalValueError(str(error)) from None
        raise


def trial_callbacks(*, report: bool, gap_monitor: bool, gap_penalty, batch_size=None) -> list:
    """The callbacks CNNHyperModel's arguments add to every trial, in the order they run."""
    extra = []
    if gap_monitor:
        from keras_cnnlab.callbacks import OverfittingGapMonitor

        extra.append(OverfittingGapMonitor())
    if gap_penalty is not None:
        extra.append(GapPenalizedAccuracy(gap_penalty))
    if report:
        from keras_cnnlab.callbacks import RichTrainingReport

        # the batch size fit is given, for the throughput when the data does not tell
        valid = isinstance(batch_size, numbers.Integral) and not isinstance(batch_size, bool) and batch_size > 0
        extra.append(RichTrainingReport(batch_size=int(batch_size) if valid else None))
    return extra


def tell_reports(callbacks, trial, tuner) -> None:
    """Tell each RichTrainingReport among ``callbacks`` the trial it reports on."""
    from keras_cnnlab.callbacks.report import RichTrainingReport

    for callback in callbacks:
        if isinstance(callback, RichTrainingReport):
            callback.set_trial(trial, tuner)


def _plain_stdout() -> bool:
    """Standard output is a file, a pipe or CI (not a terminal, not Jupyter)."""
    from keras_cnnlab.display.console import make_console, render_mode

    return render_mode(make_console(None)) == "plain"


def trial_verbosity(report: bool):
    """The ``verbose`` of a trial's fit when search() gives none: ``None`` leaves Keras's default."""
    if report:
        return 0  # the report shows the epochs
    if _plain_stdout():
        return 2  # one plain line per epoch: no progress bar's control codes in a log
    return None


def record_trial_figures(history, model, seconds: float) -> None:
    """Add the parameter count, the time in ``fit`` and the epochs trained to ``history``.

    KerasTuner records every entry of the history with the trial, so
    :func:`results_table` finds them in resumed and distributed searches too.
    """
    epochs = len(history.epoch)
    if epochs:
        history.history["params"] = [float(model.count_params())] * epochs
        history.history["fit_seconds"] = [seconds] * epochs
        history.history["epochs_trained"] = [float(epochs)] * epochs
