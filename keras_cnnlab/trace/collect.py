"""Walk a model and collect one row per layer call, from the model's own graph.

* Functional and Sequential models: the shapes of the graph's nodes (no call).
* ConvBlock and ClassifierHead: their parts in order, through each part's
  ``compute_output_shape``.
* Subclassed models, other layers with parts, and models given a concrete
  ``input_shape`` where their graph has unknown sizes: one call on symbolic
  tensors that records every part's input and output shape (see
  :class:`_Recorder`). No data goes through the model, and the layers keep no
  trace of it.
"""

from __future__ import annotations

import functools
import inspect
from typing import NamedTuple

import keras

from keras_cnnlab import shapes

# The symbolic call of every backend (TF FuncGraph, jax.eval_shape, torch meta
# tensors), as Keras uses it to build subclassed models; not exported by keras.
from keras_cnnlab._internals import compute_output_spec
from keras_cnnlab.trace import costs
from keras_cnnlab.trace.result import LayerTrace

__all__ = ["Collector", "Reach"]


class Reach(NamedTuple):
    """Receptive field and effective stride of a tensor, relative to the model input."""

    rf: tuple | None
    jump: tuple | None
    covers_input: bool = False


START = Reach((1, 1), (1, 1))
UNKNOWN = Reach(None, None)
GLOBAL = Reach(None, None, True)


def _merge(reaches: list[Reach]) -> Reach:
    if not reaches:
        return UNKNOWN
    if len(reaches) == 1:
        return reaches[0]
    if any(r.covers_input for r in reaches):
        return GLOBAL
    if any(r.rf is None for r in reaches) or len({r.jump for r in reaches}) != 1:
        return UNKNOWN
    rf = tuple(max(values) for values in zip(*(r.rf for r in reaches)))
    return Reach(rf, reaches[0].jump)


def _apply(reach: Reach, steps: list[shapes.StepResult]) -> Reach:
    """Compose ``reach`` with the steps of :func:`keras_cnnlab.shapes.trace_spatial`."""
    if reach.covers_input or reach.rf is None or not steps:
        return reach
    last = steps[-1]
    rf = tuple(r + (s - 1) * j for r, s, j in zip(reach.rf, last.receptive_field, reach.jump))
    jump = tuple(j * s for j, s in zip(reach.jump, last.jump))
    return Reach(rf, jump)


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


def _one_or_list(shapes_: list):
    if not shapes_:
        return None
    return shapes_[0] if len(shapes_) == 1 else list(shapes_)


def sublayers(layer) -> list:
    """Direct sub-layers of ``layer``."""
    try:
        return list(layer._flatten_layers(include_self=False, recursive=False))
    except AttributeError:
        return []


def graph_of(model):
    """The Functional graph behind a Functional or built Sequential model, else ``None``."""
    if isinstance(model, keras.Sequential):
        return getattr(model, "_functional", None)
    if isinstance(model, keras.Model) and hasattr(model, "_nodes_by_depth"):
        return model
    return None


def _chain_parts(layer) -> list | None:
    """Parts that ``layer.call`` applies one after the other, if we know it does."""
    from keras_cnnlab.blocks import ClassifierHead, ConvBlock

    if isinstance(layer, ConvBlock):
        return list(layer.block_layers)
    if isinstance(layer, ClassifierHead):
        return list(layer.head_layers)
    return None


class _Event:
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


def _merge_passes(passes: list[list[_Event]]) -> list[_Event]:
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


class _Recorder:
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
        self.top: list[_Event] = []
        self.input_ids: list[int] = []
        self._stack: list[_Event] = []

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
            event = _Event(layer, _flat((args, kwargs)))
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
            event = _Event(layer, _flat((args, kwargs)))
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


def _call_kwargs(layer) -> dict:
    try:
        params = inspect.signature(layer.call).parameters
    except (TypeError, ValueError):
        return {}
    return {"training": False} if "training" in params else {}


def _symbolic_inputs(input_shapes, dtype):
    return [keras.KerasTensor(shape, dtype=dtype) for shape in input_shapes]


def _params(layer) -> tuple[int, int]:
    trainable = sum(_size(v) for v in layer.trainable_weights)
    non_trainable = sum(_size(v) for v in layer.non_trainable_weights)
    return trainable, non_trainable


def _size(variable) -> int:
    return shapes.prod(variable.shape)


