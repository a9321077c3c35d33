"""The one set of formatters for what keras_cnnlab prints: figures, counts, bytes, durations.

Pure Python (no rich, no backend). Every function takes ``None`` for a value
that is not known and returns a short string.
"""

from __future__ import annotations

import math
import numbers

__all__ = [
    "figure",
    "column_figure",
    "learning_rate",
    "thousands",
    "duration",
    "count",
    "nbytes",
    "compact_number",
    "general_number",
]

#: The most characters :func:`column_figure` writes.
COLUMN_FIGURE_WIDTH = 8


def figure(value) -> str:
    """A metric value: four decimals, or three significant digits in exponent form.

    ``0.9812`` -> ``"0.9812"``; ``2.5e-05`` -> ``"2.500e-05"``; ``None`` -> ``"-"``;
    anything that is not a real number as ``str`` gives it.
    """
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


def column_figure(value) -> str:
    """A metric value for a table column: at most 8 characters, four decimals where that fits.

    ``0.98123`` -> ``"0.9812"``; ``123.456`` -> ``"123.46"``; ``2.5e-05`` -> ``"2.50e-05"``;
    ``None`` -> ``"-"``.
    """
    if value is None:
        return "-"
    value = float(value)
    if not math.isfinite(value):
        return str(value)
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-3 or magnitude >= 1e4):
        text = f"{value:.2e}"
        return text if len(text) <= COLUMN_FIGURE_WIDTH else f"{value:.1e}"
    return f"{value:.4f}" if magnitude < 100 else f"{value:.2f}"


def learning_rate(value) -> str:
    """A learning rate: ``"5.00e-03"``; ``None`` -> ``"-"``."""
    return "-" if value is None else f"{value:.2e}"


def thousands(value, decimals: int = 0) -> str:
    """A number with thousands separators: ``"7,202"``, ``"12.5"`` (``decimals=1``)."""
    return f"{value:,.{decimals}f}"


def duration(seconds) -> str:
    """A time span: ``"4.2s"``, ``"3m05s"``, ``"2h07m"``; ``None`` -> ``"-"``."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def count(value) -> str:
    """A large count, short: ``884.7K``, ``19.9M``, ``1.2G``; ``None`` -> ``"unknown"``."""
    if value is None:
        return "unknown"
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if value >= scale:
            return f"{value / scale:.1f}{unit}"
    return str(value)


def nbytes(value) -> str:
    """A size in bytes, binary units: ``"512 B"``, ``"1.5 MiB"``; ``None`` -> ``"unknown"``."""
    if value is None:
        return "unknown"
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if value >= scale:
            return f"{value / scale:.1f} {unit}"
    return f"{value} B"


def compact_number(value) -> str:
    """A setting in few characters: ``0.25``, ``1.0e-03``, ``yes``; others as ``str``."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) < 1e-2 or abs(value) >= 1e4:
            return f"{value:.1e}"
        return f"{value:.3g}"
    return str(value)


def general_number(value) -> str:
    """A setting as written: a float in ``g`` form (``0.001``, ``1e-05``), others as ``str``."""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
