"""The training report's renderers: a :class:`~keras_cnnlab.callbacks.report_state.ReportRun` as rich Text.

Pure functions of the run's records and counters (and of ``now``, for the
live figures): the epoch rows laid out to a width, the table, the summary, the
opening lines and the progress lines. They print nothing and read no clock, so
they are checked without a ``fit``. Every figure is written by
:mod:`keras_cnnlab.display.formatting`.
"""

from __future__ import annotations

import dataclasses
import numbers
import textwrap

from rich.rule import Rule
from rich.text import Text

from keras_cnnlab.callbacks.report_state import LR_KEYS, PREFIXES, log_base
from keras_cnnlab.display.formatting import (
    COLUMN_FIGURE_WIDTH,
    column_figure,
    duration,
    figure,
    learning_rate,
    thousands,
)

__all__ = [
    "Column",
    "Layout",
    "layout",
    "header_text",
    "row_text",
    "table",
    "summary_text",
    "opening",
    "fit_header",
    "progress_line",
    "plain_progress",
]

GAP = "  "  # between two columns


@dataclasses.dataclass(frozen=True)
class Column:
    """One column of the epoch rows: what it shows, its header and its width."""

    kind: str  # "epoch", "log", "lr", "time" or "rate"
    label: str  # the log key, or what the column is, for the list of columns left out
    header: tuple  # (top line, bottom line)
    width: int
    rank: int  # when space is short, the highest ranks are left out first
    justify: str = "right"
    style: str | None = None


@dataclasses.dataclass(frozen=True)
class Layout:
    """The columns of a fit's epoch rows, and those left out to fit ``width``."""

    columns: tuple
    left_out: tuple
    width: int

    @property
    def total(self) -> int:
        return sum(c.width for c in self.columns) + len(GAP) * (len(self.columns) - 1)


# -- the epoch table ------------------------------------------------------------------


def rank(key: str, monitor: str | None, trained) -> int:
    """How soon a log column is left out when the rows are too wide: the higher, the sooner.

    The other columns rank so: the epoch 0 (always kept), the time 4, the
    throughput 6, the learning rate 7.
    """
    if key == monitor:
        return 0
    base = log_base(key)
    if key.startswith("train_eval_"):
        return 8
    if key.startswith("gap_"):
        return 5 if base == "loss" else 3
    if base == "loss":
        return 1
    if key.startswith("val_") and base not in trained:
        return 9  # a figure of the validation data alone
    return 2


def layout(run, width: int, metrics=None) -> Layout:
    """The columns of the epoch rows that fit ``width``, the most important first."""
    keys = run.columns(metrics)
    trained = {k for k in keys if not k.startswith(PREFIXES)}
    epochs = run.epochs or max((r.epoch + 1 for r in run.records), default=1)
    epoch_label = f"Epoch {epochs}/{epochs} *" if run.epochs else f"Epoch {epochs} *"
    candidates = [Column("epoch", "epoch", ("", ""), len(epoch_label), 0, justify="left")]
    for key in keys:
        prefix = next((p[:-1] for p in PREFIXES if key.startswith(p)), "train")
        name = key.removeprefix(prefix + "_")
        candidates.append(Column(
            "log", key, (prefix, name), max(COLUMN_FIGURE_WIDTH, len(prefix), len(name)),
            rank(key, run.monitor, trained), style="cyan" if key.startswith("gap_") else None,
        ))
    if any(r.learning_rate is not None for r in run.records):
        candidates.append(Column("lr", "lr", ("", "lr"), 8, 7))
    candidates.append(Column("time", "time", ("", "time"), 6, 4))
    unit = "img/s" if run.images_known() else "steps/s"
    candidates.append(Column("rate", unit, ("", unit), max(7, len(unit)), 6))
    kept, used = set(), -len(GAP)
    for i, column in sorted(enumerate(candidates), key=lambda item: (item[1].rank, item[0])):
        if used + len(GAP) + column.width <= width or not kept:
            kept.add(i)
            used += len(GAP) + column.width
    columns = tuple(c for i, c in enumerate(candidates) if i in kept)
    left_out = tuple(c.label for i, c in enumerate(candidates) if i not in kept)
    return Layout(columns, left_out, width)


