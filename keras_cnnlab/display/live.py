"""Progress redrawn in place, the way the console supports it: :class:`LiveDisplay`.

A terminal gets rich's ``Live``, Jupyter one output updated in place, a plain
console (a file, a pipe, CI) a line now and then. The display watches the frame
of the ``fit`` it belongs to and stops itself when that frame is gone.
"""

from __future__ import annotations

import atexit
import signal
import sys
import threading
import time

from rich.console import Console
from rich.file_proxy import FileProxy

from keras_cnnlab.display.console import (
    print_to,
    recording_console,
    render_mode,
    strip_trailing_blanks,
)

__all__ = ["LiveDisplay", "THREAD_NAME"]

#: The name of a LiveDisplay's thread.
THREAD_NAME = "keras_cnnlab-live-display"
# How often a display checks that the fit it belongs to is still running.
_WATCH_SECONDS = 0.05


class LiveDisplay:
    """Progress redrawn in place, the way the console supports it, that stops itself.

    In a terminal, rich's ``Live`` (printing above the live region allowed, as
    ``sys.stdout`` and ``sys.stderr`` are sent through the console while it runs
    when the console writes to them); in Jupyter, one ``IPython.display`` output
    updated in place (no ipywidgets needed, no duplicate outputs); on a plain
    console (a file, a pipe, CI), a line printed every ``interval`` seconds.
    One background thread does the redrawing.

    Keras calls no callback when ``fit`` raises (Ctrl-C, an error in a step or
    a callback), so nothing would ever call :meth:`stop`: the display would go on
    redrawing and the standard streams would stay redirected. A display given
    the frame it belongs to (``owner``: the frame of ``fit``) therefore watches
    it. Its thread checks every 50 ms that the frame is still on its thread's
    stack, and the redirected streams check before every write, so that
    whatever is printed after ``fit`` raised (the traceback included) goes to
    the real streams; in IPython the end of every cell checks too, and so does
    the interpreter's exit. For Ctrl-C, a terminal display started on the main
    thread takes the place of Python's SIGINT handler while it runs and stops
    before raising KeyboardInterrupt, so the streams are the real ones by the
    time any ``except`` clause runs. When the frame is gone, the display calls
    ``on_abort()`` for what to show last, stops redrawing, restores
    ``sys.stdout`` and ``sys.stderr`` and ends its thread.

    Args:
        console: the rich Console.
        get_renderable: called at each refresh, from the refresh thread. On a
            plain console it may return ``None`` to print nothing this time.
        refresh_per_second: redraws per second (terminal and Jupyter).
        owner: the frame whose end, without :meth:`stop`, stops the display.
        on_abort: called once when that happens; returns what to show last
            (or ``None``).
        interval: seconds between two lines on a plain console; ``None`` prints
            none (the display then only watches ``owner``).
    """

    def __init__(
        self,
        console: Console,
        get_renderable,
        *,
        refresh_per_second: float = 4.0,
        owner=None,
        on_abort=None,
        interval: float | None = None,
    ):
        self.console = console
        self.get_renderable = get_renderable
        self.refresh_per_second = refresh_per_second
        self.mode = render_mode(console)
        self._owner = owner
        self._owner_thread = threading.get_ident()
        self._on_abort = on_abort
        self._period = interval if self.mode == "plain" else 1.0 / refresh_per_second
        self._next_draw = None
        self._live = None
        self._handle = None
        self._thread = None
        self._done = threading.Event()
        self._streams = []  # (name, the stream replaced, our proxy)
        self._retired = []
        self._ipython = None
        self._sigint = False  # our SIGINT handler is installed
        # Held for the whole of stop/abort: a second caller waits until the first is done.
        self._stop_lock = threading.RLock()
        self._stopped = False
        self.aborted = False
        self.ctrl_c = False  # aborted by Ctrl-C (our SIGINT handler), not by an error

    @property
    def running(self) -> bool:
        """Whether the display is shown and refreshed."""
        return self._thread is not None and not self._stopped

    def start(self) -> None:
        """Show the display and start refreshing (and watching) it."""
        if self.mode == "terminal":
            from rich.live import Live

            # Redrawn by our thread, which also watches the owner; streams redirected by us.
            self._live = Live(
                console=self.console,
                get_renderable=self.get_renderable,
                auto_refresh=False,
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
            )
            self._live.start(refresh=True)
            self._redirect_streams()
            self._catch_sigint()
        elif self.mode == "jupyter":
            from IPython.display import display

            self._handle = display(self._snapshot(self.get_renderable()), display_id=True)
        if self._owner is not None:
            self._watch_ipython_cells()
        if self._live is not None or self._owner is not None:
            # The interpreter exiting mid-fit (an uncaught Ctrl-C) kills the thread below
            # first: stop here, so a log gets its last line and a terminal its cursor.
            atexit.register(self.abort)
        if self._period is None and self._owner is None:
            return  # a plain console with nothing to print nor watch: no thread
        self._next_draw = None if self._period is None else time.monotonic() + self._period
        self._thread = threading.Thread(target=self._loop, name=THREAD_NAME, daemon=True)
        self._thread.start()

    def postpone(self) -> None:
        """Start the wait for the next plain line again (something else was just printed)."""
        if self._period is not None:
            self._next_draw = time.monotonic() + self._period

    def check(self) -> bool:
        """Whether the display still runs; stops it first if its owner frame is gone."""
        if self._stopped:
            return False
        if self._owner is not None and not self._owner_running():
            self.abort()
            return False
        return True

    def stop(self, final=None) -> None:
        """Stop refreshing. ``final`` is printed (terminal, plain) or shown in place (Jupyter)."""
        with self._stop_lock:
            if self._stopped:
                return
            self._stopped = True
            self._finish(final)

    def abort(self, *, wait: bool = True) -> None:
        """Stop as when the owner frame ended without :meth:`stop`: show ``on_abort()``.

        With ``wait=False`` (the display's own thread), return at once when
        another thread is stopping the display: that one joins this thread.
        """
        if not self._stop_lock.acquire(blocking=wait):
            return
        try:
            if self._stopped:
                return
            self._stopped = True
            self.aborted = True
            final = None
            if self._on_abort is not None:
                try:
                    final = self._on_abort()
                except Exception:  # never leave the display running over a message
                    final = None
            self._finish(final)
        finally:
            self._stop_lock.release()

    # -- internals -------------------------------------------------------------

    def _finish(self, final) -> None:
        self._done.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            # bounded: from a signal handler, the thread may wait for a lock this one holds
            thread.join(timeout=2.0)
        self._owner = None  # the frame holds the model and data: drop it at once
        self._unwatch_ipython_cells()
        self._release_sigint()
        atexit.unregister(self.abort)
        if self._live is not None:
            for _, _, proxy in self._streams:
                proxy.flush()  # a line printed without its newline, above the live region
            self._live.stop()
            self._live = None
        self._restore_streams()
        if self._handle is not None:
            self._handle.update(self._snapshot(final if final is not None else self.get_renderable()))
            self._handle = None
        elif final is not None:
            print_to(self.console, final)

    def _loop(self) -> None:
        tick = _WATCH_SECONDS if self._owner is not None else self._period
        if self._period is not None:
            tick = min(tick, self._period)
        while not self._done.wait(tick):
            if self._owner is not None and not self._owner_running():
                self.abort(wait=False)
                return
            if self._next_draw is not None and time.monotonic() >= self._next_draw:
                self.postpone()
                try:
                    self._draw()
                except Exception:  # a frame that fails to draw must not end the watch
                    pass

    def _draw(self) -> None:
        if self._live is not None:
            self._live.refresh()
        elif self._handle is not None:
            self._handle.update(self._snapshot(self.get_renderable()))
        else:
            renderable = self.get_renderable()
            if renderable is not None:
                print_to(self.console, renderable)

    def _owner_running(self) -> bool:
        owner = self._owner
        if owner is None:
            return False
        if threading.get_ident() == self._owner_thread:
            frame = sys._getframe()
        else:
            frame = sys._current_frames().get(self._owner_thread)
        while frame is not None:
            if frame is owner:
                return True
            frame = frame.f_back
        return False

    def _redirect_streams(self) -> None:
        # Only streams the console itself writes to: their lines then go above the
        # live region instead of through it.
        target = self.console.file
        for name in ("stdout", "stderr"):
            stream = getattr(sys, name)
            if isinstance(stream, FileProxy) or getattr(stream, "rich_proxied_file", stream) is not target:
                continue
            proxy = _Redirected(self, stream)
            self._streams.append((name, stream, proxy))
            setattr(sys, name, proxy)

    def _catch_sigint(self) -> None:
        # Ctrl-C: stop before KeyboardInterrupt is raised, so that the streams are the real
        # ones again by the time any handler of it runs. Only in place of Python's own
        # handler (or of a stopped display's, left by a stop on another thread).
        if self._owner is None or threading.current_thread() is not threading.main_thread():
            return
        current = signal.getsignal(signal.SIGINT)
        stale = isinstance(getattr(current, "__self__", None), LiveDisplay) and current.__self__._stopped
        if current is signal.default_int_handler or stale:
            signal.signal(signal.SIGINT, self._on_sigint)
            self._sigint = True

    def _release_sigint(self) -> None:
        # Only the main thread may set a handler; from another, ours stays and passes the
        # signal on as Python's would.
        if self._sigint and threading.current_thread() is threading.main_thread():
            if signal.getsignal(signal.SIGINT) == self._on_sigint:
                signal.signal(signal.SIGINT, signal.default_int_handler)
            self._sigint = False

    def _on_sigint(self, signum, frame) -> None:
        self.ctrl_c = True
        self.abort()
        self._release_sigint()
        signal.default_int_handler(signum, frame)  # raises KeyboardInterrupt

    def _restore_streams(self) -> None:
        for name, stream, proxy in self._streams:
            if getattr(sys, name) is proxy:
                setattr(sys, name, stream)
        # Kept alive: the print() that restored them holds sys.stdout without a reference
        # of its own, and would write its next piece to a freed proxy.
        self._retired = [proxy for _, _, proxy in self._streams]
        self._streams = []

    def _watch_ipython_cells(self) -> None:
        # The end of a notebook cell that raised (an interrupt): stop here, in the
        # kernel's thread, before the next cell runs.
        shell = _ipython_shell()
        if shell is None:
            return
        try:
            shell.events.register("post_run_cell", self._after_cell)
        except Exception:  # an IPython without cell events: the watch thread is enough
            return
        self._ipython = shell

    def _unwatch_ipython_cells(self) -> None:
        shell, self._ipython = self._ipython, None
        if shell is not None:
            try:
                shell.events.unregister("post_run_cell", self._after_cell)
            except ValueError:
                pass

    def _after_cell(self, *args) -> None:
        self.check()

    def _snapshot(self, renderable):
        from rich.jupyter import JUPYTER_HTML_FORMAT, JupyterRenderable

        recorder = recording_console(width=self.console.width)
        recorder.print(renderable)
        text = strip_trailing_blanks(recorder.export_text(clear=False))
        html = recorder.export_html(inline_styles=True, code_format=JUPYTER_HTML_FORMAT)
        return JupyterRenderable(html, text)


class _Redirected(FileProxy):
    """``sys.stdout``/``sys.stderr`` while a terminal display runs: lines go above it.

    Checks the display before every write: once its ``fit`` has raised, the
    display is stopped and the text goes to the stream this one replaced, so a
    stream kept by someone (a logging handler) keeps working.
    """

    def __init__(self, display: LiveDisplay, stream):
        super().__init__(display.console, stream)
        self._display = display

    def write(self, text: str) -> int:
        if self._display.check():
            return super().write(text)
        return self.rich_proxied_file.write(text)

    def flush(self) -> None:
        if self._display.check() or self._display._live is not None:
            super().flush()
        else:
            self.rich_proxied_file.flush()


def _ipython_shell():
    if "IPython" not in sys.modules:
        return None
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    return get_ipython()
