"""trace_shapes: from a Keras model to a :class:`~keras_cnnlab.trace.ShapeTrace`."""

from __future__ import annotations

import numbers

import keras

from keras_cnnlab._validation import check_int
from keras_cnnlab.trace import collect, costs, findings
from keras_cnnlab.trace.result import ShapeTrace, TraceTotals

__all__ = ["trace_shapes", "print_shape_trace", "optimizer_state_bytes", "OPTIMIZER_SLOTS"]

DEFAULT_DEPTH = 3

#: Slot variables per trainable weight of Keras's optimizers at their defaults.
OPTIMIZER_SLOTS = {
    "SGD": 0,
    "Adam": 2,
    "AdamW": 2,
    "Adamax": 2,
    "Nadam": 2,
    "Lamb": 2,
    "Adadelta": 2,
    "Ftrl": 2,
    "RMSprop": 1,
    "Adagrad": 1,
    "Lion": 1,
}


def _check_input_shape(input_shape) -> list[tuple] | None:
    if input_shape is None:
        return None

    def one(shape):
        shape = tuple(shape)
        if not shape or not all(
            d is None or (isinstance(d, numbers.Integral) and not isinstance(d, bool) and d > 0)
            for d in shape
        ):
            raise ValueError
        return tuple(None if d is None else int(d) for d in shape)

    try:
        if isinstance(input_shape, (list, tuple)) and input_shape and all(
            isinstance(s, (list, tuple)) for s in input_shape
        ):
            return [one(s) for s in input_shape]
        return [one(input_shape)]
    except (TypeError, ValueError):
        raise ValueError(
            "Invalid value for argument `input_shape`. Expected the shape of one sample "
            "without the batch axis, such as (28, 28, 1) (or a list of them for several "
            f"inputs). Received input_shape={input_shape!r}."
        ) from None


def _fits(general, given) -> bool:
    return len(general) == len(given) and all(a is None or a == b for a, b in zip(general, given))


def _built_shapes(layer) -> list[tuple] | None:
    shapes_dict = getattr(layer, "_build_shapes_dict", None)
    if not shapes_dict:
        return None
    values = list(shapes_dict.values())
    if len(values) != 1:
        return None
    value = values[0]
    if isinstance(value, (list, tuple)) and value and isinstance(value[0], (list, tuple)):
        return [tuple(s)[1:] for s in value]
    return [tuple(value)[1:]]


def _not_built(model, what) -> ValueError:
    return ValueError(
        f"{what} {model.name!r} is not built, so its shapes are unknown. Pass "
        "input_shape=(height, width, channels) (one sample, no batch axis), or build it "
        "first with model.build((None, height, width, channels))."
    )


def optimizer_state_bytes(optimizer, model) -> tuple[str | None, int | None]:
    """``(name, bytes)`` of the optimizer's slot variables for ``model``'s trainable weights.

    ``optimizer`` is a name (``"adam"``), an optimizer instance, or ``None`` for
    the model's compiled optimizer (no estimate when it has none). A built
    optimizer is measured; otherwise the slots per weight come from
    :data:`OPTIMIZER_SLOTS` and its settings (momentum, ``amsgrad``, ``centered``,
    ``use_ema``). Unknown optimizers give ``None`` bytes.
    """
    if optimizer is None:
        optimizer = getattr(model, "optimizer", None)
        if optimizer is None:
            return None, None
    if isinstance(optimizer, str):
        try:
            optimizer = keras.optimizers.get(optimizer)
        except ValueError:
            raise ValueError(
                "Invalid value for argument `optimizer`. Expected a Keras optimizer name "
                f"such as 'adam' or 'sgd', an optimizer, or None. Received optimizer={optimizer!r}."
            ) from None
    if not isinstance(optimizer, keras.optimizers.Optimizer):
        raise ValueError(
            "Invalid value for argument `optimizer`. Expected a Keras optimizer name, an "
            f"optimizer instance or None. Received optimizer={optimizer!r}."
        )
    inner = getattr(optimizer, "inner_optimizer", None)
    if inner is not None:  # LossScaleOptimizer
        optimizer = inner
    name = type(optimizer).__name__
    if getattr(optimizer, "built", False) and optimizer.variables:
        return name, sum(collect._size(v) * costs.dtype_bytes(v.dtype) for v in optimizer.variables)
    weight_bytes = sum(
        collect._size(v) * costs.dtype_bytes(v.dtype) for v in model.trainable_weights
    )
    slots = OPTIMIZER_SLOTS.get(name)
    if slots is None:
        return name, None
    if name == "SGD" and getattr(optimizer, "momentum", 0):
        slots += 1
    if name == "Adam" and getattr(optimizer, "amsgrad", False):
        slots += 1
    if name == "RMSprop":
        slots += bool(getattr(optimizer, "momentum", 0)) + bool(getattr(optimizer, "centered", False))
    if getattr(optimizer, "use_ema", False):
        slots += 1
    return name, slots * weight_bytes


