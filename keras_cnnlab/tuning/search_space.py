"""SearchSpace: what CNNHyperModel tunes, and how to fix, narrow or widen any of it.

A :class:`SearchSpace` maps parameter names (:mod:`~keras_cnnlab.tuning.parameters`)
to specs (:mod:`~keras_cnnlab.tuning.specs`): :class:`Fixed`, :class:`Choice`,
:class:`IntRange`, :class:`FloatRange` or :class:`Boolean`.

Example:

>>> space = SearchSpace(kernel_size=3, filters=[16, 32])   # fix one, narrow another
>>> space = space.between("learning_rate", 1e-3, 3e-2, sampling="log")
>>> space["kernel_size"]
Fixed(3)
>>> space["block2_filters"]          # per-block names fall back to the shared spec
Choice(16, 32)
"""

from __future__ import annotations

from keras_cnnlab.tuning.parameters import (
    BLOCK_PARAMETERS,
    PARAMETERS,
    Parameter,
    augmentation_available,
    check_sampling,
    current_name,
    default_spec,
    is_int,
    is_real,
    parameter_for,
    shared_name,
)
from keras_cnnlab.tuning.specs import Boolean, Choice, Fixed, FloatRange, IntRange, Spec

__all__ = [
    "SearchSpace",
    "as_search_space",
    # defined in specs.py and parameters.py, and importable from here as before
    "Boolean",
    "Choice",
    "FloatRange",
    "Fixed",
    "IntRange",
    "BLOCK_PARAMETERS",
    "PARAMETERS",
    "augmentation_available",
]


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
    checked (e.g. ``downsample`` must be one of ``"max"``, ``"avg"``,
    ``"strided"``, ``"none"``).

    Parameters: ``num_blocks``; per block ``filters``, ``kernel_size``,
    ``convs``, ``activation``, ``batch_norm``, ``downsample`` (``"max"`` or
    ``"avg"`` pooling, ``"strided"`` for a strided first convolution, or
    ``"none"``), ``downsample_factor`` (the pooling window or the stride),
    ``dropout``; ``head_pooling``, ``head_units`` (0 for no hidden layer),
    ``head_dropout``; ``optimizer``, ``learning_rate``, ``schedule``
    (``"cosine"`` or ``"constant"``), ``weight_decay``, ``label_smoothing``; ``augmentation``
    (a preset of :func:`keras_cnnlab.augmentation_preset`) and
    ``augmentation_strength``; ``batch_size`` (given to ``fit``; fix it to
    ``None`` to leave the batch size to ``search()``'s arguments).

    The names ``pool``, ``pool_size`` and ``augment_strength`` (and
    ``block<i>_pool``, ``block<i>_pool_size``) still work in this release,
    with a DeprecationWarning, and mean ``downsample``, ``downsample_factor``
    and ``augmentation_strength``.

    Args:
        **overrides: parameter name -> value, list of values or spec.

    Example:

    ```python
    space = SearchSpace(kernel_size=3, downsample=["max", "strided"], batch_size=64)
    space.between("learning_rate", 1e-4, 3e-3, sampling="log")
    space.fix(block1_filters=16)
    hypermodel = CNNHyperModel((28, 28, 1), 10, search_space=space)
    ```
    """

    def __init__(self, **overrides):
        self._specs: dict[str, Spec] = {}
        for name, value in overrides.items():
            self.set(current_name(name), value)

    # -- overriding ----------------------------------------------------------------

    def set(self, name: str, value) -> SearchSpace:
        """Set ``name`` from a value (fixed), a list/tuple (choice) or a spec. Returns self."""
        name = current_name(name)
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
            name = current_name(name)
            param = parameter_for(name)
            if name == "batch_size" and value is None:
                self._specs[name] = Fixed(None)
                continue
            self._specs[name] = Fixed(param.check(value, name))
        return self

    def choose(self, **choices) -> SearchSpace:
        """Make parameters a choice among the given values (``hp.Choice``). Returns self."""
        for name, values in choices.items():
            name = current_name(name)
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
        name = current_name(name)
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
        check_sampling(sampling, low, name)
        if step is not None and (not is_real(step) or step <= 0):
            raise ValueError(
                f"Invalid value for argument `step`. Expected a positive number. Received step={step!r}."
            )
        if param.kind == "int":
            if step is not None and not is_int(step):
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
            name = current_name(name)
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
            check_sampling(spec.sampling, spec.min_value, name)
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
        name = current_name(name)
        parameter_for(name)
        return name in self._specs or shared_name(name) in self._specs

    def spec(self, name: str, *, block: str | None = None):
        """The spec in force for ``name``; with ``block="block2"``, the per-block one if set."""
        name = current_name(name)
        parameter_for(name)
        if block is not None:
            per_block = f"{block}_{name}"
            if per_block in self._specs:
                return self._specs[per_block]
        if name in self._specs:
            return self._specs[name]
        shared = shared_name(name)
        if shared is not None:
            return self.spec(shared)
        return default_spec(name)

    def __getitem__(self, name: str):
        return self.spec(current_name(name))

    def __contains__(self, name) -> bool:
        try:
            parameter_for(current_name(name))
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