class Collector:
    """Builds the rows of a trace."""

    def __init__(self, batch_size: int):
        self.batch_size = batch_size
        self.rows: list[LayerTrace] = []
        self._seen: dict[int, str] = {}
        self._paths: dict[str, int] = {}

    # Entry points

    def walk_graph(self, graph, input_reaches, *, depth, prefix):
        """Rows for every node of a Functional graph; returns the output reaches."""
        reach_of = {id(t): r for t, r in zip(graph.inputs, input_reaches)}
        nodes_by_depth = graph._nodes_by_depth
        for level in sorted(nodes_by_depth, reverse=True):
            for node in nodes_by_depth[level]:
                op = node.operation
                if op is None or node.is_input:
                    continue
                ins = node.input_tensors
                outs = node.outputs
                reaches = [reach_of.get(id(t), UNKNOWN) for t in ins]
                reach = self.add_call(
                    op,
                    [_shape(t) for t in ins],
                    [_shape(t) for t in outs],
                    reaches,
                    depth=depth,
                    prefix=prefix,
                    dtype=_dtype(outs[0]) if outs else None,
                )
                for t in outs:
                    reach_of[id(t)] = reach
        return [reach_of.get(id(t), UNKNOWN) for t in graph.outputs]

    def record(self, root, input_shapes, input_reaches, *, depth, prefix, dtype):
        """Rows for the parts of ``root`` from one symbolic call; returns output shapes and reaches."""
        recorder = _Recorder(root)
        inputs = _symbolic_inputs(input_shapes, dtype)
        outputs = recorder.run(inputs, _call_kwargs(root))
        events = recorder.top
        reach_of = dict(zip(recorder.input_ids, input_reaches))
        self._add_events(events, reach_of, input_reaches, depth=depth, prefix=prefix)
        flat = _flat(outputs)
        out_shapes = [_shape(t) for t in flat]
        last = events[-1] if events else None
        reach = reach_of.get(last.output_ids[0], UNKNOWN) if last and last.output_ids else UNKNOWN
        return out_shapes, reach

    # Rows

    def _add_events(self, events, reach_of, fallback, *, depth, prefix):
        previous = fallback
        for event in events:
            reaches = [reach_of[i] for i in event.input_ids if i in reach_of]
            if not reaches:
                # Tensors converted on the way (dtype casts) get new ids: in a
                # chain the previous output is the input.
                reaches = previous
            reach = self.add_call(
                event.layer,
                event.inputs,
                event.outputs or [],
                reaches,
                depth=depth,
                prefix=prefix,
                dtype=event.dtype,
                recorded=event.children,
                reach_of=reach_of,
            )
            for i in event.output_ids:
                reach_of[i] = reach
            previous = [reach]

    def _path(self, prefix, name) -> str:
        base = f"{prefix}/{name}" if prefix else name
        count = self._paths.get(base, 0) + 1
        self._paths[base] = count
        return base if count == 1 else f"{base}@{count}"

    def add_call(
        self,
        op,
        input_shapes,
        output_shapes,
        input_reaches,
        *,
        depth,
        prefix,
        dtype=None,
        recorded=None,
        reach_of=None,
    ) -> Reach:
        """Add the row of one call of ``op`` (and rows for its parts); returns its output reach."""
        path = self._path(prefix, op.name)
        row = LayerTrace(
            path=path,
            name=op.name,
            type=type(op).__name__,
            depth=depth,
            family=costs.family(op),
            parent=prefix or None,
            input_shape=_one_or_list(input_shapes),
            output_shape=_one_or_list(output_shapes),
            dtype=dtype or getattr(op, "compute_dtype", None),
            data_format=getattr(op, "data_format", None),
        )
        self.rows.append(row)
        is_layer = isinstance(op, keras.layers.Layer)
        if is_layer:
            first = self._seen.setdefault(id(op), path)
            if first == path:
                row.trainable_params, row.non_trainable_params = _params(op)
            else:
                row.note = f"shares weights with {first!r}"
        self._set_window(row, op)

        # Parts first: the row's cost and reach may come from them.
        start = len(self.rows)
        child_reach = None
        if is_layer and output_shapes and output_shapes[0] is not None:
            try:
                child_reach = self._add_parts(
                    op, input_shapes, output_shapes, input_reaches, depth + 1, path, recorded, reach_of
                )
            except Exception as error:  # noqa: BLE001 - reported as a finding, not raised
                del self.rows[start:]
                row.error = f"its parts could not be traced: {_short(error)}"
        children = [r for r in self.rows[start:] if r.parent == path]
        row.has_children = bool(children)

        if output_shapes and output_shapes[0] is not None:
            row.activation_bytes = self._bytes(output_shapes, row.dtype)
        if children and not row.error:
            row.macs = _sum_or_none(r.macs for r in children)
            row.flops = _sum_or_none(r.flops for r in children)
            if row.flops is None:
                row.note = row.note or "a part has an unknown cost"
        elif children or row.error:
            row.macs = row.flops = None
        else:
            row.macs, row.flops, note = costs.layer_cost(op, input_shapes, output_shapes)
            if note and row.flops is None:
                row.note = row.note or note
        try:
            row.explanation = costs.explain(op, input_shapes, output_shapes)
        except Exception:  # noqa: BLE001 - an explanation is optional
            row.explanation = None

        reach = self._reach(op, input_shapes, output_shapes, input_reaches, child_reach)
        if output_shapes and output_shapes[0] is not None and len(output_shapes[0]) == 4:
            row.receptive_field, row.effective_stride = reach.rf, reach.jump
        row.covers_input = reach.covers_input
        return reach

    def _add_parts(self, op, input_shapes, output_shapes, input_reaches, depth, path, recorded, reach_of):
        """Rows for the parts of ``op``; returns the reach of its output, or ``None``."""
        if recorded:
            self._add_events(recorded, reach_of, input_reaches, depth=depth, prefix=path)
            last = recorded[-1]
            return reach_of.get(last.output_ids[0]) if last.output_ids else None
        graph = graph_of(op) if isinstance(op, keras.Model) else None
        if graph is not None:
            graph_inputs = [_shape(t) for t in graph.inputs]
            if graph_inputs == list(input_shapes):
                return self.walk_graph(graph, input_reaches, depth=depth, prefix=path)[0]
        parts = _chain_parts(op)
        if parts is not None:
            shape, reach = input_shapes[0], _merge(input_reaches)
            for part in parts:
                out = tuple(part.compute_output_shape(shape))
                reach = self.add_call(
                    part, [shape], [out], [reach], depth=depth, prefix=path,
                    dtype=getattr(part, "compute_dtype", None),
                )
                shape = out
            return reach
        if not sublayers(op):
            return None
        dtype = getattr(op, "input_dtype", None) or "float32"
        _, reach = self.record(op, input_shapes, input_reaches, depth=depth, prefix=path, dtype=dtype)
        return reach

    def _set_window(self, row, op):
        kind = costs.family(op)
        if hasattr(op, "kernel_size") and kind != "ConvBlock":
            row.kernel_size = tuple(op.kernel_size)
        elif hasattr(op, "pool_size") and kind != "ConvBlock":
            row.kernel_size = tuple(op.pool_size)
        elif kind == "ConvBlock":
            row.kernel_size = tuple(op.kernel_size)
        else:
            return
        strides = getattr(op, "strides", None)
        row.strides = tuple(strides) if strides is not None else None
        padding = getattr(op, "padding", None)
        row.padding = padding if isinstance(padding, str) else None
        dilation = getattr(op, "dilation_rate", None)
        row.dilation_rate = tuple(dilation) if dilation is not None else None

    def _reach(self, op, input_shapes, output_shapes, input_reaches, child_reach) -> Reach:
        reach_in = _merge(input_reaches)
        kind = costs.reach_kind(op, input_shapes, output_shapes)
        if kind == "global":
            return GLOBAL
        if kind == "pointwise":
            return reach_in
        if child_reach is not None:
            return child_reach
        if kind == "spatial" and input_shapes and len(input_shapes[0]) == 4:
            _, size = costs._split(input_shapes[0], op)
            return _apply(reach_in, shapes.trace_spatial(size, [costs.spatial_op(op)]))
        if kind == "block" and input_shapes and len(input_shapes[0]) == 4:
            _, size = costs._split(input_shapes[0], op)
            return _apply(reach_in, shapes.trace_spatial(size, op.spatial_ops()))
        return UNKNOWN

    def _bytes(self, output_shapes, dtype) -> int | None:
        total = 0
        for shape in output_shapes:
            if shape is None or any(v is None for v in shape[1:]):
                return None
            total += costs._elements(shape)
        return total * self.batch_size * costs.dtype_bytes(dtype or "float32")


def _sum_or_none(values):
    total = 0
    for v in values:
        if v is None:
            return None
        total += v
    return total


def _short(error: Exception) -> str:
    text = str(error).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(error).__name__}: {first}"[:300]
