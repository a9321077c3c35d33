"""The parameters a :class:`~keras_cnnlab.tuning.SearchSpace` knows: names, checks and defaults.

Each parameter is a :class:`Parameter` in :data:`PARAMETERS`; the per-block ones
are also named ``block<i>_<name>``. :func:`parameter_for` resolves any name and
:func:`current_name` maps the names deprecated in this release to their new ones.
"""

from __future__ import annotations

import dataclasses
import difflib
import numbers
import re
import sys
import warnings

from keras_cnnlab.tuning.specs import Boolean, Choice, Fixed, FloatRange, IntRange

__all__ = [
    "BLOCK_PARAMETERS",
    "DOWNSAMPLES",
    "PARAMETERS",
    "RENAMED",
    "Parameter",
    "augmentation_available",
    "check_sampling",
    "current_name",
    "default_spec",
    "parameter_for",
    "shared_name",
    "warn_renamed",
]

DOWNSAMPLES = ("max", "avg", "strided", "none")
AUGMENTATION_PRESETS = ("none", "light", "standard", "strong", "digits")
SCHEDULES = ("cosine", "constant")
OPTIMIZERS = ("adam", "adamw", "nadam", "adamax", "rmsprop", "sgd", "adagrad", "adadelta", "lion")

# Names deprecated in this release, and their new names; the old ones go in the next.
RENAMED = {
    "pool": "downsample",
    "pool_size": "downsample_factor",
    "augment_strength": "augmentation_strength",
}


def augmentation_available() -> bool:
    """Whether ``keras_cnnlab.augment`` (the augmentation presets) can be imported."""
    try:
        import keras_cnnlab.augment  # noqa: F401
    except ImportError:
        return False
    return True


def is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _activation_names():
    from keras_cnnlab.blocks.factories import activation_names

    return activation_names()


def _head_poolings():
    from keras_cnnlab.blocks.classifier_head import HEAD_POOLINGS

    return HEAD_POOLINGS


@dataclasses.dataclass(frozen=True)
class Parameter:
    """The definition of one tunable parameter: its type, its checks and its default.

    Attributes:
        name: the parameter's name in a :class:`SearchSpace`.
        kind: ``"int"``, ``"float"``, ``"bool"`` or ``"str"``.
        doc: what the parameter controls.
        block: whether it is set per ConvBlock (``block<i>_<name>``).
        minimum: smallest allowed number (numeric kinds).
        below: numbers must be strictly below this (numeric kinds).
        strict: the minimum is excluded.
    """

    name: str
    kind: str
    doc: str
    block: bool = False
    minimum: float | None = None
    below: float | None = None
    strict: bool = False

    def allowed(self) -> tuple | None:
        """The allowed values for string parameters, ``None`` for open ones."""
        if self.name == "downsample":
            return DOWNSAMPLES
        if self.name == "head_pooling":
            return tuple(_head_poolings())
        if self.name == "optimizer":
            return OPTIMIZERS
        if self.name == "activation":
            return tuple(_activation_names())
        if self.name == "augmentation":
            return AUGMENTATION_PRESETS
        if self.name == "schedule":
            return SCHEDULES
        return None

    def check(self, value, argument: str):
        """Return ``value`` if it is valid for this parameter, else raise a ValueError."""
        expected = None
        if self.kind == "bool":
            if not isinstance(value, bool):
                expected = "True or False"
        elif self.kind == "str":
            allowed = self.allowed()
            if not isinstance(value, str) or value not in allowed:
                expected = f"one of {allowed}"
        else:
            ok = is_int(value) if self.kind == "int" else is_real(value)
            if ok and self.minimum is not None:
                ok = value > self.minimum if self.strict else value >= self.minimum
            if ok and self.below is not None:
                ok = value < self.below
            if not ok:
                expected = self._numeric_expectation()
        if expected is not None:
            raise ValueError(
                f"Invalid value for search-space parameter `{argument}`. Expected {expected}. "
                f"Received {argument}={value!r}."
            )
        return float(value) if self.kind == "float" else value

    def _numeric_expectation(self) -> str:
        what = "an integer" if self.kind == "int" else "a number"
        if self.minimum is not None and self.below is not None:
            return f"{what} in [{self.minimum:g}, {self.below:g})"
        if self.minimum is not None:
            return f"{what} {'>' if self.strict else '>='} {self.minimum:g}"
        return what


def _p(name, kind, doc, **kwargs) -> Parameter:
    return Parameter(name, kind, doc, **kwargs)


PARAMETERS: dict[str, Parameter] = {
    p.name: p
    for p in (
        _p("num_blocks", "int", "number of ConvBlocks (bounded by the input size)", minimum=1),
        _p("filters", "int", "filters of each convolution of a block", block=True, minimum=1),
        _p("kernel_size", "int", "square kernel size of a block's convolutions", block=True, minimum=1),
        _p("convs", "int", "convolutions per block before it downsamples", block=True, minimum=1),
        _p("activation", "str", "activation of a block's convolutions", block=True),
        _p("batch_norm", "bool", "batch normalization after each convolution", block=True),
        _p("downsample", "str", "how a block downsamples: 'max', 'avg' (pooling), 'strided' (a strided first convolution) or 'none'", block=True),
        _p("downsample_factor", "int", "how much a block downsamples: the pooling window or the convolution stride", block=True, minimum=2),
        _p("dropout", "float", "dropout rate at the end of a block", block=True, minimum=0.0, below=1.0),
        _p("head_pooling", "str", "ClassifierHead pooling: 'flatten', 'avg' or 'max'"),
        _p("head_units", "int", "width of the head's hidden Dense layer (0: none)", minimum=0),
        _p("head_dropout", "float", "dropout after the head's hidden layer", minimum=0.0, below=1.0),
        _p("optimizer", "str", "optimizer name"),
        _p("learning_rate", "float", "peak learning rate", minimum=0.0, strict=True),
        _p("schedule", "str", "learning rate over a trial's epochs: 'cosine' (decay to 0) or 'constant'"),
        _p("weight_decay", "float", "decoupled weight decay of the optimizer (0: none)", minimum=0.0),
        _p("label_smoothing", "float", "label smoothing of the crossentropy", minimum=0.0, below=1.0),
        _p("augmentation", "str", "augmentation preset ('none' without keras_cnnlab.augment)"),
        _p("augmentation_strength", "float", "strength of the augmentation preset", minimum=0.0, strict=True),
        _p("batch_size", "int", "batch size, passed to fit()", minimum=1),
    )
}