def _plan(model, input_shapes):
    """How to trace ``model``: ``("graph", graph)``, ``("record", shapes)`` or ``("layer", shapes)``."""
    if not isinstance(model, keras.Model):
        shapes_ = input_shapes or _built_shapes(model)
        if shapes_ is None:
            raise _not_built(model, "Layer")
        return "layer", shapes_
    graph = collect.graph_of(model)
    if graph is None and isinstance(model, keras.Sequential):
        if input_shapes is None:
            raise _not_built(model, "Sequential model")
        if len(input_shapes) != 1:
            raise ValueError(
                "Invalid value for argument `input_shape`: a Sequential model has one input. "
                f"Received input_shape={input_shapes!r}."
            )
        model.build((None, *input_shapes[0]))
        graph = collect.graph_of(model)
    if graph is not None:
        own = [tuple(t.shape)[1:] for t in graph.inputs]
        if input_shapes is None or input_shapes == own:
            return "graph", graph
        if len(own) == len(input_shapes) and all(_fits(a, b) for a, b in zip(own, input_shapes)):
            return "record", input_shapes
        raise ValueError(
            f"Invalid value for argument `input_shape`: model {model.name!r} takes "
            f"{own[0] if len(own) == 1 else own} per sample. Received input_shape="
            f"{input_shapes[0] if len(input_shapes) == 1 else input_shapes}."
        )
    shapes_ = input_shapes or _built_shapes(model)
    if shapes_ is None:
        raise _not_built(model, "Model")
    if not model.built:
        # As a first call on data would: build by running call() symbolically.
        dtype = getattr(model, "input_dtype", None) or "float32"
        model(*collect._symbolic_inputs([(None, *s) for s in shapes_], dtype))
    return "record", shapes_


def trace_shapes(
    model,
    input_shape=None,
    *,
    batch_size: int = 1,
    depth: int = DEFAULT_DEPTH,
    optimizer=None,
) -> ShapeTrace:
    """Trace every layer's shapes, parameters, cost, memory and receptive field.

    Reads the shapes from the model's graph (Functional and Sequential models)
    or from one symbolic call (subclassed models, layers with parts): no data
    goes through the model. An unbuilt model is built first, as calling it would.

    Args:
        model: a Keras model (Sequential, functional or subclassed) or layer.
        input_shape: the shape of one sample, without the batch axis, e.g.
            ``(28, 28, 1)`` (a list of shapes for several inputs). Needed for
            unbuilt models; for a model whose input has unknown sizes it fills
            them in.
        batch_size: the batch size of the memory figures.
        depth: the deepest level of rows kept: 0 for the model's own layers
            only, 1 adds their parts (a ConvBlock's convolutions), and so on.
            Totals and findings always cover every level.
        optimizer: ``None`` (the model's compiled optimizer, if any), a name
            such as ``"adam"``, or an optimizer, for the optimizer-state memory.

    Returns:
        A :class:`ShapeTrace`.

    Example:

    ```python
    model = build_architecture("simple", (28, 28, 1), 10)
    trace = trace_shapes(model, batch_size=32, optimizer="sgd")
    trace.row("head/flatten").output_shape   # (None, 1152)
    trace.totals.params                      # 167114
    print(trace.to_text())
    ```
    """
    if not isinstance(model, keras.layers.Layer):
        raise ValueError(
            "Invalid value for argument `model`. Expected a Keras model or layer. "
            f"Received model={model!r} of type {type(model).__name__}."
        )
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    depth = check_int(depth, "depth", minimum=0)
    input_shapes = _check_input_shape(input_shape)
    how, what = _plan(model, input_shapes)

    collector = collect.Collector(batch_size)
    if how == "graph":
        batched_in = [collect._shape(t) for t in what.inputs]
        in_dtype = collect._dtype(what.inputs[0])
        collector.walk_graph(what, [collect.START] * len(batched_in), depth=0, prefix="")
        batched_out = [collect._shape(t) for t in what.outputs]
    else:
        batched_in = [(None, *s) for s in what]
        in_dtype = getattr(model, "input_dtype", None) or "float32"
        if how == "record":
            batched_out, _ = collector.record(
                model, batched_in, [collect.START] * len(batched_in), depth=0, prefix="",
                dtype=in_dtype,
            )
        else:
            symbolic = collect._symbolic_inputs(batched_in, in_dtype)
            outputs = model(*symbolic)
            batched_out = [collect._shape(t) for t in collect._flat(outputs)]
            collector.add_call(
                model, batched_in, batched_out, [collect.START] * len(batched_in), depth=0,
                prefix="", dtype=collect._dtype(collect._flat(outputs)[0]),
            )

    rows = collector.rows
    totals = _totals(model, rows, batched_in, batched_out, in_dtype, batch_size, optimizer)
    for row in rows:
        row.param_share = row.params / totals.params if totals.params else 0.0
    found = findings.find(rows, totals)
    kept = [row for row in rows if row.depth <= depth]
    for row in kept:
        if row.depth == depth:
            row.has_children = False
    return ShapeTrace(model.name, kept, totals, found, depth)


