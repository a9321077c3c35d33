"""The copies KerasTuner makes of a callback for every trial: what they share, what starts afresh.

KerasTuner deep-copies the callbacks given to ``search`` once per trial. A copy
of a keras_cnnlab callback shares what must stay one object (a console, which
holds locks and a file; the training data) and starts with no model and no
state of a fit; everything else (the settings) is deep-copied.
"""

from __future__ import annotations

import copy

__all__ = ["fresh_copy"]


def fresh_copy(callback, memo, *, shared=(), cleared=(), fresh=None):
    """A deep copy of ``callback`` for ``__deepcopy__``.

    Args:
        callback: the callback to copy.
        memo: the ``memo`` of ``__deepcopy__``.
        shared: attribute names the copy shares with ``callback``.
        cleared: attribute names set to ``None`` in the copy.
        fresh: ``{name: factory}``: the copy's attribute is ``factory(copy)``.
    """
    fresh = fresh or {}
    cls = type(callback)
    new = cls.__new__(cls)
    memo[id(callback)] = new
    for key, value in callback.__dict__.items():
        if key in shared:
            new.__dict__[key] = value
        elif key in cleared:
            new.__dict__[key] = None
        elif key in fresh:
            new.__dict__[key] = fresh[key](new)
        else:
            new.__dict__[key] = copy.deepcopy(value, memo)
    return new
