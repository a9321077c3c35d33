"""The one place that decides how keras_cnnlab renders to a console.

A terminal gets live rich rendering; a file, a pipe or CI gets plain text with
no control characters; Jupyter gets one rich display. Callers pass
``console=None`` (standard output), a path or file object, or their own
``rich.console.Console``. The live display that redraws in place is
:class:`keras_cnnlab.display.live.LiveDisplay`.
"""

from __future__ import annotations

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
    "recording_console",
    "render_mode",
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


def recording_console(width: int = 120) -> Console:
    """A console that renders nowhere and records, for text/HTML/SVG export.

    Not a Jupyter console even in a notebook, where rich would otherwise show
    every print as an output of its own.
    """
    return Console(
        record=True,
        width=width,
        file=io.StringIO(),
        force_terminal=True,
        force_jupyter=False,
        color_system="truecolor",
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