def _last_map(leaves):
    """The last spatial feature map with a known field: what global pooling feeds
    covers the input and is passed over, an unknown field after it clears it."""
    last = None
    for row in leaves:
        if isinstance(row.output_shape, tuple) and len(row.output_shape) == 4:
            if row.receptive_field is not None:
                last = row
            elif not row.covers_input:
                last = None
    return last


def _totals(model, rows, batched_in, batched_out, in_dtype, batch_size, optimizer) -> TraceTotals:
    trainable = sum(collect._size(v) for v in model.trainable_weights)
    non_trainable = sum(collect._size(v) for v in model.non_trainable_weights)
    weight_bytes = sum(collect._size(v) * costs.dtype_bytes(v.dtype) for v in model.weights)
    opt_name, opt_bytes = optimizer_state_bytes(optimizer, model)

    leaves = [r for r in rows if not r.has_children]
    input_bytes = None
    if all(s is not None and None not in s[1:] for s in batched_in):
        input_bytes = sum(costs._elements(s) for s in batched_in) * batch_size * costs.dtype_bytes(in_dtype)
    activation_bytes = input_bytes
    for row in leaves:
        if row.family in costs.VIEWS:
            continue
        if row.activation_bytes is None or activation_bytes is None:
            activation_bytes = None
            break
        activation_bytes += row.activation_bytes

    known = [r for r in leaves if r.flops is not None]
    unknown = [r.path for r in leaves if r.flops is None]

    last = _last_map(leaves)
    input_size = None
    first_in = batched_in[0] if len(batched_in) == 1 else None
    if first_in is not None and len(first_in) == 4:
        fmt = next(
            (r.data_format for r in leaves if r.kernel_size is not None and r.data_format),
            keras.config.image_data_format(),
        )
        input_size = tuple(first_in[2:]) if fmt == "channels_first" else tuple(first_in[1:3])

    def one(shapes_):
        return shapes_[0] if len(shapes_) == 1 else list(shapes_)

    return TraceTotals(
        input_shape=one(batched_in),
        output_shape=one(batched_out) if batched_out else None,
        trainable_params=trainable,
        non_trainable_params=non_trainable,
        weight_bytes=weight_bytes,
        optimizer=opt_name,
        optimizer_state_bytes=opt_bytes,
        batch_size=batch_size,
        input_bytes=input_bytes,
        activation_bytes=activation_bytes,
        macs=sum(r.macs or 0 for r in known),
        flops=sum(r.flops for r in known),
        unknown_cost_layers=unknown,
        receptive_field=last.receptive_field if last else None,
        effective_stride=last.effective_stride if last else None,
        effective_padding=last.effective_padding if last else None,
        global_branch=bool(last and last.covers_input),
        input_size=input_size,
    )


def print_shape_trace(
    model,
    input_shape=None,
    *,
    batch_size: int = 1,
    depth: int = DEFAULT_DEPTH,
    optimizer=None,
    columns=None,
    console=None,
) -> None:
    """Trace ``model`` (see :func:`trace_shapes`) and print the table, totals and findings.

    A terminal gets a rich table, a file or pipe plain text without control
    characters, Jupyter one rendered output. Returns ``None`` like
    ``model.summary()``; use :func:`trace_shapes` for the figures.

    Args:
        model: as for :func:`trace_shapes`.
        input_shape: as for :func:`trace_shapes`.
        batch_size: as for :func:`trace_shapes`.
        depth: as for :func:`trace_shapes`.
        optimizer: as for :func:`trace_shapes`.
        columns: column names (see :data:`keras_cnnlab.trace.COLUMNS`), ``"all"``,
            or ``None`` for the defaults.
        console: ``None`` (standard output), a path, a writable file or a
            ``rich.console.Console``.

    Example:

    ```python
    print_shape_trace(model, columns=["layer", "output", "params", "rf"])
    ```
    """
    from keras_cnnlab.trace import render

    render.check_columns(columns)
    trace = trace_shapes(model, input_shape, batch_size=batch_size, depth=depth, optimizer=optimizer)
    render.print_trace(trace, columns=columns, console=console)
