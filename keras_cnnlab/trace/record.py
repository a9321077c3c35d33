"""Record the shapes of every part of a layer during one symbolic call.

:class:`Recorder` wraps each part's ``call`` and ``symbolic_call`` on the
instance for the time of one call on KerasTensors (or on backend placeholders
when the call needs raw backend ops) and keeps the input and output shape of
every part, nested as the calls were. No data goes through the model, and the
layers keep no trace of it. The helpers name tensors' shapes and dtypes for the
rest of the trace.
"""

from __future__ import annotations

import functools

import keras

# The symbolic call of every backend (TF FuncGraph, jax.eval_shape, torch meta
# tensors), as Keras uses it to build subclassed models; not exported by keras.
from keras_cnnlab._internals import compute_output_spec

__all__ = ["Recorder", "Event"]


def _shape(value) -> tuple | None:
    shape = getattr(value, "shape", None)
    if shape is None:
        return None
    return tuple(d if isinstance(d, int) else None for d in shape)


def _dtype(value) -> str | None:
    dtype = getattr(value, "dtype", None)
    if dtype is None:
        return None
    try:
        return keras.backend.standardize_dtype(dtype)
    except Exception:  # noqa: BLE001 - an exotic dtype only loses its label
        return str(dtype)


def _flat(structure) -> list:
    return [x for x in keras.tree.flatten(structure) if hasattr(x, "shape")]


def sublayers(layer) -> list:
    """Direct sub-layers of ``layer``."""
    try:
        return list(layer._flatten_layers(include_self=False, recursive=False))
    except AttributeError:
        return []


class Event:
    __slots__ = (
        "layer", "inputs", "outputs", "input_ids", "output_ids", "dtype", "children", "_alive",
    )

    def __init__(self, layer, tensors):
        self.layer = layer
        # Holding the tensors keeps their ids unique while the recording lasts.
        self._alive = list(tensors)
        self.inputs = [_shape(t) for t in tensors]
        self.input_ids = [id(t) for t in tensors]
        self.outputs = None
        self.output_ids = []
        self.dtype = None
        self.children = []

    def set_outputs(self, outputs):
        flat = _flat(outputs)
        self._alive += flat
        self.outputs = [_shape(t) for t in flat]
        self.output_ids = [id(t) for t in flat]
        self.dtype = _dtype(flat[0]) if flat else None


def _merge_passes(passes: list[list[Event]]) -> list[Event]:
    """The last pass, with sizes that differ between passes set to ``None``.

    Backends that run a function more than once to infer unknown sizes
    (PyTorch fills them with two values) give several passes.
    """
    if not passes:
        return []
    last = passes[-1]

    def merge(mine, theirs):
        if len(mine) != len(theirs):
            return
        for a, b in zip(mine, theirs):
            a.inputs = [_merge_shape(x, y) for x, y in zip(a.inputs, b.inputs)]
            a.outputs = [_merge_shape(x, y) for x, y in zip(a.outputs or [], b.outputs or [])]
            merge(a.children, b.children)

    for other in passes[:-1]:
        merge(last, other)
    return last


def _runs_call_for_shapes(layer) -> bool:
    """Whether Keras infers this layer's output by running its ``call`` symbolically."""
    return type(layer).compute_output_spec is keras.layers.Layer.compute_output_spec and getattr(
        layer.compute_output_shape, "_is_default", False
    )


class Recorder:
    """Records the input and output shape of every part during one symbolic call.

    The root's ``call`` runs on KerasTensors. Each part's ``symbolic_call`` is
    wrapped on the instance so that it records its shapes without adding a node
    to the layer (its output comes from ``compute_output_shape`` when the layer
    has one); a part without one runs its ``call`` on backend placeholders
    (``compute_output_spec``), where the wrapped ``call`` of its own parts
    records them. Everything is restored afterwards. When the root's ``call``
    cannot run on KerasTensors (raw backend ops), the whole call runs on
    backend placeholders instead.
    """

    def __init__(self, root):
        self.root = root
        self.top: list[Event] = []
        self.input_ids: list[int] = []
        self._stack: list[Event] = []

    def _add(self, event):
        (self._stack[-1].children if self._stack else self.top).append(event)

    def _backend_run(self, fn, args, kwargs, reset):
        passes = []

        def run(*a, **k):
            events = reset(a)
            out = fn(*a, **k)
            passes.append(list(events))
            return out

        outputs = compute_output_spec(run, *args, **kwargs)
        return outputs, _merge_passes(passes)

    def _wrap(self, layer):
        call, symbolic = layer.call, layer.symbolic_call

        @functools.wraps(symbolic)
        def symbolic_call(*args, **kwargs):
            event = Event(layer, _flat((args, kwargs)))
            self._add(event)
            self._stack.append(event)
            try:
                if _runs_call_for_shapes(layer) and sublayers(layer):

                    def reset(_):
                        event.children = []
                        return event.children

                    outputs, event.children = self._backend_run(call, args, kwargs, reset)
                else:
                    outputs = layer.compute_output_spec(*args, **kwargs)
            finally:
                self._stack.pop()
            event.set_outputs(outputs)
            return outputs

        @functools.wraps(call)
        def call_wrapper(*args, **kwargs):
            if self._stack and self._stack[-1].layer is layer:
                return call(*args, **kwargs)  # its own call, run for its output spec
            event = Event(layer, _flat((args, kwargs)))
            self._add(event)
            self._stack.append(event)
            try:
                outputs = call(*args, **kwargs)
            finally:
                self._stack.pop()
            event.set_outputs(outputs)
            return outputs

        object.__setattr__(layer, "symbolic_call", symbolic_call)
        object.__setattr__(layer, "call", call_wrapper)

    def run(self, inputs, call_kwargs):
        """Call ``root.call`` on ``inputs`` (KerasTensors), recording every part."""
        parts = list(self.root._flatten_layers(include_self=False, recursive=True))
        for layer in parts:
            self._wrap(layer)
        try:
            try:
                self.input_ids = [id(t) for t in inputs]
                return self.root.call(*inputs, **call_kwargs)
            except Exception:  # noqa: BLE001 - retried on backend placeholders below
                self._stack = []

            def reset(args):
                self.top = []
                self.input_ids = [id(t) for t in _flat(args)]
                return self.top

            outputs, self.top = self._backend_run(self.root.call, inputs, call_kwargs, reset)
            return outputs
        finally:
            for layer in parts:
                layer.__dict__.pop("call", None)
                layer.__dict__.pop("symbolic_call", None)


def _merge_shape(a, b):
    if a is None or b is None or len(a) != len(b):
        return a
    return tuple(x if x == y else None for x, y in zip(a, b))