BLOCK_PARAMETERS = tuple(name for name, p in PARAMETERS.items() if p.block)

_BLOCK_NAME = re.compile(r"^block([1-9][0-9]*)_(" + "|".join(BLOCK_PARAMETERS) + r")$")
_OLD_NAME = re.compile(r"^(block[1-9][0-9]*_)?(" + "|".join(RENAMED) + r")$")


def default_spec(name: str):
    """The spec a fresh :class:`SearchSpace` uses for ``name`` (a shared name)."""
    if name == "augmentation":
        if augmentation_available():
            return Choice(("none", "light", "standard"))
        return Fixed("none")
    return _DEFAULTS[name]


_DEFAULTS = {
    "num_blocks": IntRange(1, 4),
    "filters": Choice((16, 32, 64, 128)),
    "kernel_size": Choice((3, 5)),
    "convs": IntRange(1, 2),
    "activation": Fixed("relu"),
    "batch_norm": Boolean(),
    "downsample": Choice(DOWNSAMPLES),
    "downsample_factor": Choice((2, 3)),
    "dropout": FloatRange(0.0, 0.5, step=0.1),
    "head_pooling": Choice(("flatten", "avg", "max")),
    "head_units": Choice((0, 64, 128)),
    "head_dropout": FloatRange(0.0, 0.5, step=0.1),
    "optimizer": Choice(("adam", "rmsprop")),
    "learning_rate": FloatRange(1e-4, 1e-2, sampling="log", default=1e-3),
    # The default recipe's (keras_cnnlab.Recipe) choices are the defaults.
    "schedule": Fixed("cosine"),
    "weight_decay": Choice((0.0, 0.01, 0.05), default=0.0),
    "label_smoothing": Choice((0.0, 0.1, 0.2), default=0.1),
    "augmentation_strength": FloatRange(0.5, 1.5, step=0.25, default=1.0),
    "batch_size": Choice((32, 64, 128), default=32),
}


def warn_renamed(old: str, new: str) -> None:
    """A DeprecationWarning that ``old`` is now ``new``, shown at the first caller outside this package."""
    frame, stacklevel = sys._getframe(1), 2  # as warnings.warn counts: 2 is our caller
    while frame is not None and frame.f_globals.get("__name__", "").startswith(__package__ + "."):
        frame, stacklevel = frame.f_back, stacklevel + 1
    warnings.warn(
        f"{old} is deprecated: use {new}. The old name will be removed in the next release.",
        DeprecationWarning,
        stacklevel=stacklevel,
    )


def current_name(name):
    """``name``, or its new name with a DeprecationWarning when it is a name of :data:`RENAMED`.

    ``block2_pool`` becomes ``block2_downsample``.
    """
    match = _OLD_NAME.match(name) if isinstance(name, str) else None
    if match is None:
        return name
    block, old = match.groups()
    new = RENAMED[old]
    if block and not PARAMETERS[new].block:
        return name  # not a parameter either way: parameter_for says so
    new = f"{block or ''}{new}"
    warn_renamed(f"The search-space parameter {name!r}", repr(new))
    return new


def shared_name(name: str) -> str | None:
    """The shared name behind a per-block name (``block2_filters`` -> ``filters``), else None."""
    match = _BLOCK_NAME.match(name)
    return match.group(2) if match else None


def _valid_names_message() -> str:
    shared = ", ".join(PARAMETERS)
    return (
        f"Valid names: {shared}; and per block: block<i>_<name> for <name> in "
        f"{', '.join(BLOCK_PARAMETERS)} (e.g. block2_filters)."
    )


def parameter_for(name: str) -> Parameter:
    """The :class:`Parameter` behind ``name`` (shared or per-block), or a ValueError."""
    if not isinstance(name, str):
        raise ValueError(
            f"Search-space parameter names are strings. Received {name!r}. {_valid_names_message()}"
        )
    if name in PARAMETERS:
        return PARAMETERS[name]
    shared = shared_name(name)
    if shared is not None:
        return PARAMETERS[shared]
    close = difflib.get_close_matches(name, list(PARAMETERS), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"Unknown search-space parameter {name!r}.{hint} {_valid_names_message()}")


def check_sampling(sampling: str, low, name: str) -> None:
    """A ValueError unless ``sampling`` is a KerasTuner sampling that fits a range from ``low``."""
    if sampling not in ("linear", "log", "reverse_log"):
        raise ValueError(
            "Invalid value for argument `sampling`. Expected 'linear', 'log' or 'reverse_log'. "
            f"Received sampling={sampling!r}."
        )
    if sampling != "linear" and low <= 0:
        raise ValueError(
            f"Invalid range for `{name}`: {sampling} sampling needs a positive lower bound. "
            f"Received low={low!r}."
        )
