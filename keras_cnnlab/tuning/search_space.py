"""What CNNHyperModel tunes, and how to fix, narrow or widen any of it.

A :class:`SearchSpace` maps parameter names to *specs*: :class:`Fixed`,
:class:`Choice`, :class:`IntRange`, :class:`FloatRange` or :class:`Boolean`.
Each spec declares itself on a ``keras_tuner.HyperParameters`` object with the
matching ``hp.Fixed``, ``hp.Choice``, ``hp.Int``, ``hp.Float`` or
``hp.Boolean`` call, so every tuner (random, Bayesian, Hyperband, grid) sees an
ordinary KerasTuner space.

Example:

>>> space = SearchSpace(kernel_size=3, filters=[16, 32])   # fix one, narrow another
>>> space = space.between("learning_rate", 1e-3, 3e-2, sampling="log")
>>> space["kernel_size"]
Fixed(3)
>>> space["block2_filters"]          # per-block names fall back to the shared spec
Choice(16, 32)
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import numbers
import re
from collections.abc import Sequence

__all__ = [
    "Boolean",
    "Choice",
    "FloatRange",
    "Fixed",
    "IntRange",
    "SearchSpace",
    "BLOCK_PARAMETERS",
    "PARAMETERS",
    "POOLS",
    "augmentation_available",
]

POOLS = ("max", "avg", "strided", "none")
AUGMENTATION_PRESETS = ("none", "light", "standard", "strong", "digits")
SCHEDULES = ("cosine", "constant")
OPTIMIZERS = ("adam", "adamw", "nadam", "adamax", "rmsprop", "sgd", "adagrad", "adadelta", "lion")


# --- specs ----------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Fixed:
    """One value, declared with ``hp.Fixed``."""

    value: object

    def register(self, hp, name: str, default=None):
        return hp.Fixed(name, self.value)

    def candidates(self) -> tuple:
        return (self.value,)

    def restricted(self, values: Sequence):
        return self if self.value in values else None

    def __repr__(self) -> str:
        return f"Fixed({self.value!r})"


@dataclasses.dataclass(frozen=True)
class Choice:
    """A choice among values, declared with ``hp.Choice``."""

    values: tuple
    default: object = None

    def register(self, hp, name: str, default=None):
        default = self.default if self.default is not None else default
        if default not in self.values:
            default = None
        if len(self.values) == 1:
            return hp.Fixed(name, self.values[0])
        return hp.Choice(name, list(self.values), default=default)

    def candidates(self) -> tuple:
        return self.values

    def restricted(self, values: Sequence):
        kept = tuple(v for v in self.values if v in values)
        if not kept:
            return None
        if len(kept) == 1:
            return Fixed(kept[0])
        return Choice(kept, self.default if self.default in kept else None)

    def __repr__(self) -> str:
        inner = ", ".join(repr(v) for v in self.values)
        if self.default is not None:
            inner += f", default={self.default!r}"
        return f"Choice({inner})"


@dataclasses.dataclass(frozen=True)
class IntRange:
    """Integers from ``min_value`` to ``max_value`` (inclusive), declared with ``hp.Int``."""

    min_value: int
    max_value: int
    step: int | None = None
    sampling: str = "linear"
    default: int | None = None

    def register(self, hp, name: str, default=None):
        default = self.default if self.default is not None else default
        if default is not None and default not in self.candidates():
            default = None
        if self.min_value == self.max_value:
            return hp.Fixed(name, self.min_value)
        return hp.Int(
            name, self.min_value, self.max_value, step=self.step, sampling=self.sampling,
            default=default,
        )

    def candidates(self) -> tuple:
        if self.sampling == "linear" or self.step is None:
            step = self.step or 1
            return tuple(range(self.min_value, self.max_value + 1, step))
        values, value = [], self.min_value
        while value <= self.max_value:  # log sampling with a multiplicative step
            values.append(value)
            value *= self.step
        return tuple(values)

    def restricted(self, values: Sequence):
        kept = tuple(v for v in self.candidates() if v in values)
        if not kept:
            return None
        if kept == self.candidates():
            return self
        if len(kept) == 1:
            return Fixed(kept[0])
        return Choice(kept)

    def __repr__(self) -> str:
        text = f"IntRange({self.min_value}, {self.max_value}"
        if self.step is not None:
            text += f", step={self.step}"
        if self.sampling != "linear":
            text += f", sampling={self.sampling!r}"
        return text + ")"


@dataclasses.dataclass(frozen=True)
class FloatRange:
    """Floats from ``min_value`` to ``max_value``, declared with ``hp.Float``."""

    min_value: float
    max_value: float
    step: float | None = None
    sampling: str = "linear"
    default: float | None = None

    def register(self, hp, name: str, default=None):
        default = self.default if self.default is not None else default
        if default is not None and not self.min_value <= default <= self.max_value:
            default = None
        if self.min_value == self.max_value:
            return hp.Fixed(name, self.min_value)
        return hp.Float(
            name, self.min_value, self.max_value, step=self.step, sampling=self.sampling,
            default=default,
        )

    def candidates(self) -> tuple | None:
        if self.step is None or self.sampling != "linear":
            return None  # continuous
        n = int(math.floor((self.max_value - self.min_value) / self.step + 1e-9))
        return tuple(round(self.min_value + i * self.step, 10) for i in range(n + 1))

    def restricted(self, values: Sequence):
        return self

    def __repr__(self) -> str:
        text = f"FloatRange({self.min_value:g}, {self.max_value:g}"
        if self.step is not None:
            text += f", step={self.step:g}"
        if self.sampling != "linear":
            text += f", sampling={self.sampling!r}"
        return text + ")"


@dataclasses.dataclass(frozen=True)
class Boolean:
    """True or False, declared with ``hp.Boolean``."""

    default: bool = False

    def register(self, hp, name: str, default=None):
        return hp.Boolean(name, default=self.default)

    def candidates(self) -> tuple:
        return (False, True)

    def restricted(self, values: Sequence):
        kept = tuple(v for v in (False, True) if v in values)
        if len(kept) == 2:
            return self
        return Fixed(kept[0]) if kept else None

    def __repr__(self) -> str:
        return "Boolean()"


Spec = Fixed | Choice | IntRange | FloatRange | Boolean


# --- parameter definitions -----------------------------------------------------------


def augmentation_available() -> bool:
    """Whether ``keras_cnnlab.augment`` (the augmentation presets) can be imported."""
    try:
        import keras_cnnlab.augment  # noqa: F401
    except ImportError:
        return False
    return True


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value) -> bool:
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
        if self.name == "pool":
            return POOLS
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
            ok = _is_int(value) if self.kind == "int" else _is_real(value)
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
        _p("pool", "str", "how a block downsamples: 'max', 'avg', 'strided' (a strided first convolution) or 'none'", block=True),
        _p("pool_size", "int", "downsampling factor: pooling window or convolution stride", block=True, minimum=2),
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
        _p("augment_strength", "float", "strength of the augmentation preset", minimum=0.0, strict=True),
        _p("batch_size", "int", "batch size, passed to fit()", minimum=1),
    )
}

BLOCK_PARAMETERS = tuple(name for name, p in PARAMETERS.items() if p.block)

_BLOCK_NAME = re.compile(r"^block([1-9][0-9]*)_(" + "|".join(BLOCK_PARAMETERS) + r")$")


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
    "pool": Choice(POOLS),
    "pool_size": Choice((2, 3)),
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
    "augment_strength": FloatRange(0.5, 1.5, step=0.25, default=1.0),
    "batch_size": Choice((32, 64, 128), default=32),
}


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
    match = _BLOCK_NAME.match(name)
    if match:
        return PARAMETERS[match.group(2)]
    close = difflib.get_close_matches(name, list(PARAMETERS), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"Unknown search-space parameter {name!r}.{hint} {_valid_names_message()}")


def _check_sampling(sampling: str, low, high, step, name: str) -> None:
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


# --- the space --------------------------------------------------------------------------


class SearchSpace:
    """The hyperparameters :class:`CNNHyperModel` tunes, with defaults you can override.

    Every parameter starts from a default spec (``SearchSpace().describe()``
    lists them). Override any of them by name, for all blocks (``"filters"``)
    or for one block (``"block2_filters"``, which wins over the shared spec):

    * a single value fixes it (``hp.Fixed``),
    * a list or tuple makes it a choice (``hp.Choice``),
    * :meth:`between` makes it a range (``hp.Int`` / ``hp.Float``),
    * a spec object (:class:`Fixed`, :class:`Choice`, :class:`IntRange`,
      :class:`FloatRange`, :class:`Boolean`) is used as given.

    Unknown names raise a ValueError that lists the valid ones; values are
    checked (e.g. ``pool`` must be one of ``"max"``, ``"avg"``, ``"strided"``,
    ``"none"``).

    Parameters: ``num_blocks``; per block ``filters``, ``kernel_size``,
    ``convs``, ``activation``, ``batch_norm``, ``pool``, ``pool_size``,
    ``dropout``; ``head_pooling``, ``head_units`` (0 for no hidden layer),
    ``head_dropout``; ``optimizer``, ``learning_rate``, ``schedule``
    (``"cosine"`` or ``"constant"``), ``weight_decay``, ``label_smoothing``; ``augmentation``
    (a preset of :func:`keras_cnnlab.augmentation_preset`) and
    ``augment_strength``; ``batch_size`` (given to ``fit``; fix it to
    ``None`` to leave the batch size to ``search()``'s arguments).

    Args:
        **overrides: parameter name -> value, list of values or spec.

    Example:

    ```python
    space = SearchSpace(kernel_size=3, pool=["max", "strided"], batch_size=64)
    space.between("learning_rate", 1e-4, 3e-3, sampling="log")
    space.fix(block1_filters=16)
    hypermodel = CNNHyperModel((28, 28, 1), 10, search_space=space)
    ```
    """

    def __init__(self, **overrides):
        self._specs: dict[str, Spec] = {}
        for name, value in overrides.items():
            self.set(name, value)

    # -- overriding ----------------------------------------------------------------

    def set(self, name: str, value) -> SearchSpace:
        """Set ``name`` from a value (fixed), a list/tuple (choice) or a spec. Returns self."""
        param = parameter_for(name)
        if isinstance(value, (Fixed, Choice, IntRange, FloatRange, Boolean)):
            self._specs[name] = self._check_spec(name, param, value)
        elif isinstance(value, (list, tuple)):
            self.choose(**{name: value})
        else:
            self.fix(**{name: value})
        return self

    def fix(self, **values) -> SearchSpace:
        """Fix parameters to one value each (``hp.Fixed``). Returns self.

        ``batch_size=None`` leaves the batch size to the arguments of ``search()``.
        """
        for name, value in values.items():
            param = parameter_for(name)
            if name == "batch_size" and value is None:
                self._specs[name] = Fixed(None)
                continue
            self._specs[name] = Fixed(param.check(value, name))
        return self

    def choose(self, **choices) -> SearchSpace:
        """Make parameters a choice among the given values (``hp.Choice``). Returns self."""
        for name, values in choices.items():
            param = parameter_for(name)
            if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple)):
                raise ValueError(
                    f"Invalid value for search-space parameter `{name}`: choose() takes a list "
                    f"of values. Received {name}={values!r}; use fix({name}=...) for one value."
                )
            if not values:
                raise ValueError(
                    f"Invalid value for search-space parameter `{name}`: expected at least one "
                    f"value. Received {name}={values!r}."
                )
            checked = [param.check(v, name) for v in values]
            unique = tuple(dict.fromkeys(checked))
            if param.kind == "bool":
                self._specs[name] = Boolean() if len(unique) == 2 else Fixed(unique[0])
            else:
                self._specs[name] = Choice(unique)
        return self

    def between(
        self,
        name: str,
        low,
        high,
        *,
        step=None,
        sampling: str = "linear",
        default=None,
    ) -> SearchSpace:
        """Make a numeric parameter range over ``[low, high]`` (``hp.Int`` / ``hp.Float``).

        Args:
            name: a numeric parameter (e.g. ``"learning_rate"``, ``"block1_filters"``).
            low: inclusive lower bound.
            high: inclusive upper bound.
            step: grid step (a multiplicative step with log sampling).
            sampling: ``"linear"``, ``"log"`` or ``"reverse_log"``.
            default: the value tried first.

        Returns:
            self.
        """
        param = parameter_for(name)
        if param.kind not in ("int", "float"):
            raise ValueError(
                f"Invalid call: `{name}` is not numeric, so it has no range. Use "
                f"choose({name}=[...]) or fix({name}=...). Allowed values: {param.allowed() or (True, False)}."
            )
        low = param.check(low, f"{name} (low)")
        high = param.check(high, f"{name} (high)")
        if high < low:
            raise ValueError(
                f"Invalid range for `{name}`: expected low <= high. Received low={low!r}, high={high!r}."
            )
        _check_sampling(sampling, low, high, step, name)
        if step is not None and (not _is_real(step) or step <= 0):
            raise ValueError(
                f"Invalid value for argument `step`. Expected a positive number. Received step={step!r}."
            )
        if param.kind == "int":
            if step is not None and not _is_int(step):
                raise ValueError(
                    f"Invalid value for argument `step`: `{name}` is an integer parameter, so the "
                    f"step must be an integer. Received step={step!r}."
                )
            self._specs[name] = IntRange(int(low), int(high), step, sampling, default)
        else:
            self._specs[name] = FloatRange(float(low), float(high), step, sampling, default)
        return self

    def reset(self, *names: str) -> SearchSpace:
        """Return the named parameters (all of them without names) to their defaults."""
        if not names:
            self._specs.clear()
        for name in names:
            parameter_for(name)
            self._specs.pop(name, None)
        return self

    def _check_spec(self, name, param, spec):
        if isinstance(spec, Fixed):
            if not (name == "batch_size" and spec.value is None):
                param.check(spec.value, name)
        elif isinstance(spec, Choice):
            for v in spec.values:
                param.check(v, name)
        elif isinstance(spec, (IntRange, FloatRange)):
            wanted = "int" if isinstance(spec, IntRange) else "float"
            if param.kind != wanted:
                raise ValueError(_spec_error(name, param, spec))
            param.check(spec.min_value, name)
            param.check(spec.max_value, name)
            _check_sampling(spec.sampling, spec.min_value, spec.max_value, spec.step, name)
        elif isinstance(spec, Boolean) and param.kind != "bool":
            raise ValueError(_spec_error(name, param, spec))
        return spec

    # -- reading ------------------------------------------------------------------------

    @property
    def names(self) -> tuple[str, ...]:
        """The shared parameter names (per-block names are ``block<i>_<name>``)."""
        return tuple(PARAMETERS)

    @property
    def overrides(self) -> dict:
        """The specs set on this space (defaults excluded)."""
        return dict(self._specs)

    def is_set(self, name: str) -> bool:
        """Whether ``name`` was overridden (for a per-block name, by itself or its shared name)."""
        parameter_for(name)
        if name in self._specs:
            return True
        match = _BLOCK_NAME.match(name)
        return bool(match) and match.group(2) in self._specs

    def spec(self, name: str, *, block: str | None = None):
        """The spec in force for ``name``; with ``block="block2"``, the per-block one if set."""
        parameter_for(name)
        if block is not None:
            per_block = f"{block}_{name}"
            if per_block in self._specs:
                return self._specs[per_block]
        if name in self._specs:
            return self._specs[name]
        match = _BLOCK_NAME.match(name)
        if match:
            return self.spec(match.group(2))
        return default_spec(name)

    def __getitem__(self, name: str):
        return self.spec(name)

    def __contains__(self, name) -> bool:
        try:
            parameter_for(name)
        except ValueError:
            return False
        return True

    def copy(self) -> SearchSpace:
        """An independent copy."""
        new = SearchSpace()
        new._specs = dict(self._specs)
        return new

    def describe(self) -> str:
        """One line per parameter: name, spec in force, whether overridden, and meaning."""
        width = max(len(n) for n in PARAMETERS)
        lines = []
        for name, param in PARAMETERS.items():
            mark = "*" if name in self._specs else " "
            lines.append(f"{mark} {name:<{width}}  {self.spec(name)!r:<42} {param.doc}")
        for name, spec in self._specs.items():
            if name not in PARAMETERS:
                lines.append(f"* {name:<{width}}  {spec!r:<42} (one block)")
        return "\n".join(lines)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self._specs.items())
        return f"SearchSpace({inner})"

    def __eq__(self, other) -> bool:
        return isinstance(other, SearchSpace) and other._specs == self._specs


_KIND_NAMES = {"int": "an integer", "float": "a float", "bool": "a boolean", "str": "a string"}
_KIND_SPECS = {
    "int": "Fixed, Choice or IntRange",
    "float": "Fixed, Choice or FloatRange",
    "bool": "Fixed, Choice or Boolean",
    "str": "Fixed or Choice",
}


def _spec_error(name: str, param: Parameter, spec) -> str:
    return (
        f"Invalid spec for search-space parameter `{name}`: {_KIND_NAMES[param.kind]} "
        f"parameter takes {_KIND_SPECS[param.kind]}. Received {name}={spec!r}."
    )


def as_search_space(value) -> SearchSpace:
    """``None`` -> defaults; a dict -> ``SearchSpace(**dict)``; a SearchSpace as is."""
    if value is None:
        return SearchSpace()
    if isinstance(value, SearchSpace):
        return value
    if isinstance(value, dict):
        return SearchSpace(**value)
    raise ValueError(
        "Invalid value for argument `search_space`. Expected a SearchSpace, a dict of "
        f"overrides or None. Received search_space={value!r}."
    )
