"""The one place that decides how keras_cnnlab renders to a console.

A terminal gets live rich rendering; a file, a pipe or CI gets plain text with
no control characters; Jupyter gets one rich display. Callers pass
``console=None`` (standard output), a path or file object, or their own
``rich.console.Console``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import IO

from rich.console import Console

__all__ = ["make_console", "open_console", "is_live", "recording_console"]


def make_console(console: Console | str | os.PathLike | IO | None = None, *, width: int | None = None) -> Console:
    """Resolve ``console`` to a rich Console.

    Args:
        console: ``None`` for standard output, a rich Console (used as is), a
            path (opened for appending) or a writable file object.
        width: render width for non-terminal output (default 120).
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
        out.width = width if width is not None else max(out.width, 120)
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


def is_live(console: Console) -> bool:
    """Whether ``console`` can redraw in place (a real terminal or Jupyter)."""
    return (console.is_terminal and not console.is_dumb_terminal) or console.is_jupyter


def recording_console(width: int = 120) -> Console:
    """A console that renders nowhere and records, for text/HTML/SVG export."""
    return Console(record=True, width=width, file=open(os.devnull, "w"), force_terminal=True)  # noqa: SIM115
