"""RichTrainingReport: live progress, one aligned row per epoch and a closing summary.

The report takes the place of Keras's progress bar. Keras adds its own
``ProgbarLogger`` to ``fit`` only when the callbacks hold none, and the report
is one (a subclass that overrides every hook), so ``fit`` prints once whatever
``verbose`` says, including ``verbose=0``.

It is split the way rich splits its progress display:

- :mod:`keras_cnnlab.callbacks.report_state`: the state and records of a fit
  (:class:`ReportRun`, :class:`EpochRecord`, :class:`TrainingSummary`), plain
  data and the rules that fill it;
- :mod:`keras_cnnlab.callbacks.report_render`: pure renderers, records to rich
  ``Text`` (the rows, the table, the summary, the progress lines);
- this module: the thin driver, the Keras callback whose hooks feed the state
  and print what the renderers draw.

What it costs: per training batch it stores the batch counter and a reference
to the logs Keras has already converted, nothing more (``async_safe``, so the
backends that run batch hooks on a background thread keep doing so). Drawing
happens on a background thread at ``refresh_per_second``, and only in a
terminal or Jupyter. Per epoch it reads the learning rate once.

Where it goes is decided by :mod:`keras_cnnlab.display.console`: a terminal
gets a live progress line under the epoch rows; Jupyter one display updated in
place; a file, a pipe or CI a header, one row per epoch as it ends, a progress
line now and then during a long epoch (``progress_interval``) and the summary,
in lines that fit the width, with no control characters and no trailing blanks.

What the report takes from public interfaces: the epochs and steps from the
callback's ``params``, the batch size from ``batch_size=``, the trial from
:meth:`RichTrainingReport.set_trial`. What none gives is read by
:mod:`keras_cnnlab._internals`, and only there: the frame of ``fit``, which the
display watches to stop itself when ``fit`` raises (Keras calls no callback
then), the data given to ``fit`` (the batch size when ``batch_size=`` is not
given, the size of the last batch), and KerasTuner's callback among the fit's
callbacks (the trial of a search nobody told the report about).
"""

from __future__ import annotations

import functools
import io
import numbers
import time
from pathlib import Path

import keras
from keras.callbacks import ProgbarLogger
from rich.console import Group
from rich.text import Text

from keras_cnnlab import _internals
from keras_cnnlab.callbacks import report_render as render
from keras_cnnlab.callbacks.copies import fresh_copy
from keras_cnnlab.callbacks.links import attach_report, attached_monitor
from keras_cnnlab.callbacks.report_args import check_arguments, check_trial
from keras_cnnlab.callbacks.report_output import ReportOutput
from keras_cnnlab.callbacks.report_state import (
    LR_KEYS,
    EpochRecord,
    ReportRun,
    TrainingSummary,
    batch_geometry,
    choose_monitor,
    search_objective,
    trial_header,
)
from keras_cnnlab.display.console import (
    make_console,
    recording_console,
    render_mode,
    strip_trailing_blanks,
)
from keras_cnnlab.distribute import is_chief

__all__ = ["RichTrainingReport", "EpochRecord", "TrainingSummary"]

_EXPORT_SUFFIXES = (".txt", ".html", ".svg")


