"""RichTrainingReport: live progress, one aligned row per epoch and a closing summary.

The report takes the place of Keras's progress bar. Keras adds its own
``ProgbarLogger`` to ``fit`` only when the callbacks hold none, and the report
is one (a subclass that overrides every hook), so ``fit`` prints once whatever
``verbose`` says, including ``verbose=0``.

What it costs: per training batch it stores the batch counter and a reference
to the logs Keras has already converted, nothing more (``async_safe``, so the
backends that run batch hooks on a background thread keep doing so). Drawing
happens on a background thread at ``refresh_per_second``, and only in a
terminal or Jupyter. Per epoch it reads the learning rate once.

Where it goes is decided by :mod:`keras_cnnlab.callbacks.console`: a terminal
gets a live progress line under the epoch rows; Jupyter one display updated in
place; a file, a pipe or CI a header, one row per epoch as it ends, a progress
line now and then during a long epoch (``progress_interval``) and the summary,
in lines that fit the width, with no control characters and no trailing blanks.

Keras calls no callback when ``fit`` raises (Ctrl-C, an error in a step or a
callback): the display watches the frame of ``fit`` and stops itself when it
is gone (see :class:`~keras_cnnlab.callbacks.console.LiveDisplay`).

What Keras and KerasTuner do not hand a callback (the data of ``fit``, the
frame of ``fit``, the trial of a search nobody told the report about) is read
by :mod:`keras_cnnlab._internals`, and only there.
"""
from __future__ import annotations

import copy
import dataclasses
import functools
import math
import numbers
import textwrap
import threading
import time
import warnings
from pathlib import Path

import keras
from keras.callbacks import ProgbarLogger
from rich.console import Group
from rich.rule import Rule
from rich.text import Text

from keras_cnnlab import _internals
from keras_cnnlab.callbacks.links import attach_report, attached_monitor
from keras_cnnlab.curves import metric_direction
from keras_cnnlab.display.console import (
    make_console,
    print_to,
    recording_console,
    render_mode,
    strip_trailing_blanks,
)
from keras_cnnlab.display.live import LiveDisplay

__all__ = ["RichTrainingReport", "EpochRecord", "TrainingSummary"]

_PREFIXES = ("val_", "train_eval_", "gap_")
_LR_KEYS = ("learning_rate", "lr")
_EXPORT_SUFFIXES = (".txt", ".html", ".svg")
# Log keys of derived tuning objectives (GapPenalizedAccuracy's val_accuracy_minus_gap):
# they repeat figures the table has, so they are shown only when they pick the best epoch.
_DERIVED_SUFFIXES = ("_minus_gap",)
_GAP = "  "  # between two columns
_FIGURE_WIDTH = 8  # what _cell() writes at most


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


class _Run:
    """State of one fit; replaced at every ``on_train_begin``."""

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


