"""The link between the training report and the gap monitor of one model.

Why a registry: Keras gives callbacks no way to find each other. A ``fit`` call
hands every callback the same model (``set_model``) and the same logs, and
nothing else; the order of the callbacks list is the user's. Yet the two
callbacks of this package work together when both are in one ``fit``:

* the :class:`~keras_cnnlab.callbacks.RichTrainingReport` reads the
  :class:`~keras_cnnlab.callbacks.OverfittingGapMonitor` fitting the same model,
  for the verdict of its summary;
* the monitor prints its findings through the report, so that they come under
  the row of the epoch they concern, in the same console.

Each registers itself here in ``set_model``, keyed by the model, and looks the
other up by the model. That is the only place they meet: neither takes the
other as an argument, so ``callbacks=[report, monitor]`` in any order, and the
callbacks KerasTuner deep-copies for every trial, link up by themselves.

Both sides are weak: a callback holds its model, so a strong value would keep
its own key, and with it every model ever trained with these callbacks, alive.
A model that takes no weak reference is simply not linked.
"""

from __future__ import annotations

import weakref

__all__ = ["attach_monitor", "attached_monitor", "attach_report", "attached_report"]


class _ModelLinks:
    """model -> the last callback of one kind registered for it, both held weakly."""

    def __init__(self):
        self._table: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    def set(self, model, callback) -> None:
        try:
            self._table[model] = weakref.ref(callback)
        except TypeError:  # a model that takes no weak references: no link
            pass

    def get(self, model):
        if model is None:
            return None
        try:
            ref = self._table.get(model)
        except TypeError:
            return None
        return None if ref is None else ref()


_MONITORS = _ModelLinks()
_REPORTS = _ModelLinks()


def attach_monitor(model, monitor) -> None:
    """Record ``monitor`` (an OverfittingGapMonitor) as the one fitting ``model``."""
    _MONITORS.set(model, monitor)


def attached_monitor(model):
    """The OverfittingGapMonitor fitting ``model`` now or last, if any."""
    return _MONITORS.get(model)


def attach_report(model, report) -> None:
    """Let the monitor of ``model`` hand its messages to ``report`` (a RichTrainingReport)."""
    _REPORTS.set(model, report)


def attached_report(model):
    """The RichTrainingReport fitting ``model`` now or last, if any."""
    return _REPORTS.get(model)
