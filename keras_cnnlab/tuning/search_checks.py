"""The labels and arguments of a search, checked before its first trial trains.

A wrong ``num_classes``, a ``val_`` objective without validation data or
``gap_objective()`` without ``gap_penalty`` would fail every trial alike:
:func:`check_search` raises them once, in the first trial's ``fit``.
"""

from __future__ import annotations

import numpy as np

from keras_cnnlab.compiling import label_encoding
from keras_cnnlab.tuning.objectives import gap_metric_name

__all__ = ["check_num_classes", "check_search", "resolve_encoding"]


def resolve_encoding(labels) -> str:
    """``"sparse"`` or ``"one_hot"``: the ``labels`` argument of CNNHyperModel, checked."""
    if labels is None:
        return "sparse"
    if isinstance(labels, str):
        if labels not in ("sparse", "one_hot"):
            raise ValueError(
                "Invalid value for argument `labels`. Expected 'sparse' (integer ids), "
                f"'one_hot', an array of labels or None. Received labels={labels!r}."
            )
        return labels
    return label_encoding(labels)


def _find_labels(args, kwargs):
    if "y" in kwargs:
        return kwargs["y"]
    if len(args) >= 2:
        return args[1]
    x = kwargs.get("x", args[0] if args else None)
    if x is not None and hasattr(x, "take") and hasattr(x, "element_spec"):  # tf.data
        for batch in x.take(1):
            if isinstance(batch, (tuple, list)) and len(batch) >= 2:
                return np.asarray(batch[1])
    return None


def _objective_names(oracle) -> list:
    objective = getattr(oracle, "objective", None)
    parts = getattr(objective, "objectives", None) or [objective]
    return [getattr(o, "name", None) for o in parts]


def check_num_classes(labels, num_classes: int, what: str = "labels") -> None:
    """A ValueError naming ``num_classes`` when ``labels`` hold more classes than it says."""
    y = np.asarray(labels)
    encoding = label_encoding(y)
    if not y.size:
        return
    n = num_classes
    if encoding == "one_hot":
        needed, seen = y.shape[1], f"are one-hot with {y.shape[1]} columns"
    else:
        low, high = int(y.min()), int(y.max())
        if low < 0:
            raise ValueError(
                f"Invalid {what}: class ids must run from 0 to num_classes - 1, but the {what} "
                f"hold {low}. Encode them as ids 0..K-1 first: "
                "`class_names, y = np.unique(labels, return_inverse=True)`."
            )
        needed, seen = high + 1, f"run from {low} to {high}"
    if needed > n:
        raise ValueError(
            f"Invalid value for argument `num_classes`: CNNHyperModel(num_classes={n}) builds "
            f"models for classes 0..{n - 1}, but the {what} {seen}. Fix: "
            f"CNNHyperModel(..., num_classes={needed}) (`data.num_classes` for load_dataset's data)."
        )


def check_search(tuner, args, kwargs, *, num_classes: int, gap_penalty):
    """Raise the errors every trial would repeat; return the training labels found, or None.

    ``args`` and ``kwargs`` are those of the trial's ``fit``; ``tuner`` is the
    search's tuner, or None outside one.
    """
    names = _objective_names(getattr(tuner, "oracle", None)) if tuner is not None else []
    if gap_metric_name() in names and gap_penalty is None:
        raise ValueError(
            f"Invalid value for argument `gap_penalty`: the tuner's objective "
            f"{gap_metric_name()!r} is written by GapPenalizedAccuracy, which CNNHyperModel "
            "adds only when asked. Fix: CNNHyperModel(..., gap_penalty=1.0) with "
            "objective=gap_objective()."
        )
    needs_validation = [n for n in names if isinstance(n, str) and n.startswith("val_")]
    given = len(args) > 2 or kwargs.get("validation_data") is not None or kwargs.get("validation_split")
    if needs_validation and not given:
        raise ValueError(
            f"The tuner's objective {needs_validation[0]!r} needs validation data, and search() "
            "got none. Fix: pass validation_data=(x_val, y_val) (or validation_split=0.2) to "
            "search(), or use an objective without the val_ prefix."
        )
    labels = _find_labels(args, kwargs)
    if labels is not None:
        check_num_classes(labels, num_classes)
    validation = kwargs.get("validation_data")
    if isinstance(validation, (tuple, list)) and len(validation) >= 2 and validation[1] is not None:
        check_num_classes(validation[1], num_classes, "validation labels")
    return labels