@dataclasses.dataclass(frozen=True)
class _Column:
    """One column of the epoch rows: what it shows, its header and its width."""

    kind: str  # "epoch", "log", "lr", "time" or "rate"
    label: str  # the log key, or what the column is, for the list of columns left out
    header: tuple  # (top line, bottom line)
    width: int
    rank: int  # when space is short, the highest ranks are left out first
    justify: str = "right"
    style: str | None = None


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
    finds it itself.

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
        batch_size: images per training batch, for the throughput, used when
            the data given to ``fit`` does not tell (a generator, a
            ``PyDataset``). Arrays and ``tf.data`` pipelines give their own,
            and the exact number of images, the smaller last batch included.
            Without either, throughput is given in steps/s.
        trial_header: print the KerasTuner trial and hyperparameters first
            (the trial given to :meth:`set_trial`, else the one of the search
            running ``fit``, if any).
        width: render width for files and exports (default 120).
        progress_interval: seconds between two progress lines in a file, a
            pipe or CI, counted from the last line printed, so an epoch shorter
            than this prints none; ``None`` prints none at all.

    Example:
        >>> from keras_cnnlab import OverfittingGapMonitor, RichTrainingReport
        >>> report = RichTrainingReport()
        >>> # model.fit(x, y, validation_data=(xv, yv), epochs=10,
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
        if (
            isinstance(refresh_per_second, bool)
            or not isinstance(refresh_per_second, numbers.Real)
            or not 0 < refresh_per_second <= 60
        ):
            raise ValueError(
                "Invalid value for argument `refresh_per_second`. Expected a number in (0, 60]. "
                f"Received refresh_per_second={refresh_per_second!r}."
            )
        if monitor is not None and (not isinstance(monitor, str) or not monitor):
            raise ValueError(
                "Invalid value for argument `monitor`. Expected None or a log key such as "
                f"'val_loss' or 'val_accuracy'. Received monitor={monitor!r}."
            )
        if mode not in ("auto", "min", "max"):
            raise ValueError(
                "Invalid value for argument `mode`. Expected one of ('auto', 'min', 'max'). "
                f"Received mode={mode!r}."
            )
        if metrics is not None:
            if isinstance(metrics, str):
                metrics = [metrics]
            metrics = list(metrics)
            if not all(isinstance(m, str) and m for m in metrics):
                raise ValueError(
                    "Invalid value for argument `metrics`. Expected None or a list of metric "
                    f"names such as ['accuracy']. Received metrics={metrics!r}."
                )
        if batch_size is not None and (
            isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1
        ):
            raise ValueError(
                "Invalid value for argument `batch_size`. Expected None or a positive integer. "
                f"Received batch_size={batch_size!r}."
            )
        if width is not None and (not isinstance(width, numbers.Integral) or width < 40):
            raise ValueError(
                f"Invalid value for argument `width`. Expected None or an integer >= 40. Received width={width!r}."
            )
        if progress_interval is not None and (
            isinstance(progress_interval, bool)
            or not isinstance(progress_interval, numbers.Real)
            or not 0 < progress_interval < math.inf
        ):
            raise ValueError(
                "Invalid value for argument `progress_interval`. Expected None or a positive "
                f"number of seconds, such as 30. Received progress_interval={progress_interval!r}."
            )
        self.refresh_per_second = float(refresh_per_second)
        self.monitor = monitor
        self.mode = mode
        self.metrics = metrics
        self.batch_size = batch_size
        self.trial_header = bool(trial_header)
        self.width = width
        self.progress_interval = None if progress_interval is None else float(progress_interval)
        self._console = make_console(console, width=width)
        # Batch hooks only store a counter: safe to run on Keras's callback thread.
        self.async_safe = True
        self._run = _Run()
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
        run = self._run
        records = run.records
        last = records[-1].logs if records else {}
        best = records[run.best_index] if run.best_index is not None else None
        images = [r.images for r in records]
        total_images = sum(images) if records and None not in images else None
        train_seconds = sum(r.train_seconds for r in records)
        end = run.end if run.end is not None else time.perf_counter()
        monitor = run.gap_monitor
        # only a monitor that took part in this fit: it wrote its gap into these logs
        if monitor is not None and not (
            records and monitor.last_epoch == records[-1].epoch and any(k.startswith("gap_") for k in last)
        ):
            monitor = None
        return TrainingSummary(
            epochs=len(records),
            monitor=run.monitor,
            best_epoch=best.epoch if best else None,
            best_value=best.logs.get(run.monitor) if best else None,
            final_logs=dict(last),
            final_gaps={k: v for k, v in last.items() if k.startswith("gap_")},
            verdict=monitor.verdict if monitor is not None else None,
            seconds=end - run.start if records else 0.0,
            train_seconds=train_seconds,
            images=total_images,
            images_per_second=total_images / train_seconds if total_images and train_seconds > 0 else None,
            trial=run.trial,
        )

    # -- rendering -------------------------------------------------------------

    def table(self, width: int | None = None) -> Text:
        """The epoch table of the last fit, best epoch marked, as a styled rich Text.

        Args:
            width: the width to fit (default: the console's); columns that do
                not fit are left out, least important first, and named under
                the header.
        """
        run = self._run
        layout = self._layout(width or self._console.width)
        text = self._header_text(layout)
        text.append("\n")
        for i, record in enumerate(run.records):
            text.append_text(self._row_text(layout, record, marked=i == run.best_index))
            text.append("\n")
        if run.best_index is not None:
            text.append(f"* best {run.monitor}\n")
        return text

    def summary_renderable(self, width: int | None = None) -> Text:
        """The closing summary as a styled rich Text, wrapped to ``width`` (default: the console's)."""
        s = self.summary()
        records = self._run.records
        lines = []
        if s.best_epoch is not None:
            lines.append(("Best epoch", [f"{s.best_epoch + 1} of {s.epochs}: {s.monitor} {_fmt(s.best_value)}"], ""))
        if s.final_logs:
            shown = [k for k in self._columns() if not k.startswith("gap_") and k in s.final_logs]
            if shown:
                lines.append(("Final epoch", [f"{k} {_fmt(s.final_logs[k])}" for k in shown], "  "))
        if s.final_gaps:
            lines.append((
                "Final gap",
                [f"{k} {_fmt(v)}" for k, v in s.final_gaps.items()] + ["(positive: better on the training data)"],
                "  ",
            ))
        if s.verdict is not None:
            lines.append(("Gap monitor", s.verdict.split(" "), " "))
        if records and not any(r.steps for r in records):
            throughput = "no training batches: the data given to fit was empty"
        elif s.images_per_second:
            throughput = f"{s.images_per_second:,.0f} images/s"
        else:
            throughput = f"{_steps_per_second(records):,.1f} steps/s"
        time_line = (f"{_fmt_seconds(s.seconds)} in all, {_fmt_seconds(s.train_seconds)} in training "
                     f"steps; {throughput}")
        lines.append(("Time", time_line.split(" "), " "))
        if self._run.interrupted:
            lines.append(("Stopped", f"fit raised {self._run.interrupted} (Ctrl-C or an error)".split(" "), " "))
        return _labelled_lines(lines, width or self._console.width)

    def renderable(self, width: int | None = None) -> Group:
        """Trial header (in a search), epoch table and summary, as one renderable."""
        if self._run.display is not None:
            self._run.display.check()  # a fit that raised: its interrupted line comes first
        parts = []
        if self._run.trial:
            parts.append(Text(self._run.trial, style="bold magenta"))
        parts += [self.table(width), self.summary_renderable(width)]
        return Group(*parts)

    def _opening(self) -> list:
        parts = []
        trial = self._run.trial
        if trial and len(trial) + 6 <= self._console.width:
            parts.append(Rule(trial, characters="=", style="magenta"))
        elif trial:  # a Rule would cut its title with "...": the whole header, wrapped
            parts += [Rule(characters="=", style="magenta"), Text(trial, style="bold magenta")]
        parts.append(Text(self._header()))
        return parts

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
        path = Path(path)
        exporters = {".txt": self.export_text, ".html": self.export_html, ".svg": self.export_svg}
        if path.suffix.lower() not in exporters:
            raise ValueError(
                f"Invalid value for argument `path`. Expected a file name ending in one of "
                f"{_EXPORT_SUFFIXES}. Received path={str(path)!r}."
            )
        path.write_text(exporters[path.suffix.lower()](), encoding="utf-8")
        return path

    def _record(self):
        width = self.width or 120
        recorder = recording_console(width=width)
        recorder.print(self.renderable(width))
        return recorder

    # -- Keras hooks -----------------------------------------------------------

    def add_note(self, text: str) -> bool:
        """Print ``text`` under the current epoch's row; ``False`` when not in ``fit``.

        Other callbacks (the gap monitor) use it so that their findings follow
        the epoch they concern, in the same console.
        """
        run = self._run
        if not run.in_fit:
            return False
        run.notes.append(text)
        return True

    def set_trial(self, trial, tuner=None) -> None:
        """Tell the report which KerasTuner trial (and tuner) its next fits train.

        The trial gives the header (``Trial #<n>`` and its hyperparameters); the
        tuner the number KerasTuner printed for it and the search's objective,
        which then picks the best epoch (unless ``monitor`` was given).
        :class:`~keras_cnnlab.tuning.CNNHyperModel` calls it on the reports among
        a trial's callbacks; a tuner's own ``run_trial`` can too. ``set_trial(None)``
        forgets them. The copies KerasTuner makes of the report for each trial
        start untold.

        When not told, the report looks for the search running ``fit`` itself
        (:func:`keras_cnnlab._internals.calling_search`), and prints no header
        when it finds none.

        Args:
            trial: a ``keras_tuner.engine.trial.Trial`` (anything with
                ``trial_id`` and ``hyperparameters``), or ``None``.
            tuner: the tuner running it (anything with an ``oracle``), or ``None``.
        """
        if trial is not None and not (hasattr(trial, "trial_id") and hasattr(trial, "hyperparameters")):
            raise ValueError(
                "Invalid value for argument `trial`. Expected None or a KerasTuner Trial "
                f"(with trial_id and hyperparameters). Received trial={trial!r}."
            )
        if tuner is not None and not hasattr(tuner, "oracle"):
            raise ValueError(
                "Invalid value for argument `tuner`. Expected None or a KerasTuner tuner "
                f"(with an oracle). Received tuner={tuner!r}."
            )
        self._search = None if trial is None else (trial, tuner)

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
        previous = self._run
        if previous.display is not None:  # a fit that raised, and its display still runs
            previous.display.abort()
        run = self._run = _Run()
        run.in_fit = True
        run.gap_monitor = attached_monitor(self._model) if self._model is not None else None
        params = self.params or {}
        run.epochs = params.get("epochs")
        run.steps = params.get("steps")
        fit_frame = _internals.fit_frame(self._model)
        run.batch_size, run.num_batches, run.partial_batch = self._batch_geometry(fit_frame)
        trial, run.objective = self._search_context()
        if self.trial_header:
            run.trial = trial
        run.mode = render_mode(self._console)
        if run.mode != "jupyter":  # Jupyter shows everything in its one display
            for part in self._opening():
                self._print(part)
        # Stops the display if fit raises; a loop driving the hooks by hand owns it otherwise.
        owner = fit_frame if fit_frame is not None else _internals.hook_caller_frame()
        interval = self.progress_interval if run.mode == "plain" else None
        if run.mode != "plain" or interval is not None or owner is not None:
            run.display = LiveDisplay(
                self._console,
                self._live_renderable if run.mode != "plain" else self._plain_progress,
                refresh_per_second=self.refresh_per_second,
                owner=owner,
                on_abort=functools.partial(self._interrupted, run),
                interval=interval,
            )
            run.display.start()

    def on_epoch_begin(self, epoch, logs=None):
        run = self._run
        self._flush()
        run.epoch = epoch
        run.epoch_start = time.perf_counter()
        run.val_start = None
        run.step = 0
        run.val_step = 0
        run.phase = "training"

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
        run = self._run
        now = time.perf_counter()
        start = run.epoch_start if run.epoch_start is not None else now
        train_end = run.val_start if run.val_start is not None else now
        # The row is completed at the next epoch start or at the end of training,
        # so that callbacks listed after this one (the gap monitor) have written
        # their figures into the same logs.
        run.pending = (epoch, logs if logs is not None else {}, now - start, train_end - start,
                       run.step, self._learning_rate(logs))
        run.phase = "epoch done"

    def on_train_end(self, logs=None):
        run = self._run
        self._flush()
        if run.mode != "jupyter":
            self._print_notes()
        run.end = time.perf_counter()
        run.in_fit = False
        run.phase = "done"
        final = None
        if run.mode == "jupyter":
            if run.records:
                notes = [Text(n, style="yellow") for n in run.notes]
                final = Group(*self._opening(), self.table(), *notes, self.summary_renderable())
        elif run.records:  # the rows are out already
            legend = [Text(f"* best {run.monitor} so far")] if run.marked else []
            final = Group(*legend, self.summary_renderable())
        if run.display is not None:
            run.display.stop(final)
            run.display = None
        elif final is not None:
            self._print(final)

    # Outside fit, evaluate and predict show Keras's own bar (as their verbose asks).
    def on_test_end(self, logs=None):
        if not self._run.in_fit:
            super().on_test_end(logs)

    def on_predict_begin(self, logs=None):
        super().on_predict_begin(logs)

    def on_predict_batch_end(self, batch, logs=None):
        super().on_predict_batch_end(batch, logs)

    def on_predict_end(self, logs=None):
        super().on_predict_end(logs)

    # -- internals -------------------------------------------------------------

    def _print(self, renderable):
        print_to(self._console, renderable)

    def _flush(self):
        run = self._run
        if run.pending is None:
            return
        epoch, logs, seconds, train_seconds, steps, lr = run.pending
        run.pending = None
        values = {k: float(v) for k, v in logs.items()
                  if isinstance(v, numbers.Real) and not isinstance(v, bool) and k not in _LR_KEYS}
        record = EpochRecord(
            epoch=epoch, logs=values, seconds=seconds, train_seconds=train_seconds,
            steps=steps, images=self._images(steps), learning_rate=lr,
        )
        run.records.append(record)
        improved = self._update_best(record)
        if not steps and not any(r.steps for r in run.records[:-1]):
            run.notes.insert(0, f"Epoch {epoch + 1} ran no training step: the data given to fit is empty.")
        if run.mode == "jupyter":
            return
        layout = self._layout(self._console.width)
        if run.layout is None or layout.columns != run.layout.columns:  # the first row, or new keys
            run.layout = layout
            self._print(self._header_text(layout))
        self._print(self._row_text(run.layout, record, marked=improved))
        run.marked = run.marked or improved
        self._print_notes()
        if run.display is not None:
            run.display.postpone()

    def _print_notes(self):
        run = self._run
        while run.notes:
            self._print(Text(run.notes.pop(0), style="yellow"))

    def _interrupted(self, run):
        """What a display shows last when its fit raised: called by the display, once."""
        if run is not self._run:
            return None
        phase = run.phase
        self._flush()  # the row of an epoch that had ended
        run.end = time.perf_counter()
        run.in_fit = False
        run.phase = "interrupted"
        total = f"/{run.epochs}" if run.epochs else ""
        if run.epoch is None:
            where = "before the first epoch"
        elif phase == "epoch done":
            where = f"after epoch {run.epoch + 1}{total}"
        elif phase == "validating":
            where = f"in epoch {run.epoch + 1}{total}, while validating"
        else:
            steps = f"/{run.steps}" if run.steps else ""
            where = f"in epoch {run.epoch + 1}{total} at step {run.step}{steps}"
        run.interrupted = where
        note = Text(f"Training interrupted {where}: fit raised (Ctrl-C or an error) before it ended.",
                    style="yellow")
        if run.mode == "jupyter":
            notes = [Text(n, style="yellow") for n in run.notes]
            return Group(*self._opening(), *([self.table()] if run.records else []), *notes, note)
        self._print_notes()
        return note

    def _update_best(self, record) -> bool:
        run = self._run
        if run.monitor is None:
            run.monitor, direction = self._resolve_monitor(record.logs)
            run.direction = self.mode if self.mode != "auto" else direction
        value = record.logs.get(run.monitor)
        if value is None or not math.isfinite(value):
            return False
        if run.best_index is not None:
            best = run.records[run.best_index].logs[run.monitor]
            if not (value > best if run.direction == "max" else value < best):
                return False
        run.best_index = len(run.records) - 1
        return True

    def _resolve_monitor(self, logs) -> tuple[str, str]:
        """The key that picks the best epoch, and its direction when inferred."""
        objective = self._run.objective
        if self.monitor is None and objective is not None and objective[0] in logs:
            return objective  # a tuner search: the best epoch is the one its objective prefers
        fallback = "val_loss" if "val_loss" in logs else "loss"
        monitor = fallback
        if self.monitor is not None:
            if self.monitor in logs:
                monitor = self.monitor
            else:
                warnings.warn(
                    f"RichTrainingReport: monitor={self.monitor!r} is not in the epoch logs "
                    f"(available: {', '.join(sorted(logs))}); the best epoch is chosen by {fallback!r}.",
                    UserWarning,
                    stacklevel=4,
                )
        return monitor, metric_direction(monitor, self._model) or "min"

    def _columns(self) -> list[str]:
        """The log keys shown, in table order: training, val_, train_eval_, gap_ figures."""
        keys = []
        for record in self._run.records:
            keys += [k for k in record.logs if k not in keys]
        keys = [k for k in keys if not k.endswith(_DERIVED_SUFFIXES) or k == self._run.monitor]
        bases = []
        for key in keys:
            base = _base(key)
            if base not in bases and (self.metrics is None or base == "loss" or base in self.metrics):
                bases.append(base)
        bases.sort(key=lambda b: (b != "loss", b))
        columns = []
        for prefix in ("", "val_", "train_eval_", "gap_"):
            columns += [prefix + b for b in bases if prefix + b in keys]
        return columns

    def _layout(self, width: int) -> _Layout:
        """The columns of the epoch rows that fit ``width``, the most important first."""
        run = self._run
        keys = self._columns()
        trained = {k for k in keys if not k.startswith(_PREFIXES)}
        epochs = run.epochs or max((r.epoch + 1 for r in run.records), default=1)
        epoch_label = f"Epoch {epochs}/{epochs} *" if run.epochs else f"Epoch {epochs} *"
        candidates = [_Column("epoch", "epoch", ("", ""), len(epoch_label), 0, justify="left")]
        for key in keys:
            prefix = next((p[:-1] for p in _PREFIXES if key.startswith(p)), "train")
            name = key.removeprefix(prefix + "_")
            candidates.append(_Column(
                "log", key, (prefix, name), max(_FIGURE_WIDTH, len(prefix), len(name)),
                _rank(key, run.monitor, trained), style="cyan" if key.startswith("gap_") else None,
            ))
        if any(r.learning_rate is not None for r in run.records):
            candidates.append(_Column("lr", "lr", ("", "lr"), 8, 7))
        candidates.append(_Column("time", "time", ("", "time"), 6, 4))
        unit = "img/s" if self._images_known() else "steps/s"
        candidates.append(_Column("rate", unit, ("", unit), max(7, len(unit)), 6))
        kept, used = set(), -len(_GAP)
        for i, column in sorted(enumerate(candidates), key=lambda item: (item[1].rank, item[0])):
            if used + len(_GAP) + column.width <= width or not kept:
                kept.add(i)
                used += len(_GAP) + column.width
        columns = tuple(c for i, c in enumerate(candidates) if i in kept)
        left_out = tuple(c.label for i, c in enumerate(candidates) if i not in kept)
        return _Layout(columns, left_out, width)

    def _header_text(self, layout: _Layout) -> Text:
        text = Text(end="")
        for line in (0, 1):
            cells = [_pad(c.header[line], c) for c in layout.columns]
            header = _GAP.join(cells).rstrip()
            if header:
                text.append(header + "\n", style="bold")
        text.append("─" * layout.total + "\n")
        if layout.left_out:
            text.append_text(_wrapped(
                f"(left out to fit {layout.width} columns: {', '.join(layout.left_out)}; "
                "report.records and report.save() have every figure)", layout.width, style="dim",
            ))
            text.append("\n")
        text.rstrip()
        return text

    def _row_text(self, layout: _Layout, record, *, marked: bool) -> Text:
        run = self._run
        total = f"/{run.epochs}" if run.epochs else ""
        line = Text(no_wrap=True, overflow="ellipsis", end="")
        for j, column in enumerate(layout.columns):
            if column.kind == "epoch":
                cell = f"Epoch {record.epoch + 1}{total}" + (" *" if marked else "")
            elif column.kind == "log":
                cell = _cell(record.logs.get(column.label))
            elif column.kind == "lr":
                cell = _fmt_lr(record.learning_rate)
            elif column.kind == "time":
                cell = _fmt_seconds(record.seconds)
            else:
                cell = _fmt_rate(record, unit=False)
            if j:
                line.append(_GAP)
            line.append(_pad(cell, column), style="bold green" if marked else column.style)
        line.rstrip()
        return line

    def _header(self) -> str:
        run = self._run
        epochs = f"{run.epochs} epoch{'s' if run.epochs != 1 else ''}" if run.epochs else "training"
        steps = f" of {run.steps} steps" if run.steps else ""
        images = ""
        if run.batch_size:
            per_epoch = self._images(run.steps) if run.steps else None
            images = f" (batch {run.batch_size}" + (f", {per_epoch:,} images per epoch)" if per_epoch else ")")
        return f"Training: {epochs}{steps}{images}"

    def _live_renderable(self):
        run = self._run
        parts = []
        if run.mode == "jupyter":
            parts += self._opening()
            if run.records:
                parts.append(self.table())
            parts += [Text(note, style="yellow") for note in list(run.notes)]
        parts.append(self._progress_line())
        return Group(*parts)

    def _progress_line(self) -> Text:
        run = self._run
        total = f"/{run.epochs}" if run.epochs else ""
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(f"Epoch {run.epoch + 1}{total}" if run.epoch is not None else "Starting", style="bold")
        if run.phase == "validating":
            line.append(f"  validating, step {run.val_step}", style="yellow")
            line.append(f"  {self._elapsed_and_left()}")
            return line
        step = run.step
        width = 28
        if run.steps:
            done = min(width, int(width * step / run.steps))
            line.append(" ")
            line.append("━" * done, style="bar.complete")
            line.append("━" * (width - done), style="bar.back")
            line.append(f" {step}/{run.steps}")
        else:
            line.append(f" step {step}")
        rate = self._live_rate()
        if rate:
            line.append(f"  {rate}")
        line.append(f"  {self._elapsed_and_left()}")
        line.append_text(self._live_metrics())
        return line

    def _plain_progress(self) -> Text | None:
        """The line a plain console gets now and then during an epoch, or ``None``."""
        run = self._run
        if not run.in_fit or run.epoch is None or run.phase not in ("training", "validating"):
            return None
        total = f"/{run.epochs}" if run.epochs else ""
        if run.phase == "validating":
            where = f"validating, step {run.val_step}"
        else:
            where = f"step {run.step}" + (f"/{run.steps}" if run.steps else "")
        parts = [f"  ... epoch {run.epoch + 1}{total}: {where}", self._live_rate(), self._elapsed_and_left()]
        line = Text(", ".join(p for p in parts if p), no_wrap=True, overflow="ellipsis")
        if run.phase == "training":
            line.append_text(self._live_metrics())
        return line

    def _live_rate(self) -> str:
        run = self._run
        now = time.perf_counter()
        train_time = (run.val_start or now) - (run.epoch_start or now)
        if train_time <= 0 or not run.step:
            return ""
        images = self._images(run.step)
        if images is not None:
            return f"{images / train_time:,.0f} img/s"
        return f"{run.step / train_time:,.1f} steps/s"

    def _elapsed_and_left(self) -> str:
        run = self._run
        now = time.perf_counter()
        text = f"{_fmt_seconds(now - run.start)} elapsed"
        if run.phase == "training":
            remaining = self._remaining(run.step, now - (run.epoch_start or now))
            if remaining is not None:
                text += f", ~{_fmt_seconds(remaining)} left"
        return text

    def _remaining(self, step, elapsed):
        run = self._run
        if not run.steps or not step or run.epochs is None or run.epoch is None:
            return None
        this_epoch = elapsed / step * (run.steps - step)
        later = run.epochs - run.epoch - 1
        per_epoch = (
            sum(r.seconds for r in run.records) / len(run.records) if run.records else elapsed / step * run.steps
        )
        return this_epoch + later * per_epoch

    def _live_metrics(self) -> Text:
        logs = self._run.batch_logs
        text = Text()
        if not logs:
            return text
        try:
            items = list(logs.items())
        except Exception:  # a logs object being replaced under us: skip this frame
            return text
        items.sort(key=lambda item: item[0] != "loss")
        for key, value in items:
            if key.startswith(_PREFIXES) or key in _LR_KEYS:
                continue
            if isinstance(value, numbers.Real) and (self.metrics is None or key == "loss" or key in self.metrics):
                text.append(f"  {key} {_fmt(value)}")
        return text

    def _learning_rate(self, logs):
        for key in _LR_KEYS:
            if logs and isinstance(logs.get(key), numbers.Real):
                return float(logs[key])
        try:
            # float() reads a scalar variable or tensor on every backend (one sync per epoch)
            return float(self._model.optimizer.learning_rate)
        except Exception:  # no optimizer or an exotic one: no lr column
            return None

    def _batch_geometry(self, fit_frame):
        """(batch size, batches per epoch, size of the last batch) of the data given to fit.

        The data knows better than ``batch_size=``: arrays give their last,
        smaller batch, and a ``tf.data`` pipeline its batch op and input size
        (read by :func:`keras_cnnlab._internals.fit_batch_geometry`).
        """
        size, num_batches, partial = _internals.fit_batch_geometry(fit_frame)
        if size is None:
            size = self.batch_size
        return size, num_batches, partial

    def _search_context(self):
        """("Trial #<n>...", (objective, direction)) of the KerasTuner search running this fit.

        The trial and tuner given to :meth:`set_trial`, else those found on the
        call stack. Trials are numbered as KerasTuner numbers them ("Search:
        Running Trial #1" for trial_id "0"). Either is ``None`` when not known,
        the objective also for an objective of several metrics.
        """
        if self._search is not None:
            trial, tuner = self._search
        else:
            tuner, trial = _internals.calling_search()
        oracle = getattr(tuner, "oracle", None)
        header = _trial_header(trial, oracle) if trial is not None else None
        return header, _search_objective(oracle)

    def _images(self, steps):
        run = self._run
        if run.batch_size is None or steps is None:
            return None
        images = steps * run.batch_size
        if run.partial_batch and run.num_batches and steps == run.num_batches:
            images -= run.batch_size - run.partial_batch
        return images

    def _images_known(self) -> bool:
        return bool(self._run.records) and all(r.images is not None for r in self._run.records)

    # -- copies ------------------------------------------------------------------

    def __deepcopy__(self, memo):
        # KerasTuner deep-copies callbacks per trial: share the console (it holds
        # locks and a file), start with no model and no state.
        cls = type(self)
        new = cls.__new__(cls)
        memo[id(self)] = new
        for key, value in self.__dict__.items():
            if key == "_console":
                new.__dict__[key] = value
            elif key in ("_model", "params", "progbar", "_search"):  # a copy is told its own trial
                new.__dict__[key] = None
            elif key == "_run":
                new.__dict__[key] = _Run()
            else:
                new.__dict__[key] = copy.deepcopy(value, memo)
        return new


