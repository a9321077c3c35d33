"""Where a training report's run goes: the opening lines, a row per epoch, the live display, the end.

:class:`ReportOutput` prints what the renderers (``report_render.py``) draw
of a :class:`~keras_cnnlab.callbacks.report_state.ReportRun`, at the moments
the report's hooks (``report.py``) name, through
:mod:`keras_cnnlab.display`: rows above the live progress in a terminal,
everything in one updated output in Jupyter, plain lines in a file.
"""

from __future__ import annotations

import functools
import time
import weakref

from rich.console import Group
from rich.text import Text

from keras_cnnlab.callbacks import report_render as render
from keras_cnnlab.display.console import print_to
from keras_cnnlab.display.live import LiveDisplay

__all__ = ["ReportOutput"]


class ReportOutput:
    """The printing side of a :class:`~keras_cnnlab.callbacks.RichTrainingReport`.

    Args:
        report: the report whose ``console``, ``metrics``,
            ``refresh_per_second`` and ``progress_interval`` it follows. Held
            weakly: the report owns its output, and a cycle between the two would
            keep a finished report, and the model it holds, alive until the
            collector runs (never, for a copy that ``gc.freeze()`` froze).
    """

    def __init__(self, report):
        self._report = weakref.proxy(report)

    @property
    def console(self):
        return self._report.console

    def print(self, renderable) -> None:
        print_to(self.console, renderable)

    def table(self, run) -> Text:
        return render.table(run, self.console.width, self._report.metrics)

    def summary(self, run) -> Text:
        return render.summary_text(run, run.summary(), self.console.width, self._report.metrics)

    # -- a fit, from its start to its end -------------------------------------------

    def open(self, run, *, owner, on_abort) -> None:
        """Print the opening lines and start the live display, which stops itself when ``owner`` ends."""
        if run.mode != "jupyter":  # Jupyter shows everything in its one display
            for part in render.opening(run, self.console.width):
                self.print(part)
        interval = self._report.progress_interval if run.mode == "plain" else None
        if run.mode != "plain" or interval is not None or owner is not None:
            run.display = LiveDisplay(
                self.console, functools.partial(self._live_view if run.mode != "plain" else self._plain_view, run),
                refresh_per_second=self._report.refresh_per_second, owner=owner,
                on_abort=on_abort, interval=interval,
            )
            run.display.start()

    def epoch_row(self, run, record, improved: bool) -> None:
        """Print the row of ``record`` (under a new header when the columns changed), then the notes."""
        if run.mode == "jupyter":
            return
        layout = render.layout(run, self.console.width, self._report.metrics)
        if run.layout is None or layout.columns != run.layout.columns:  # the first row, or new keys
            run.layout = layout
            self.print(render.header_text(layout))
        self.print(render.row_text(run, run.layout, record, marked=improved))
        run.marked = run.marked or improved
        self.notes(run)
        if run.display is not None:
            run.display.postpone()

    def notes(self, run) -> None:
        """Print the notes of ``run`` not printed yet (the gap monitor's findings)."""
        while run.notes:
            self.print(Text(run.notes.pop(0), style="yellow"))

    def close(self, run) -> None:
        """End of training: stop the display, showing the summary (in Jupyter, everything)."""
        if run.mode != "jupyter":
            self.notes(run)
        final = None
        if run.mode == "jupyter":
            if run.records:
                final = self._jupyter_view(run, self.summary(run))
        elif run.records:  # the rows are out already
            legend = [Text(f"* best {run.monitor} so far")] if run.marked else []
            final = Group(*legend, self.summary(run))
        if run.display is not None:
            run.display.stop(final)
            run.display = None
        elif final is not None:
            self.print(final)

    def interrupted(self, run):
        """What the display of a fit that raised shows last: the line saying where."""
        cause = "Ctrl-C stopped fit" if run.ctrl_c else "fit raised (Ctrl-C or an error)"
        note = Text(f"Training interrupted {run.interrupted}: {cause} before it ended.", style="yellow")
        if run.mode == "jupyter":
            return self._jupyter_view(run, note)
        self.notes(run)
        return note

    # -- what the display redraws ---------------------------------------------------

    def _jupyter_view(self, run, last):
        notes = [Text(n, style="yellow") for n in run.notes]
        table = [self.table(run)] if run.records else []
        return Group(*render.opening(run, self.console.width), *table, *notes, last)

    def _live_view(self, run):
        parts = []
        if run.mode == "jupyter":
            parts += render.opening(run, self.console.width)
            if run.records:
                parts.append(self.table(run))
            parts += [Text(note, style="yellow") for note in list(run.notes)]
        parts.append(render.progress_line(run, time.perf_counter(), self._report.metrics))
        return Group(*parts)

    def _plain_view(self, run):
        return render.plain_progress(run, time.perf_counter(), self._report.metrics)