def header_text(layout: Layout) -> Text:
    """The two header lines of the epoch rows, their rule, and what was left out."""
    text = Text(end="")
    for line in (0, 1):
        cells = [_pad(c.header[line], c) for c in layout.columns]
        header = GAP.join(cells).rstrip()
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


def row_text(run, layout: Layout, record, *, marked: bool) -> Text:
    """The row of one epoch, in ``layout``'s columns; ``marked`` adds the ``*`` of a best epoch."""
    total = f"/{run.epochs}" if run.epochs else ""
    line = Text(no_wrap=True, overflow="ellipsis", end="")
    for j, column in enumerate(layout.columns):
        if column.kind == "epoch":
            cell = f"Epoch {record.epoch + 1}{total}" + (" *" if marked else "")
        elif column.kind == "log":
            cell = column_figure(record.logs.get(column.label))
        elif column.kind == "lr":
            cell = learning_rate(record.learning_rate)
        elif column.kind == "time":
            cell = duration(record.seconds)
        else:
            cell = rate_text(record, unit=False)
        if j:
            line.append(GAP)
        line.append(_pad(cell, column), style="bold green" if marked else column.style)
    line.rstrip()
    return line


def table(run, width: int, metrics=None) -> Text:
    """The epoch table of ``run``, best epoch marked, fitted to ``width``."""
    fitted = layout(run, width, metrics)
    text = header_text(fitted)
    text.append("\n")
    for i, record in enumerate(run.records):
        text.append_text(row_text(run, fitted, record, marked=i == run.best_index))
        text.append("\n")
    if run.best_index is not None:
        text.append(f"* best {run.monitor}\n")
    return text


# -- the summary ----------------------------------------------------------------------


def summary_text(run, summary, width: int, metrics=None) -> Text:
    """The closing summary (``summary``, the :class:`TrainingSummary` of ``run``) wrapped to ``width``."""
    s, records = summary, run.records
    lines = []
    if s.best_epoch is not None:
        if not s.first_epoch:
            run_here = f"of {s.epochs}"
        elif s.epochs == 1:
            run_here = "(resumed at it)"
        else:
            run_here = f"of epochs {s.first_epoch + 1}-{s.first_epoch + s.epochs} (resumed)"
        lines.append(("Best epoch", [f"{s.best_epoch + 1} {run_here}: {s.monitor} {figure(s.best_value)}"], ""))
    if s.final_logs:
        shown = [k for k in run.columns(metrics) if not k.startswith("gap_") and k in s.final_logs]
        if shown:
            lines.append(("Final epoch", [f"{k} {figure(s.final_logs[k])}" for k in shown], "  "))
    if s.final_gaps:
        lines.append((
            "Final gap",
            [f"{k} {figure(v)}" for k, v in s.final_gaps.items()] + ["(positive: better on the training data)"],
            "  ",
        ))
    if s.verdict is not None:
        lines.append(("Gap monitor", s.verdict.split(" "), " "))
    if records and not any(r.steps for r in records):
        throughput = "no training batches: the data given to fit was empty"
    elif s.images_per_second:
        throughput = f"{thousands(s.images_per_second)} images/s"
    else:
        throughput = f"{thousands(_steps_per_second(records), 1)} steps/s"
    time_line = f"{duration(s.seconds)} in all, {duration(s.train_seconds)} in training steps; {throughput}"
    lines.append(("Time", time_line.split(" "), " "))
    if run.interrupted:
        stopped = f"Ctrl-C {run.interrupted}" if run.ctrl_c else f"fit raised {run.interrupted} (Ctrl-C or an error)"
        lines.append(("Stopped", stopped.split(" "), " "))
    return _labelled_lines(lines, width)


def opening(run, width: int) -> list:
    """What a fit opens with: the trial's rule (in a search) and :func:`fit_header`."""
    parts = []
    trial = run.trial
    if trial and len(trial) + 6 <= width:
        parts.append(Rule(trial, characters="=", style="magenta"))
    elif trial:  # a Rule would cut its title with "...": the whole header, wrapped
        parts += [Rule(characters="=", style="magenta"), Text(trial, style="bold magenta")]
    parts.append(Text(fit_header(run)))
    return parts


