"""Walk a model and collect one row per layer call, from the model's own graph.

* Functional and Sequential models: the shapes of the graph's nodes (no call).
* ConvBlock and ClassifierHead: their parts in order, through each part's
  ``compute_output_shape``.
* Subclassed models, other layers with parts, and models given a concrete
  ``input_shape`` where their graph has unknown sizes: one call on symbolic
  tensors that records every part's input and output shape (see
  :class:`~keras_cnnlab.trace.record.Recorder`). No data goes through the model, and the layers keep no
  trace of it.
"""

from __future__ import annotations

import inspect

import keras

from keras_cnnlab import shapes
from keras_cnnlab.trace import costs
from keras_cnnlab.trace.reach import GLOBAL, START, UNKNOWN, Reach, apply, merge, shift
from keras_cnnlab.trace.record import Recorder, _dtype, _flat, _shape, sublayers
from keras_cnnlab.trace.result import LayerTrace

__all__ = ["Collector", "Reach", "START"]


def _one_or_list(shapes_: list):
    if not shapes_:
        return None
    return shapes_[0] if len(shapes_) == 1 else list(shapes_)


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
        recorder = Recorder(root)
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
        _set_saved(row, children)
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
        _set_reach(row, reach, output_shapes)
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
            shape, reach = input_shapes[0], merge(input_reaches)
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
        reach_in = merge(input_reaches)
        kind = costs.reach_kind(op, input_shapes, output_shapes)
        if kind == "global":
            return GLOBAL
        if kind == "pointwise":
            return shift(reach_in, _grid_shift(op))
        if child_reach is not None:
            return child_reach
        if kind == "spatial" and input_shapes and len(input_shapes[0]) == 4:
            _, size = costs._split(input_shapes[0], op)
            return apply(reach_in, shapes.trace_spatial(size, [costs.spatial_op(op)]))
        if kind == "block" and input_shapes and len(input_shapes[0]) == 4:
            _, size = costs._split(input_shapes[0], op)
            return apply(reach_in, shapes.trace_spatial(size, op.spatial_ops()))
        # A layer fed by one that sees the whole input sees it too, whatever it does.
        return GLOBAL if reach_in.covers_input else UNKNOWN

    def _bytes(self, output_shapes, dtype) -> int | None:
        total = 0
        for shape in output_shapes:
            if shape is None or any(v is None for v in shape[1:]):
                return None
            total += costs._elements(shape)
        return total * self.batch_size * costs.dtype_bytes(dtype or "float32")


def _set_saved(row, children) -> None:
    """What training keeps for the backward pass: the output, nothing for views, the parts' sum."""
    if children:
        row.saved_bytes = _sum_or_none(r.saved_bytes for r in children)
    else:
        row.saved_bytes = 0 if row.family in costs.VIEWS else row.activation_bytes


def _set_reach(row, reach, output_shapes) -> None:
    if output_shapes and output_shapes[0] is not None and len(output_shapes[0]) == 4:
        row.receptive_field, row.effective_stride = reach.rf, reach.jump
        if reach.rf is not None and reach.padding is not None and None not in reach.padding:
            row.effective_padding = reach.padding
    row.covers_input = reach.covers_input


def _grid_shift(op) -> tuple:
    """Rows and columns that ZeroPadding2D adds (Cropping2D removes) before the input."""
    kind = costs.family(op)
    if kind == "ZeroPadding2D":
        return tuple(before for before, _ in op.padding)
    if kind == "Cropping2D":
        return tuple(-before for before, _ in op.cropping)
    return (0, 0)


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
