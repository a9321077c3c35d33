"""The specs of a search space: how one parameter is declared on ``hp``.

Each spec declares itself on a ``keras_tuner.HyperParameters`` object with the
matching ``hp.Fixed``, ``hp.Choice``, ``hp.Int``, ``hp.Float`` or ``hp.Boolean``
call, so every tuner (random, Bayesian, Hyperband, grid) sees an ordinary
KerasTuner space. ``candidates()`` lists the values a spec can take (``None``
for a continuous range) and ``restricted(values)`` narrows it to some of them.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

__all__ = ["Boolean", "Choice", "FloatRange", "Fixed", "IntRange", "Spec"]


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
