"""Keras callbacks: shape trace, rich training report, overfitting-gap monitor.

Names load on first use so that importing one callback does not import the rest.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "ShapeTraceCallback": "keras_cnnlab.callbacks.shape_trace",
    "RichTrainingReport": "keras_cnnlab.callbacks.report",
    "OverfittingGapMonitor": "keras_cnnlab.callbacks.gap_monitor",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'keras_cnnlab.callbacks' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
