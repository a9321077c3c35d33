"""RichTrainingReport: live progress, a per-epoch table and a closing summary.

The report takes the place of Keras's progress bar. Keras adds its own
``ProgbarLogger`` to ``fit`` only when the callbacks hold none, and the report
is one (a subclass that overrides every hook), so ``fit`` prints once whatever
``verbose`` says, including ``verbose=0``.

What it costs: per training batch it stores the batch counter and a reference
to the logs Keras has already converted, nothing more (``async_safe``, so the
backends that run batch hooks on a background thread keep doing so). Drawing
happens on a refresh thread at ``refresh_per_second``, and only in a terminal
or Jupyter. Per epoch it reads the learning rate once.

Where it goes is decided by :mod:`keras_cnnlab.callbacks.console`: a terminal
gets a live display; Jupyter one display updated in place; a file, a pipe or CI
one plain line per epoch and the table and summary at the end, with no control
characters.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import numbers
import sys
import threading
import time
import warnings
from pathlib import Path

from keras.callbacks import ProgbarLogger
from rich.console import Group
from rich.rule import Rule
from rich.text import Text

from keras_cnnlab.callbacks.console import (
    LiveDisplay,
    grid,
    make_console,
    recording_console,
    render_mode,
)
from keras_cnnlab.callbacks.gap_monitor import attach_report, attached_monitor, metric_direction

__all__ = ["RichTrainingReport", "EpochRecord", "TrainingSummary"]

_PREFIXES = ("val_", "train_eval_", "gap_")
_LR_KEYS = ("learning_rate", "lr")
_EXPORT_SUFFIXES = (".txt", ".html", ".svg")


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
        """Training throughput of the epoch (validation excluded)."""
        if self.images is None or self.train_seconds <= 0:
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
        self.gap_monitor = None  # the OverfittingGapMonitor of this fit's model, held for summary()
        self.start = time.perf_counter()
        self.end = None
        self.epoch = None
        self.epoch_start = None
        self.val_start = None
        self.phase = "starting"
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
        self.notes: list[str] = []


class RichTrainingReport(ProgbarLogger):
    """Progress, an epoch table with the best epoch marked, and a closing summary.

    Use it in place of Keras's progress bar: ``fit`` prints only the report,
    whatever ``verbose`` is. The epoch table has the losses and metrics, the
    validation figures, the ``gap_*`` figures of an :class:`OverfittingGapMonitor`,
    the learning rate, the epoch time and the throughput in images/s. The
    summary gives the best epoch and value, the final gap and the gap monitor's
    verdict when one is attached, the total time and the throughput. Inside a
    KerasTuner search each fit opens with the trial and its hyperparameters.

    The figures are kept as objects (``records``, ``summary()``) and can be
    exported as text, HTML or SVG (``export_text()``, ``export_html()``,
    ``export_svg()``, ``save(path)``). Outside ``fit``, ``evaluate`` and
    ``predict`` show Keras's own progress bar, as their ``verbose`` asks.

    Args:
        console: where to render: ``None`` (standard output), a
            ``rich.console.Console``, a path (appended to) or a writable file.
        refresh_per_second: redraws per second of the live display.
        monitor: the log key that picks the best epoch; ``None`` means
            ``"val_loss"`` when there is validation data, ``"loss"`` otherwise.
        mode: ``"min"``, ``"max"``, or ``"auto"`` to infer it from ``monitor``.
        metrics: metric names (without ``val_``/``gap_`` prefixes) to show;
            ``None`` shows all. The loss is always shown.
        batch_size: images per training batch, for the throughput. ``None`` reads
            it from the data given to ``fit`` when that is possible (arrays and
            batched ``tf.data``); otherwise throughput is given in steps/s.
        trial_header: print the KerasTuner trial and hyperparameters first.
        width: render width for files and exports (default 120).

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
        self.refresh_per_second = float(refresh_per_second)
        self.monitor = monitor
        self.mode = mode
        self.metrics = metrics
        self.batch_size = batch_size
        self.trial_header = bool(trial_header)
        self.width = width
        self._console = make_console(console, width=width)
        # Batch hooks only store a counter: safe to run on Keras's callback thread.
        self.async_safe = True
        self._run = _Run()

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

    def table(self) -> Text:
        """The epoch table of the last fit, best epoch marked, as a styled rich Text.

        Laid out by :func:`~keras_cnnlab.callbacks.console.grid` rather than by
        ``rich.table.Table``, whose layout costs ten times more: the table is
        drawn at the end of every fit.
        """
        run = self._run
        columns = self._columns()
        show_lr = any(r.learning_rate is not None for r in run.records)
        unit = "img/s" if self._images_known() else "steps/s"
        # Two-line headers ("val" over "accuracy") keep the columns narrow.
        headers = [("", "epoch")]
        for key in columns:
            prefix = next((p[:-1] for p in _PREFIXES if key.startswith(p)), "train")
            headers.append((prefix, key.removeprefix(prefix + "_")))
        headers += ([("", "lr")] if show_lr else []) + [("", "time"), ("", unit)]
        styles = [None] + ["cyan" if key.startswith("gap_") else None for key in columns]
        styles += [None] * (len(headers) - len(styles))
        rows = []
        for i, record in enumerate(run.records):
            cells = [f"{record.epoch + 1}{' *' if i == run.best_index else ''}"]
            cells += [_fmt(record.logs.get(key)) for key in columns]
            if show_lr:
                cells.append(_fmt_lr(record.learning_rate))
            cells += [_fmt_seconds(record.seconds), _fmt_rate(record, unit=False)]
            rows.append(cells)
        row_styles = ["bold green" if i == run.best_index else None for i in range(len(rows))]
        text = grid(headers, rows, column_styles=styles, row_styles=row_styles)
        if run.best_index is not None:
            text.append(f"* best {run.monitor}\n")
        return text

    def summary_renderable(self) -> Text:
        """The closing summary as a styled rich Text."""
        s = self.summary()
        lines = []
        if s.best_epoch is not None:
            lines.append(("Best epoch", f"{s.best_epoch + 1} of {s.epochs}: {s.monitor} {_fmt(s.best_value)}"))
        if s.final_logs:
            shown = [k for k in self._columns() if not k.startswith("gap_") and k in s.final_logs]
            lines.append(("Final epoch", "  ".join(f"{k} {_fmt(s.final_logs[k])}" for k in shown)))
        if s.final_gaps:
            lines.append((
                "Final gap",
                "  ".join(f"{k} {_fmt(v)}" for k, v in s.final_gaps.items())
                + "  (positive: better on the training data)",
            ))
        if s.verdict is not None:
            lines.append(("Gap monitor", s.verdict))
        throughput = (
            f"{s.images_per_second:,.0f} images/s" if s.images_per_second
            else f"{_steps_per_second(self._run.records):,.1f} steps/s"
        )
        lines.append((
            "Time",
            f"{_fmt_seconds(s.seconds)} in all, {_fmt_seconds(s.train_seconds)} in training steps; {throughput}",
        ))
        width = max(len(label) for label, _ in lines)
        text = Text()  # ends with a newline, so that what is printed next starts a line
        for i, (label, value) in enumerate(lines):
            text.append(label.ljust(width + 2), style="bold")
            text.append(value + ("\n" if i < len(lines) - 1 else ""))
        return text

    def renderable(self) -> Group:
        """Trial header (in a search), epoch table and summary, as one renderable."""
        parts = []
        if self._run.trial:
            parts.append(Text(self._run.trial, style="bold magenta"))
        parts += [self.table(), self.summary_renderable()]
        return Group(*parts)

    def _opening(self) -> list:
        parts = []
        if self._run.trial:
            parts.append(Rule(self._run.trial, characters="=", style="magenta"))
        parts.append(Text(self._header()))
        return parts

    def export_text(self) -> str:
        """The epoch table and summary as plain text."""
        recorder = self._record()
        return recorder.export_text()

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
        recorder = recording_console(width=self.width or max(self._console.width, 100))
        recorder.print(self.renderable())
        return recorder

    # -- Keras hooks -----------------------------------------------------------

    def add_note(self, text: str) -> bool:
        """Print ``text`` under the current epoch's line; ``False`` when not in ``fit``.

        Other callbacks (the gap monitor) use it so that their findings follow
        the epoch they concern, in the same console.
        """
        run = self._run
        if not run.in_fit:
            return False
        run.notes.append(text)
        return True

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
        if previous.display is not None:  # a fit interrupted by an exception
            previous.display.stop()
        run = self._run = _Run()
        run.in_fit = True
        run.gap_monitor = attached_monitor(self._model) if self._model is not None else None
        params = self.params or {}
        run.epochs = params.get("epochs")
        run.steps = params.get("steps")
        run.batch_size, run.num_batches, run.partial_batch = self._batch_geometry()
        if self.trial_header:
            run.trial = _tuner_trial_header()
        run.mode = render_mode(self._console)
        if run.mode != "jupyter":  # Jupyter shows everything in its one display
            for part in self._opening():
                self._console.print(part, soft_wrap=True)
        if run.mode != "plain":
            run.display = LiveDisplay(
                self._console, self._live_renderable, refresh_per_second=self.refresh_per_second
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
        if run.records:
            # the terminal and files showed the opening lines already; Jupyter's one display did not
            opening = self._opening() if run.mode == "jupyter" else []
            notes = [Text(n, style="yellow") for n in run.notes] if run.mode == "jupyter" else []
            final = Group(*opening, self.table(), *notes, self.summary_renderable())
        if run.display is not None:
            run.display.stop(final)
            run.display = None
        elif final is not None:
            self._print_plain(final)

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

    def _print_plain(self, renderable):
        self._console.print(renderable, soft_wrap=True, highlight=False)

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
        if run.mode != "jupyter":
            self._console.print(self._epoch_line(record, improved), highlight=False, soft_wrap=True)
            self._print_notes()

    def _print_notes(self):
        run = self._run
        while run.notes:
            self._console.print(Text(run.notes.pop(0), style="yellow"), soft_wrap=True)

    def _update_best(self, record) -> bool:
        run = self._run
        if run.monitor is None:
            run.monitor = self._resolve_monitor(record.logs)
            run.direction = (
                self.mode if self.mode != "auto" else metric_direction(run.monitor, self._model) or "min"
            )
        value = record.logs.get(run.monitor)
        if value is None or not math.isfinite(value):
            return False
        if run.best_index is not None:
            best = run.records[run.best_index].logs[run.monitor]
            if not (value > best if run.direction == "max" else value < best):
                return False
        run.best_index = len(run.records) - 1
        return True

    def _resolve_monitor(self, logs) -> str:
        fallback = "val_loss" if "val_loss" in logs else "loss"
        if self.monitor is None:
            return fallback
        if self.monitor not in logs:
            warnings.warn(
                f"RichTrainingReport: monitor={self.monitor!r} is not in the epoch logs "
                f"(available: {', '.join(sorted(logs))}); the best epoch is chosen by {fallback!r}.",
                UserWarning,
                stacklevel=4,
            )
            return fallback
        return self.monitor

    def _columns(self) -> list[str]:
        keys = []
        for record in self._run.records:
            keys += [k for k in record.logs if k not in keys]
        bases = []
        for key in keys:
            base = key
            for prefix in _PREFIXES:
                base = base.removeprefix(prefix)
            if base not in bases and (self.metrics is None or base == "loss" or base in self.metrics):
                bases.append(base)
        bases.sort(key=lambda b: (b != "loss", b))
        columns = []
        for prefix in ("", "val_", "train_eval_", "gap_"):
            columns += [prefix + b for b in bases if prefix + b in keys]
        return columns

    def _epoch_line(self, record, improved) -> Text:
        run = self._run
        total = f"/{run.epochs}" if run.epochs else ""
        line = Text()
        line.append(f"Epoch {record.epoch + 1}{total}", style="bold")
        for key in self._columns():
            if key in record.logs:
                line.append(f"  {key} {_fmt(record.logs[key])}", style="cyan" if key.startswith("gap_") else None)
        if record.learning_rate is not None:
            line.append(f"  lr {_fmt_lr(record.learning_rate)}")
        line.append(f"  {_fmt_seconds(record.seconds)}  {_fmt_rate(record)}")
        if improved:
            line.append(f"  * best {run.monitor}", style="bold green")
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
        now = time.perf_counter()
        total = f"/{run.epochs}" if run.epochs else ""
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(f"Epoch {run.epoch + 1}{total}" if run.epoch is not None else "Starting", style="bold")
        if run.phase == "validating":
            line.append(f"  validating, step {run.val_step}", style="yellow")
            line.append(f"  elapsed {_fmt_seconds(now - run.start)}")
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
        images = self._images(step)
        train_time = (run.val_start or now) - (run.epoch_start or now)
        if images is not None and train_time > 0:
            line.append(f"  {images / train_time:,.0f} img/s")
        elif train_time > 0:
            line.append(f"  {step / train_time:,.1f} steps/s")
        remaining = self._remaining(step, now - (run.epoch_start or now))
        line.append(f"  {_fmt_seconds(now - run.start)}")
        if remaining is not None:
            line.append(f" < {_fmt_seconds(remaining)}")
        line.append_text(self._live_metrics())
        return line

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

    def _batch_geometry(self):
        if self.batch_size is not None:
            return self.batch_size, None, None
        adapter = _fit_data_adapter(self._model)
        if adapter is None:
            return None, None, None
        try:
            size = adapter.batch_size
            size = int(size) if size is not None else None
        except Exception:
            return None, None, None
        try:
            num_batches = adapter.num_batches
            partial = adapter.partial_batch_size
        except Exception:
            num_batches = partial = None
        return size, num_batches, partial

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
            elif key in ("_model", "params", "progbar"):
                new.__dict__[key] = None
            elif key == "_run":
                new.__dict__[key] = _Run()
            else:
                new.__dict__[key] = copy.deepcopy(value, memo)
        return new


def _fit_data_adapter(model):
    """The data adapter of the ``fit`` call that is running ``model``, if found.

    Keras does not hand the batch size to callbacks; ``fit`` holds it in its
    ``epoch_iterator`` local on every backend.
    """
    frame = sys._getframe(1)
    for _ in range(12):
        if frame is None:
            return None
        if frame.f_code.co_name == "fit" and frame.f_locals.get("self") is model:
            iterator = frame.f_locals.get("epoch_iterator")
            return getattr(iterator, "data_adapter", None)
        frame = frame.f_back
    return None


def _tuner_trial_header() -> str | None:
    """"Trial <id>: hp=value, ..." when called inside a KerasTuner search."""
    if "keras_tuner" not in sys.modules:
        return None
    frame = sys._getframe(1)
    for _ in range(40):
        if frame is None:
            return None
        trial = frame.f_locals.get("trial")
        if (
            trial is not None
            and type(trial).__module__.startswith("keras_tuner")
            and hasattr(trial, "hyperparameters")
        ):
            values = getattr(trial.hyperparameters, "values", {}) or {}
            settings = ", ".join(f"{k}={_fmt_hp(v)}" for k, v in values.items())
            return f"Trial {trial.trial_id}" + (f": {settings}" if settings else "")
        frame = frame.f_back
    return None


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
    rate = record.images_per_second
    if rate is not None:
        return f"{rate:,.0f}" + (" img/s" if unit else "")
    if record.train_seconds > 0:
        return f"{record.steps / record.train_seconds:,.1f}" + (" steps/s" if unit else "")
    return "-"


def _steps_per_second(records) -> float:
    seconds = sum(r.train_seconds for r in records)
    return sum(r.steps for r in records) / seconds if seconds > 0 else 0.0
