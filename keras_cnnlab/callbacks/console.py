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

__all__ = [
    "make_console",
    "open_console",
    "is_live",
    "recording_console",
    "render_mode",
    "LiveDisplay",
]


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
