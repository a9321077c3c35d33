"""The one place that decides how keras_cnnlab renders to a console.

A terminal gets live rich rendering; a file, a pipe or CI gets plain text with
no control characters; Jupyter gets one rich display. Callers pass
``console=None`` (standard output), a path or file object, or their own
``rich.console.Console``.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import os
from collections.abc import Iterator
from typing import IO

from rich.console import Console
from rich.text import Text

__all__ = [
    "make_console",
    "open_console",
    "is_live",
    "recording_console",
    "render_mode",
    "LiveDisplay",
    "grid",
    "print_to",
    "strip_trailing_blanks",
]


def make_console(console: Console | str | os.PathLike | IO | None = None, *, width: int | None = None) -> Console:
    """Resolve ``console`` to a rich Console.

    Args:
        console: ``None`` for standard output, a rich Console (used as is), a
            path (opened for appending) or a writable file object.
        width: render width for non-terminal output (default 120, whatever
            ``COLUMNS`` says).
    """
    if isinstance(console, Console):
        return console
    if console is None:
        out = Console()
    elif isinstance(console, (str, os.PathLike)):
        out = Console(file=open(console, "a", encoding="utf-8"), width=width or 120)  # noqa: SIM115
    elif hasattr(console, "write"):
        out = Console(file=console, width=width or 120)
    else:
        raise ValueError(
            "Invalid value for argument `console`. Expected None, a rich Console, a path or "
            f"a writable file. Received console={console!r}."
        )
    if not out.is_terminal and not out.is_jupyter:
        out.width = width if width is not None else 120
    return out


@contextlib.contextmanager
def open_console(
    console: Console | str | os.PathLike | IO | None = None, *, width: int | None = None
) -> Iterator[Console]:
    """:func:`make_console` for one print: a file opened for a path is closed afterwards."""
    out = make_console(console, width=width)
    try:
        yield out
    finally:
        if isinstance(console, (str, os.PathLike)):
            out.file.close()


def grid(
    headers,
    rows,
    *,
    justify=None,
    column_styles=None,
    row_styles=None,
    max_width: int | None = None,
    console: Console | None = None,
    gap: str = "  ",
) -> Text | None:
    """Cells laid out in columns by hand, as one styled Text: bold header lines, a rule, rows.

    A ``rich.table.Table`` measures and wraps every cell, which costs about ten
    times more; the report's epoch table and the shape trace use this, as at
    most their last column ever needs wrapping.

    Args:
        headers: per column, its header lines from the top (a str is one line).
        rows: lists of cells, each a str or a Text (whose own styles are kept).
        justify: per column ``"left"`` or ``"right"`` (default: all right).
        column_styles: per column, a style for its cells, or None.
        row_styles: per row, a style that replaces the column styles, or None.
        max_width: the width to fit. A grid wider than this wraps its last
            column when it is left-justified, ``console`` is given and at least
            20 characters remain for it; otherwise ``None`` is returned.
        console: the console that wraps the last column's text.
        gap: what separates two columns.
    """
    n = len(headers)
    headers = [(h,) if isinstance(h, str) else tuple(h) for h in headers]
    depth = max(len(h) for h in headers)
    headers = [("",) * (depth - len(h)) + h for h in headers]
    justify = list(justify or ["right"] * n)
    column_styles = list(column_styles or [None] * n)
    row_styles = list(row_styles or [None] * len(rows))
    cells = [[c if isinstance(c, Text) else Text(c) for c in row] for row in rows]
    widths = [max([len(line) for line in headers[j]] + [row[j].cell_len for row in cells]) for j in range(n)]
    total = sum(widths) + len(gap) * (n - 1)
    wrap = False
    if max_width is not None and total > max_width:
        room = max_width - (total - widths[-1])
        if console is None or justify[-1] != "left" or room < max(20, max(len(h) for h in headers[-1])):
            return None
        widths[-1], total, wrap = room, max_width, True
    indent = " " * (total - widths[-1])

    def padded(value: str, j: int) -> str:
        return value.rjust(widths[j]) if justify[j] == "right" else value.ljust(widths[j])

    text = Text(no_wrap=True, overflow="ignore", end="")
    for i in range(depth):
        text.append(gap.join(padded(h[i], j) for j, h in enumerate(headers)).rstrip() + "\n", style="bold")
    text.append("─" * total + "\n")
    for row, row_style in zip(cells, row_styles):
        line = Text()
        for j, cell in enumerate(row):
            style = row_style or column_styles[j]
            if style:
                cell = cell.copy()
                cell.stylize_before(style)
            last = j == n - 1
            lines = cell.wrap(console, widths[j]) if wrap and last else [cell]
            for part in lines:
                part.rstrip()  # rich leaves the blank it wrapped at
            fill = " " * (widths[j] - lines[0].cell_len)
            if j:
                line.append(gap)
            if justify[j] == "right":
                line.append(fill)
            line.append_text(lines[0])
            for more in lines[1:]:
                line.append("\n" + indent)
                line.append_text(more)
            if justify[j] != "right" and not last:
                line.append(fill)
        line.rstrip()  # the fill and gap before empty cells at the end
        text.append_text(line)
        text.append("\n")
    return text


def is_live(console: Console) -> bool:
    """Whether ``console`` can redraw in place (a real terminal or Jupyter)."""
    return (console.is_terminal and not console.is_dumb_terminal) or console.is_jupyter


def recording_console(width: int = 120) -> Console:
    """A console that renders nowhere and records, for text/HTML/SVG export."""
    return Console(
        record=True, width=width, file=io.StringIO(), force_terminal=True, color_system="truecolor"
    )


def render_mode(console: Console) -> str:
    """How ``console`` should show live progress.

    Returns:
        ``"terminal"`` (redraw in place with rich's Live), ``"jupyter"`` (one
        display, updated in place) or ``"plain"`` (a file, a pipe, CI or a dumb
        terminal: plain lines, no control characters).
    """
    if console.is_jupyter:
        return "jupyter"
    if console.is_terminal and not console.is_dumb_terminal:
        return "terminal"
    return "plain"


class LiveDisplay:
    """A renderable redrawn in place, the way the console supports it.

    In a terminal, rich's ``Live`` (its own refresh thread, printing above the
    live region allowed); in Jupyter, one ``IPython.display`` output updated in
    place by a refresh thread (no ipywidgets needed, no duplicate outputs). For
    plain consoles there is nothing to redraw: use ``render_mode`` first.

    Args:
        console: the rich Console (terminal or Jupyter).
        get_renderable: called at each refresh, from the refresh thread.
        refresh_per_second: redraws per second.
    """

    def __init__(self, console: Console, get_renderable, *, refresh_per_second: float = 4.0):
        self.console = console
        self.get_renderable = get_renderable
        self.refresh_per_second = refresh_per_second
        self.mode = render_mode(console)
        self._live = None
        self._handle = None
        self._thread = None
        self._done = None

    def start(self) -> None:
        """Show the display and start refreshing it."""
        if self.mode == "terminal":
            from rich.live import Live

            self._live = Live(
                console=self.console,
                get_renderable=self.get_renderable,
                refresh_per_second=self.refresh_per_second,
                transient=True,
            )
            self._live.start()
            # fit has no hook for an exception: at least give the terminal its cursor back
            atexit.register(self.stop)
        elif self.mode == "jupyter":
            import threading

            from IPython.display import display

            self._handle = display(self._snapshot(self.get_renderable()), display_id=True)
            self._done = threading.Event()
            self._thread = threading.Thread(target=self._refresh_loop, daemon=True)
            self._thread.start()

    def stop(self, final=None) -> None:
        """Stop refreshing. ``final`` is printed (terminal) or shown in place (Jupyter)."""
        if self._live is not None:
            atexit.unregister(self.stop)
            thread = getattr(self._live, "_refresh_thread", None)
            self._live.stop()
            if thread is not None:  # Live.stop only signals its thread; leave none behind
                thread.join(timeout=2.0)
            self._live = None
            if final is not None:
                self.console.print(final)
        elif self._handle is not None:
            self._done.set()
            self._thread.join()
            self._handle.update(self._snapshot(final if final is not None else self.get_renderable()))
            self._handle = None
        elif final is not None:
            self.console.print(final)

    def _refresh_loop(self) -> None:
        while not self._done.wait(1.0 / self.refresh_per_second):
            self._handle.update(self._snapshot(self.get_renderable()))

    def _snapshot(self, renderable):
        from rich.jupyter import JUPYTER_HTML_FORMAT, JupyterRenderable

        recorder = recording_console(width=self.console.width)
        recorder.print(renderable)
        text = recorder.export_text(clear=False)
        html = recorder.export_html(inline_styles=True, code_format=JUPYTER_HTML_FORMAT)
        return JupyterRenderable(html, text)


def strip_trailing_blanks(text: str) -> str:
    """``text`` with the blanks at the end of every line removed."""
    return "\n".join(line.rstrip() for line in text.split("\n"))


def print_to(console: Console, renderable) -> None:
    """Print ``renderable``: styled on a live console, plain lines without trailing blanks else.

    rich pads and word-wraps with blanks left at the line ends; files and logs
    get the text only.
    """
    if render_mode(console) != "plain":
        console.print(renderable)
        return
    lines = console.render_lines(renderable, pad=False)
    text = "\n".join("".join(s.text for s in line if not s.control).rstrip() for line in lines)
    console.print(Text(text), soft_wrap=True, highlight=False)