class RichTrainingReport(ProgbarLogger):
    """Progress, one row per epoch with the best epoch marked, and a closing summary.

    Use it in place of Keras's progress bar: ``fit`` prints only the report,
    whatever ``verbose`` is. Each epoch gets one aligned row as it ends: the
    losses and metrics, the validation figures, the ``gap_*`` figures of an
    :class:`OverfittingGapMonitor`, the learning rate, the epoch time and the
    throughput in images/s. The rows fit the console's width: when it is too
    narrow, the least important columns are left out (the learning rate, the
    ``train_eval_*`` figures first) and the rows say which. The summary gives
    the best epoch and value, the final gap and the gap monitor's verdict when
    one is attached, the total time and the throughput. Inside a KerasTuner
    search each fit opens with the trial and its hyperparameters, and the best
    epoch is the one the search's objective prefers:
    :class:`~keras_cnnlab.tuning.CNNHyperModel` tells the report its trial
    (:meth:`set_trial`); in a search of a plain ``build`` function the report
    takes it from KerasTuner's own callback among the fit's callbacks.

    In a terminal a live progress line runs under the rows; in Jupyter one
    output shows the table, updated in place; in a file, a pipe or CI a plain
    progress line is printed every ``progress_interval`` seconds during an
    epoch, so that a long epoch does not look hung. When ``fit`` raises (Ctrl-C,
    an error), the progress stops at once and the standard streams are given
    back, though Keras calls no callback then.

    The figures are kept as objects (``records``, ``summary()``) and can be
    exported as text, HTML or SVG (``export_text()``, ``export_html()``,
    ``export_svg()``, ``save(path)``). Outside ``fit``, ``evaluate`` and
    ``predict`` show Keras's own progress bar, as their ``verbose`` asks.

    Args:
        console: where to render: ``None`` (standard output), a
            ``rich.console.Console``, a path (appended to) or a writable file.
        refresh_per_second: redraws per second of the live display.
        monitor: the log key that picks the best epoch; ``None`` means the
            objective of the KerasTuner search running the fit, else
            ``"val_loss"`` when there is validation data, ``"loss"`` otherwise.
        mode: ``"min"``, ``"max"``, or ``"auto"`` to infer it from ``monitor``.
        metrics: metric names (without ``val_``/``gap_`` prefixes) to show;
            ``None`` shows all. The loss is always shown.
        batch_size: images per training batch, for the throughput: pass the
            ``batch_size`` given to ``fit``. It comes first; when the data
            given to ``fit`` has the same batch size (arrays, a ``tf.data``
            pipeline made with ``.batch(n)``), its smaller last batch is
            counted exactly. ``None`` reads the batch size from the data where
            it says (not a generator, not a ``PyDataset``); without either,
            throughput is given in steps/s.
        trial_header: print the KerasTuner trial and hyperparameters first
            (the trial given to :meth:`set_trial`, else the one of KerasTuner's
            callback among the fit's callbacks, if any).
        width: render width for files and exports (default 120).
        progress_interval: seconds between two progress lines in a file, a
            pipe or CI, counted from the last line printed, so an epoch shorter
            than this prints none; ``None`` prints none at all.

    Example:
        >>> from keras_cnnlab import OverfittingGapMonitor, RichTrainingReport
        >>> report = RichTrainingReport(batch_size=32)
        >>> # model.fit(x, y, batch_size=32, validation_data=(xv, yv), epochs=10,
        >>> #           callbacks=[OverfittingGapMonitor(), report])
        >>> # report.summary().best_epoch; report.save("report.svg")
    """

    def __init__(
        self,
        console=None,
        *,
        refresh_per_second: float = 4.0,
        monitor: str | None = None,
        mode: str = "auto",
        metrics=None,
        batch_size: int | None = None,
        trial_header: bool = True,
        width: int | None = None,
        progress_interval: float | None = 30.0,
    ):
        super().__init__()
        metrics = check_arguments(refresh_per_second, monitor, mode, metrics, batch_size, width, progress_interval)
        self.refresh_per_second = float(refresh_per_second)
        self.monitor = monitor
        self.mode = mode
        self.metrics = metrics
        self.batch_size = batch_size
        self.trial_header = bool(trial_header)
        self.width = width
        self.progress_interval = None if progress_interval is None else float(progress_interval)
        self._console = make_console(console, width=width)
        self._chief_console = self._console  # the console of the chief, or of the one process
        # Batch hooks only store a counter: safe to run on Keras's callback thread.
        self.async_safe = True
        self._run = ReportRun()
        self._output = ReportOutput(self)
        self._search = None  # (trial, tuner) given to set_trial

    # -- results ---------------------------------------------------------------

    @property
    def console(self):
        """The rich Console the report renders to."""
        return self._console

    @property
    def records(self) -> list[EpochRecord]:
        """The rows of the epoch table of the last fit."""
        return list(self._run.records)

    def summary(self) -> TrainingSummary:
        """The closing summary of the last fit, as figures."""
        return self._run.summary()

    def table(self, width: int | None = None) -> Text:
        """The epoch table of the last fit, best epoch marked, as a styled rich Text.

        Args:
            width: the width to fit (default: the console's); columns that do
                not fit are left out, least important first, and named under
                the header.
        """
        return render.table(self._run, width or self._console.width, self.metrics)

    def summary_renderable(self, width: int | None = None) -> Text:
        """The closing summary as a styled rich Text, wrapped to ``width`` (default: the console's)."""
        return render.summary_text(self._run, self.summary(), width or self._console.width, self.metrics)

    def renderable(self, width: int | None = None) -> Group:
        """Trial header (in a search), epoch table and summary, as one renderable."""
        if self._run.display is not None:
            self._run.display.check()  # a fit that raised: its interrupted line comes first
        parts = [Text(self._run.trial, style="bold magenta")] if self._run.trial else []
        return Group(*parts, self.table(width), self.summary_renderable(width))

    def export_text(self) -> str:
        """The epoch table and summary as plain text."""
        return strip_trailing_blanks(self._record().export_text())

    def export_html(self) -> str:
        """The epoch table and summary as a standalone HTML page."""
        return self._record().export_html(inline_styles=True)

    def export_svg(self, title: str = "keras_cnnlab training report") -> str:
        """The epoch table and summary as an SVG picture."""
        return self._record().export_svg(title=title)

    def save(self, path) -> Path:
        """Write the export that the suffix of ``path`` names (.txt, .html or .svg)."""
        return _save(path, {".txt": self.export_text, ".html": self.export_html, ".svg": self.export_svg})

    def _record(self):
        recorder = recording_console(width=self.width or 120)
        recorder.print(self.renderable(recorder.width))
        return recorder

    # -- what others tell it ---------------------------------------------------

    def add_note(self, text: str) -> bool:
        """Print ``text`` under the current epoch's row; ``False`` when not in ``fit``.

        Other callbacks (the gap monitor) use it so that their findings follow
        the epoch they concern, in the same console.
        """
        if self._run.in_fit:
            self._run.notes.append(text)
        return self._run.in_fit

    def set_trial(self, trial, tuner=None) -> None:
        """Tell the report which KerasTuner trial (and tuner) its next fits train.

        The trial gives the header (``Trial #<n>`` and its hyperparameters); the
        tuner the number KerasTuner printed for it and the search's objective,
        which then picks the best epoch (unless ``monitor`` was given).
        :class:`~keras_cnnlab.tuning.CNNHyperModel` calls it on the reports among
        a trial's callbacks; a tuner's own ``run_trial`` can too. ``set_trial(None)``
        forgets them. The copies KerasTuner makes of the report for each trial
        start untold.

        When not told, the report takes the trial and tuner from KerasTuner's
        own callback among the fit's callbacks
        (:func:`keras_cnnlab._internals.fit_search`), and prints no header
        when there is none.

        Args:
            trial: a ``keras_tuner.engine.trial.Trial`` (anything with
                ``trial_id`` and ``hyperparameters``), or ``None``.
            tuner: the tuner running it (anything with an ``oracle``), or ``None``.
        """
        check_trial(trial, tuner)
        self._search = None if trial is None else (trial, tuner)

    # -- Keras hooks -----------------------------------------------------------

    def set_model(self, model):
        super().set_model(model)
        attach_report(model, self)

    def set_params(self, params):
        self.params = params
        try:  # evaluate/predict outside fit keep Keras's own bar, which reads these
            super().set_params(params)
        except (KeyError, TypeError):
            pass

    def on_train_begin(self, logs=None):
        if self._run.display is not None:  # a fit that raised, and its display still runs
            self._run.display.abort()
        run = self._run = ReportRun()
        run.in_fit = True
        run.gap_monitor = attached_monitor(self._model) if self._model is not None else None
        params = self.params or {}
        run.epochs, run.steps = params.get("epochs"), params.get("steps")
        fit_frame = _internals.fit_frame(self._model)
        run.batch_size, run.num_batches, run.partial_batch = batch_geometry(
            self.batch_size, _internals.fit_batch_geometry(fit_frame))
        run.trial, run.objective = _search_context(self._search, fit_frame, self.trial_header)
        self._console = _console_for(self._model, self._chief_console)
        run.mode = render_mode(self._console)
        # Stops the display if fit raises; a loop driving the hooks by hand owns it otherwise.
        owner = fit_frame if fit_frame is not None else _internals.hook_caller_frame()
        self._output.open(run, owner=owner, on_abort=functools.partial(self._interrupted, run))

    def on_epoch_begin(self, epoch, logs=None):
        self._flush()
        self._run.begin_epoch(epoch, time.perf_counter())
        if self._run.notes and self._run.mode != "jupyter":  # a resumed fit says so before its first row
            self._output.notes(self._run)

    def on_train_batch_end(self, batch, logs=None):
        # The counter and a reference only: formatting happens on the refresh thread.
        # The hooks of two batches may finish out of order: keep the furthest.
        run = self._run
        with run.lock:
            if batch + 1 > run.step:
                run.step = batch + 1
                run.batch_logs = logs

    def on_test_begin(self, logs=None):
        run = self._run
        if run.in_fit:
            _wait_for_device(self._model)  # the training steps end here, not when dispatched
            run.val_start = time.perf_counter()
            run.phase = "validating"
        else:
            super().on_test_begin(logs)

    def on_test_batch_end(self, batch, logs=None):
        run = self._run
        if run.in_fit:
            with run.lock:
                run.val_step = max(run.val_step, batch + 1)
        else:
            super().on_test_batch_end(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        # The row is completed at the next epoch start or at the end of training,
        # so that callbacks listed after this one (the gap monitor) have written
        # their figures into the same logs.
        self._run.end_epoch(epoch, logs, _learning_rate(self._model, logs), time.perf_counter())

    def on_train_end(self, logs=None):
        self._flush()
        self._run.finish(time.perf_counter())
        self._output.close(self._run)

    # Outside fit, evaluate and predict show Keras's own bar (as their verbose asks).
    def on_test_end(self, logs=None):
        if not self._run.in_fit:
            super().on_test_end(logs)

    # -- internals -------------------------------------------------------------

    def _flush(self):
        """Complete the epoch that ended, if one did, and print its row."""
        done = self._run.complete_epoch(self._choose_monitor)
        if done is not None:
            self._output.epoch_row(self._run, *done)

    def _choose_monitor(self, logs):
        # the warning of an unknown monitor points at the hook: _flush, then on_epoch_begin
        return choose_monitor(logs, self.monitor, self.mode, self._run.objective, self._model, stacklevel=6)

    def _interrupted(self, run):
        """What a display shows last when its fit raised: called by the display, once."""
        if run is not self._run:
            return None
        phase = run.phase
        self._flush()  # the row of an epoch that had ended
        run.finish(time.perf_counter(), "interrupted")
        run.interrupted = run.interruption(phase)
        run.ctrl_c = run.display is not None and run.display.ctrl_c
        return self._output.interrupted(run)

    # -- copies ------------------------------------------------------------------

    def __deepcopy__(self, memo):
        # KerasTuner deep-copies callbacks per trial: share the console (it holds locks
        # and a file), start with no model, no state and no trial (a copy is told its own).
        return fresh_copy(self, memo, shared=("_console", "_chief_console"), cleared=("_model", "params", "progbar", "_search"),
                          fresh={"_run": lambda new: ReportRun(), "_output": ReportOutput})


def _save(path, exporters) -> Path:
    path = Path(path)
    if path.suffix.lower() not in exporters:
        raise ValueError(
            f"Invalid value for argument `path`. Expected a file name ending in one of "
            f"{_EXPORT_SUFFIXES}. Received path={str(path)!r}."
        )
    path.write_text(exporters[path.suffix.lower()](), encoding="utf-8")
    return path


def _search_context(search, fit_frame, header: bool):
    """(trial header, (objective, direction)) of the KerasTuner search running a fit, each maybe ``None``.

    ``search`` is the ``(trial, tuner)`` given to ``set_trial``; without it,
    KerasTuner's own callback among the fit's callbacks
    (:func:`keras_cnnlab._internals.fit_search`).
    """
    if search is not None:
        trial, tuner = search
    else:
        tuner, trial = _internals.fit_search(fit_frame)
    oracle = getattr(tuner, "oracle", None)
    title = trial_header(trial, oracle) if header and trial is not None else None
    return title, search_objective(oracle)


def _console_for(model, console):
    """``console``; on a worker other than the chief of several, a console of its own in memory."""
    if model is not None and not is_chief(model):
        return make_console(io.StringIO(), width=console.width)
    return console


def _learning_rate(model, logs):
    """The learning rate the logs give, else the optimizer's; ``None`` without either."""
    for key in LR_KEYS:
        if logs and isinstance(logs.get(key), numbers.Real):
            return float(logs[key])
    try:
        # float() reads a scalar variable or tensor on every backend (one sync per epoch)
        return float(model.optimizer.learning_rate)
    except Exception:  # no optimizer or an exotic one: no lr column
        return None


def _wait_for_device(model) -> None:
    """Block until the device has run the training steps dispatched so far.

    JAX returns from a step before the device has run it, so a clock read right
    after the last step would leave the device's work out of the training time.
    """
    if model is None or keras.backend.backend() != "jax":
        return
    try:
        import jax

        variables = model.metrics_variables or model.trainable_variables
        if variables:  # the last step wrote every one of them: one is enough
            jax.block_until_ready(variables[0].value)
    except Exception:  # an exotic model: the time is then taken as it is
        pass
