"""Moved to :mod:`keras_cnnlab.display.console` and :mod:`keras_cnnlab.display.live`.

This name stays importable.
"""

from keras_cnnlab.display.console import (
    grid,
    make_console,
    open_console,
    print_to,
    recording_console,
    render_mode,
    strip_trailing_blanks,
)
from keras_cnnlab.display.live import THREAD_NAME, LiveDisplay

__all__ = [
    "make_console",
    "open_console",
    "recording_console",
    "render_mode",
    "LiveDisplay",
    "THREAD_NAME",
    "grid",
    "print_to",
    "strip_trailing_blanks",
]