@dataclasses.dataclass(frozen=True)
class _Layout:
    """The columns of a fit's epoch rows, and those left out to fit ``width``."""

    columns: tuple
    left_out: tuple
    width: int

    @property
    def total(self) -> int:
        return sum(c.width for c in self.columns) + len(_GAP) * (len(self.columns) - 1)


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


def _search_objective(oracle):
    """(name, direction) of a KerasTuner oracle's objective; ``None`` without one, or for several metrics."""
    goal = getattr(oracle, "objective", None)
    name, direction = getattr(goal, "name", None), getattr(goal, "direction", None)
    if isinstance(name, str) and direction in ("min", "max") and type(goal).__name__ != "MultiObjective":
        return name, direction
    return None


def _trial_header(trial, oracle) -> str:
    """``Trial #<n>`` and the hyperparameters KerasTuner's own table did not show whole.

    The hyperparameters follow when KerasTuner printed no table of them in this
    process (``verbose=0``, a worker of a distributed search); after its table
    only the values it cut short are repeated, whole.
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
    settings = ", ".join(f"{k}={_fmt_hp(v)}" for k, v in values.items())
    return f"Trial #{number}" + (f": {settings}" if settings else "")


def _base(key: str) -> str:
    for prefix in _PREFIXES:
        key = key.removeprefix(prefix)
    return key


def _rank(key: str, monitor: str | None, trained) -> int:
    """How soon a log column is left out when the rows are too wide: the higher, the sooner.

    The other columns rank so: the epoch 0 (always kept), the time 4, the
    throughput 6, the learning rate 7.
    """
    if key == monitor:
        return 0
    base = _base(key)
    if key.startswith("train_eval_"):
        return 8
    if key.startswith("gap_"):
        return 5 if base == "loss" else 3
    if base == "loss":
        return 1
    if key.startswith("val_") and base not in trained:
        return 9  # a figure of the validation data alone
    return 2


def _cell(value) -> str:
    """A figure in at most 8 characters, as four decimals where that fits."""
    if value is None:
        return "-"
    value = float(value)
    if not math.isfinite(value):
        return str(value)
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-3 or magnitude >= 1e4):
        text = f"{value:.2e}"
        return text if len(text) <= _FIGURE_WIDTH else f"{value:.1e}"
    return f"{value:.4f}" if magnitude < 100 else f"{value:.2f}"


def _pad(text: str, column) -> str:
    return text.ljust(column.width) if column.justify == "left" else text.rjust(column.width)


def _wrapped(sentence: str, width: int, *, style=None) -> Text:
    """``sentence`` broken at blanks into lines of at most ``width``."""
    return Text("\n".join(textwrap.wrap(sentence, width)), style=style or "")


def _labelled_lines(lines, width: int) -> Text:
    """Bold labels in a column; each value's pieces wrapped to ``width`` under its start.

    ``lines`` holds ``(label, pieces, separator)``: the pieces of a list of
    figures are joined by two blanks, the words of a sentence by one.
    """
    label_width = max(len(label) for label, _, _ in lines) + 2
    text = Text()
    for i, (label, pieces, separator) in enumerate(lines):
        if i:
            text.append("\n")
        text.append(label.ljust(label_width), style="bold")
        column = label_width
        for j, piece in enumerate(pieces):
            gap = separator if j else ""
            if j and column + len(gap) + len(piece) > width:
                text.append("\n" + " " * label_width)
                column, gap = label_width, ""
            text.append(gap + piece)
            column += len(gap) + len(piece)
    return text


def _fmt(value) -> str:
    if value is None:
        return "-"
    if not isinstance(value, numbers.Real):
        return str(value)
    value = float(value)
    if not math.isfinite(value):
        return str(value)
    if value != 0 and (abs(value) >= 1e4 or abs(value) < 1e-3):
        return f"{value:.3e}"
    return f"{value:.4f}"


def _fmt_hp(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _fmt_lr(value) -> str:
    return "-" if value is None else f"{value:.2e}"


def _fmt_seconds(seconds) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _fmt_rate(record, unit: bool = True) -> str:
    if not record.steps:
        return "no data"
    rate = record.images_per_second
    if rate is not None:
        return f"{rate:,.0f}" + (" img/s" if unit else "")
    if record.train_seconds > 0:
        return f"{record.steps / record.train_seconds:,.1f}" + (" steps/s" if unit else "")
    return "-"


def _steps_per_second(records) -> float:
    seconds = sum(r.train_seconds for r in records)
    return sum(r.steps for r in records) / seconds if seconds > 0 else 0.0