def fit_header(run) -> str:
    """``Training: 2 epochs of 7 steps (batch 32, 200 images per epoch)``."""
    epochs = f"{run.epochs} epoch{'s' if run.epochs != 1 else ''}" if run.epochs else "training"
    steps = f" of {run.steps} steps" if run.steps else ""
    images = ""
    if run.batch_size:
        per_epoch = run.images(run.steps) if run.steps else None
        images = f" (batch {run.batch_size}" + (f", {thousands(per_epoch)} images per epoch)" if per_epoch else ")")
    return f"Training: {epochs}{steps}{images}"


# -- progress during an epoch ---------------------------------------------------------


def progress_line(run, now: float, metrics=None) -> Text:
    """The live progress line of a terminal or Jupyter: epoch, bar, steps, rate, time, metrics."""
    total = f"/{run.epochs}" if run.epochs else ""
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(f"Epoch {run.epoch + 1}{total}" if run.epoch is not None else "Starting", style="bold")
    if run.phase == "validating":
        line.append(f"  validating, step {run.val_step}", style="yellow")
        line.append(f"  {_elapsed_and_left(run, now)}")
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
    rate = _live_rate(run, now)
    if rate:
        line.append(f"  {rate}")
    line.append(f"  {_elapsed_and_left(run, now)}")
    line.append_text(_live_metrics(run.batch_logs, metrics))
    return line


def plain_progress(run, now: float, metrics=None) -> Text | None:
    """The line a plain console gets now and then during an epoch, or ``None``."""
    if not run.in_fit or run.epoch is None or run.phase not in ("training", "validating"):
        return None
    total = f"/{run.epochs}" if run.epochs else ""
    if run.phase == "validating":
        where = f"validating, step {run.val_step}"
    else:
        where = f"step {run.step}" + (f"/{run.steps}" if run.steps else "")
    parts = [f"  ... epoch {run.epoch + 1}{total}: {where}", _live_rate(run, now), _elapsed_and_left(run, now)]
    line = Text(", ".join(p for p in parts if p), no_wrap=True, overflow="ellipsis")
    if run.phase == "training":
        line.append_text(_live_metrics(run.batch_logs, metrics))
    return line


def _live_rate(run, now) -> str:
    train_time = (run.val_start or now) - (run.epoch_start or now)
    if train_time <= 0 or not run.step:
        return ""
    images = run.images(run.step)
    if images is not None:
        return f"{thousands(images / train_time)} img/s"
    return f"{thousands(run.step / train_time, 1)} steps/s"


def _elapsed_and_left(run, now) -> str:
    text = f"{duration(now - run.start)} elapsed"
    if run.phase == "training":
        remaining = _remaining(run, run.step, now - (run.epoch_start or now))
        if remaining is not None:
            text += f", ~{duration(remaining)} left"
    return text


def _remaining(run, step, elapsed):
    if not run.steps or not step or run.epochs is None or run.epoch is None:
        return None
    this_epoch = elapsed / step * (run.steps - step)
    later = run.epochs - run.epoch - 1
    per_epoch = (
        sum(r.seconds for r in run.records) / len(run.records) if run.records else elapsed / step * run.steps
    )
    return this_epoch + later * per_epoch


def _live_metrics(logs, metrics) -> Text:
    text = Text()
    if not logs:
        return text
    try:
        items = list(logs.items())
    except Exception:  # a logs object being replaced under us: skip this frame
        return text
    items.sort(key=lambda item: item[0] != "loss")
    for key, value in items:
        if key.startswith(PREFIXES) or key in LR_KEYS:
            continue
        if isinstance(value, numbers.Real) and (metrics is None or key == "loss" or key in metrics):
            text.append(f"  {key} {figure(value)}")
    return text


# -- pieces ---------------------------------------------------------------------------


def rate_text(record, unit: bool = True) -> str:
    """The training throughput of a record: ``"7,202 img/s"``, else steps/s, else ``"no data"``."""
    if not record.steps:
        return "no data"
    rate = record.images_per_second
    if rate is not None:
        return thousands(rate) + (" img/s" if unit else "")
    if record.train_seconds > 0:
        return thousands(record.steps / record.train_seconds, 1) + (" steps/s" if unit else "")
    return "-"


def _steps_per_second(records) -> float:
    seconds = sum(r.train_seconds for r in records)
    return sum(r.steps for r in records) / seconds if seconds > 0 else 0.0


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
