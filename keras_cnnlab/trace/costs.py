"""Per-layer rules: compute cost, spatial window, receptive-field behaviour, explanation.

Layers are matched by class name along their class hierarchy, so a subclass
of ``Conv2D`` is costed as a Conv2D. Costs are per sample, at inference:

* Conv1D/2D/3D: ``MACs = prod(out_spatial) * prod(kernel) * C_in / groups * C_out``
  (:func:`keras_cnnlab.shapes.conv_macs`); ``FLOPs = 2 * MACs`` plus one add
  per output for the bias plus the activation's FLOPs.
* DepthwiseConv: ``prod(out_spatial) * prod(kernel) * C_in * depth_multiplier``.
* SeparableConv: the depthwise MACs plus ``prod(out_spatial) * C_in * dm * C_out``.
* ConvTranspose: ``prod(in_spatial) * prod(kernel) * C_in * C_out``.
* Dense: ``MACs = positions * in * out`` (:func:`keras_cnnlab.shapes.dense_macs`);
  FLOPs as for convolutions.
* BatchNormalization: folded into one multiply-add per element (MACs = elements,
  FLOPs = 2 * elements). LayerNormalization and GroupNormalization: MACs =
  elements, FLOPs = 7 * elements (mean, centre, square, variance, normalize,
  scale, shift).
* Max pooling: ``k - 1`` comparisons per output; average pooling ``k`` (``k``
  the window area; :func:`keras_cnnlab.shapes.pool_flops`). Global pooling: one
  operation per input element. No MACs.
* Activations, per element: see :data:`ACTIVATION_FLOPS` (relu 1, sigmoid 4,
  softmax 5, gelu 8, ...).
* Add, Subtract, Multiply, Maximum, Minimum: ``n_inputs - 1`` per output
  element; Average one more. Rescaling and Normalization: 2 per element.
  keras.applications' LayerScale (ConvNeXt) 1, CustomScaleLayer
  (InceptionResNetV2, ``x + scale * residual``) 2 per element.
* ``keras.ops`` calls: activations by name as above; add, subtract, multiply,
  divide, maximum, minimum one per output element.
* Free at inference (0): Dropout and the other noise layers, the Random*
  augmentation layers and keras_cnnlab.augment's (presets, MixUp, CutMix), Flatten, Reshape, Permute, padding, cropping,
  Concatenate, nearest-neighbour upsampling, Input.
* Anything else is *unknown*: reported as such and left out of the totals,
  never counted as 0.
"""

from __future__ import annotations

import re

from keras_cnnlab import shapes

__all__ = ["ACTIVATION_FLOPS", "layer_cost", "spatial_op", "reach_kind", "explain", "dtype_bytes"]

#: FLOPs per element of the common activations.
ACTIVATION_FLOPS = {
    "linear": 0,
    "relu": 1,
    "relu6": 2,
    "leaky_relu": 2,
    "elu": 3,
    "selu": 4,
    "celu": 4,
    "sigmoid": 4,
    "hard_sigmoid": 3,
    "hard_silu": 4,
    "hard_swish": 4,
    "silu": 5,
    "swish": 5,
    "tanh": 5,
    "hard_tanh": 2,
    "softplus": 3,
    "softsign": 3,
    "exponential": 1,
    "log_sigmoid": 5,
    "gelu": 8,
    "mish": 9,
    "softmax": 5,
    "log_softmax": 5,
}

_FREE = {
    "InputLayer",
    "Dropout",
    "SpatialDropout1D",
    "SpatialDropout2D",
    "SpatialDropout3D",
    "GaussianNoise",
    "GaussianDropout",
    "AlphaDropout",
    "ActivityRegularization",
    "Identity",
    "Flatten",
    "Reshape",
    "Permute",
    "RepeatVector",
    "ZeroPadding1D",
    "ZeroPadding2D",
    "ZeroPadding3D",
    "Cropping1D",
    "Cropping2D",
    "Cropping3D",
    "Concatenate",
    "Masking",
    "Embedding",
}
# Views of their input: no new activation memory.
VIEWS = {"Flatten", "Reshape", "InputLayer"}

_POINTWISE = {
    "BatchNormalization",
    "LayerNormalization",
    "GroupNormalization",
    "UnitNormalization",
    "Activation",
    "ReLU",
    "LeakyReLU",
    "PReLU",
    "ELU",
    "Softmax",
    "Dropout",
    "SpatialDropout2D",
    "GaussianNoise",
    "GaussianDropout",
    "AlphaDropout",
    "Rescaling",
    "Normalization",
    "Identity",
    "ActivityRegularization",
    "Masking",
    "Add",
    "Subtract",
    "Multiply",
    "Average",
    "Maximum",
    "Minimum",
    "Concatenate",
    # keras.applications' own: ConvNeXt's x * gamma, InceptionResNetV2's x + scale * residual.
    "LayerScale",
    "CustomScaleLayer",
    # Keep the pixel grid: receptive field and stride unchanged.
    "ZeroPadding2D",
    "Cropping2D",
}
_GLOBAL = {
    "Flatten",
    "GlobalAveragePooling2D",
    "GlobalMaxPooling2D",
    "ClassifierHead",
}
_CONV = {"Conv1D", "Conv2D", "Conv3D"}
_DEPTHWISE = {"DepthwiseConv1D", "DepthwiseConv2D"}
_SEPARABLE = {"SeparableConv1D", "SeparableConv2D"}
_TRANSPOSE = {"Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose"}
_MAXPOOL = {"MaxPooling1D", "MaxPooling2D", "MaxPooling3D"}
_AVGPOOL = {"AveragePooling1D", "AveragePooling2D", "AveragePooling3D"}
_GLOBALPOOL = {
    "GlobalAveragePooling1D",
    "GlobalAveragePooling2D",
    "GlobalAveragePooling3D",
    "GlobalMaxPooling1D",
    "GlobalMaxPooling2D",
    "GlobalMaxPooling3D",
}
_MERGE = {"Add", "Subtract", "Multiply", "Maximum", "Minimum"}


def _is_layer(op) -> bool:
    from keras import layers

    return isinstance(op, layers.Layer)


def family(op) -> str:
    """The first class name along ``op``'s hierarchy that the rules know, else its own.

    Operations that are not layers (``keras.ops`` calls in a functional model)
    are named ``"ops.<Class>"``.
    """
    if not _is_layer(op):
        return f"ops.{type(op).__name__}"
    for cls in type(op).__mro__:
        name = cls.__name__
        if name in _KNOWN:
            return name
        if name.startswith("Random") and "preprocessing" in cls.__module__:
            return "RandomAugmentation"
        if cls.__module__.startswith("keras_cnnlab.augment."):
            return "RandomAugmentation"  # the project's own: random in training, identity at inference
    return type(op).__name__


def _known(shape) -> bool:
    return shape is not None and all(isinstance(v, int) for v in shape[1:])


def _elements(shape) -> int:
    """Elements per sample (the batch axis excluded)."""
    return shapes.prod(shape[1:])


def _split(shape, op):
    """``(channels, spatial sizes)`` of a batched shape, per the layer's data format."""
    return shapes.split_channels(shape, getattr(op, "data_format", "channels_last"))


def dtype_bytes(dtype) -> int:
    """Bytes per element of a dtype name (``"float32"`` -> 4, ``"bfloat16"`` -> 2)."""
    name = str(getattr(dtype, "name", dtype))
    if name == "bool":
        return 1
    match = re.search(r"(\d+)", name)
    return int(match.group(1)) // 8 if match else 4


def activation_name(activation) -> str | None:
    if activation is None:
        return "linear"
    if isinstance(activation, str):
        return activation
    return getattr(activation, "__name__", None)


def activation_flops(activation, elements: int) -> int | None:
    per = ACTIVATION_FLOPS.get(activation_name(activation))
    return None if per is None else per * elements


def _linear_flops(op, macs: int, out_elements: int) -> int | None:
    bias = out_elements if getattr(op, "use_bias", False) else 0
    act = activation_flops(getattr(op, "activation", None), out_elements)
    if act is None:
        return None
    return 2 * macs + bias + act


def _conv_macs(kind, op, x, y) -> int:
    """MACs of a convolution of any kind (plain, depthwise, separable, transposed)."""
    c_in, in_spatial = _split(x, op)
    c_out, out_spatial = _split(y, op)
    kernel = op.kernel_size
    if kind in _CONV:
        return shapes.conv_macs(out_spatial, kernel, c_in, c_out, groups=getattr(op, "groups", 1))
    if kind in _DEPTHWISE:
        return shapes.conv_macs(out_spatial, kernel, c_in, c_out, groups=c_in)
    if kind in _SEPARABLE:
        mid = c_in * op.depth_multiplier
        macs = shapes.conv_macs(out_spatial, kernel, c_in, mid, groups=c_in)
        return macs + shapes.conv_macs(out_spatial, (1,) * len(out_spatial), mid, c_out)
    return shapes.prod(in_spatial) * shapes.prod(kernel) * c_in * c_out


def layer_cost(op, input_shapes: list, output_shapes: list) -> tuple[int | None, int | None, str | None]:
    """``(macs, flops, note)`` per sample for one call of ``op``; ``None`` when unknown."""
    kind = family(op)
    if kind in _FREE or kind == "RandomAugmentation":
        return 0, 0, None
    if kind.startswith("ops."):
        return _op_cost(kind[4:], input_shapes, output_shapes)
    if not input_shapes or not output_shapes:
        return None, None, "shape unknown"
    if not all(_known(s) for s in (*input_shapes, *output_shapes)):
        return None, None, "size unknown"
    x, y = input_shapes[0], output_shapes[0]
    out_elements = _elements(y)
    if kind in _CONV or kind in _DEPTHWISE or kind in _SEPARABLE or kind in _TRANSPOSE:
        macs = _conv_macs(kind, op, x, y)
        return macs, _linear_flops(op, macs, out_elements), None
    if kind == "Dense":
        macs = shapes.dense_macs(x[-1], y[-1], positions=shapes.prod(x[1:-1]))
        return macs, _linear_flops(op, macs, out_elements), None
    if kind == "BatchNormalization":
        return out_elements, 2 * out_elements, None
    if kind in ("LayerNormalization", "GroupNormalization"):
        return out_elements, 7 * out_elements, None
    if kind in _MAXPOOL or kind in _AVGPOOL:
        pool = "maxpool" if kind in _MAXPOOL else "avgpool"
        return 0, shapes.pool_flops(out_elements, op.pool_size, pool), None
    if kind in _GLOBALPOOL:
        return 0, _elements(x), None
    if kind == "Activation":
        flops = activation_flops(op.activation, out_elements)
        note = None if flops is not None else f"activation {activation_name(op.activation)!r} has no cost rule"
        return 0, flops, note
    if kind == "ReLU":
        plain = not op.max_value and not op.negative_slope and not op.threshold
        return 0, (1 if plain else 2) * out_elements, None
    if kind in ("LeakyReLU", "PReLU"):
        return 0, 2 * out_elements, None
    if kind == "ELU":
        return 0, 3 * out_elements, None
    if kind == "Softmax":
        return 0, 5 * out_elements, None
    if kind in _MERGE:
        return 0, (len(input_shapes) - 1) * out_elements, None
    if kind == "Average":
        return 0, len(input_shapes) * out_elements, None
    if kind in ("Rescaling", "Normalization", "CustomScaleLayer"):
        return 0, 2 * out_elements, None
    if kind == "LayerScale":
        return 0, out_elements, None
    if kind == "UpSampling2D":
        if getattr(op, "interpolation", "nearest") == "nearest":
            return 0, 0, None
        return None, None, f"no cost rule for {op.interpolation!r} upsampling"
    return None, None, f"no cost rule for {type(op).__name__}"


_ELEMENTWISE_OPS = {"Add", "Subtract", "Multiply", "Divide", "TrueDivide", "Maximum", "Minimum"}


def _op_cost(name, input_shapes, output_shapes):
    """A ``keras.ops`` call: element-wise arithmetic and activations by name, else unknown."""
    if not output_shapes or not all(_known(s) for s in output_shapes):
        return None, None, "size unknown"
    elements = _elements(output_shapes[0])
    per = ACTIVATION_FLOPS.get(re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower())
    if per is not None:
        return 0, per * elements, None
    if name in _ELEMENTWISE_OPS:
        return 0, elements, None
    return None, None, f"no cost rule for keras.ops {name}"


def spatial_op(op) -> shapes.SpatialOp | None:
    """The :class:`~keras_cnnlab.shapes.SpatialOp` of a 2-D convolution or pooling layer."""
    kind = family(op)
    if kind in ("Conv2D", "DepthwiseConv2D", "SeparableConv2D"):
        if op.padding not in shapes.PADDINGS:
            return None
        return shapes.SpatialOp.conv(op.kernel_size, op.strides, op.padding, op.dilation_rate)
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        make = shapes.SpatialOp.maxpool if kind == "MaxPooling2D" else shapes.SpatialOp.avgpool
        return make(op.pool_size, op.strides, op.padding)
    return None


def _broadcasts_to(shape, target) -> bool:
    """Whether ``shape`` broadcasts to ``target`` (NumPy rules: aligned right, 1 stretches)."""
    if shape is None or len(shape) > len(target):
        return False
    return all(a == b or a == 1 for a, b in zip(reversed(shape), reversed(target)))


def _pointwise_op(name, input_shapes, output_shapes) -> bool:
    """Whether a ``keras.ops`` call keeps every position's field (element-wise).

    A call whose inputs and output all have one shape is element-wise in a CNN
    (relu, add, ...). An element-wise arithmetic op (:data:`_ELEMENTWISE_OPS`)
    also is when its output has one input's shape and the other inputs broadcast
    to it, as the ``(1, 1, C)`` gate of squeeze-and-excitation written ``y * s``:
    the gate's branch then merges as it does into ``layers.Multiply``.
    """
    if not input_shapes:
        return False
    outputs = list(output_shapes or [None])
    if all(s == input_shapes[0] for s in (*input_shapes, *outputs)):
        return True
    out = outputs[0]
    if len(outputs) != 1 or out is None or name not in _ELEMENTWISE_OPS or out not in input_shapes:
        return False
    return all(_broadcasts_to(s, out) for s in input_shapes)


def reach_kind(op, input_shapes: list, output_shapes: list | None = None) -> str:
    """How ``op`` changes the receptive field.

    ``"spatial"`` (a window, see :func:`spatial_op`), ``"pointwise"`` (keeps
    it), ``"global"`` (every output sees the whole input), ``"block"`` (a
    ConvBlock), or ``"unknown"``. A ``keras.ops`` call is pointwise when it is
    element-wise (:func:`_pointwise_op`), broadcasting included (``y * s``).
    """
    kind = family(op)
    if kind.startswith("ops."):
        return "pointwise" if _pointwise_op(kind[4:], input_shapes, output_shapes) else "unknown"
    if spatial_op(op) is not None:
        return "spatial"
    if kind == "ConvBlock":
        return "block"
    if kind in _POINTWISE or kind == "RandomAugmentation":
        return "pointwise"
    if kind in _GLOBAL:
        return "global"
    if kind == "Dense":
        flat = input_shapes and len(input_shapes[0]) == 2
        return "global" if flat else "pointwise"
    return "unknown"


def _explain_block(op, x, y) -> str:
    """A ConvBlock's steps in one line: sizes, windows, channels, floor drops."""
    c_in, size = _split(x, op)
    c_out, _ = _split(y, op)
    steps = shapes.trace_spatial(size, op.spatial_ops())
    if not steps:
        return f"channels {c_in} -> {c_out}"
    sizes = " -> ".join(shapes.format_size(s) for s in [size, *(step.output_size for step in steps)])
    labels = ", ".join(step.op.label() for step in steps)
    text = f"{sizes} ({labels}), channels {c_in} -> {c_out}"
    for step in steps:
        rows, cols = step.op.dropped(step.input_size)
        dropped = [
            f"{n} {what}{'s' if n > 1 else ''}" for n, what in ((rows, "row"), (cols, "column")) if n
        ]
        if dropped:
            text += f"; {step.op.kind} floor drops {' and '.join(dropped)}"
    return text


def explain(op, input_shapes: list, output_shapes: list) -> str | None:
    """The shape arithmetic of one call, in words, or ``None`` for plain layers."""
    if not input_shapes or not output_shapes or output_shapes[0] is None:
        return None
    x, y = input_shapes[0], output_shapes[0]
    kind = family(op)
    spatial = spatial_op(op)
    if spatial is not None and len(x) == 4:
        c_in, size = _split(x, op)
        c_out, _ = _split(y, op)
        text = spatial.explain(size)
        if spatial.kind == "conv":
            text += f", channels {c_in} -> {c_out}"
        return text
    if kind == "ConvBlock" and len(x) == 4:
        return _explain_block(op, x, y)
    if kind == "Flatten":
        dims = " x ".join("?" if v is None else str(v) for v in x[1:])
        return f"{dims} = {y[-1]}" if len(x) > 2 else None
    if kind == "Dense":
        text = f"{x[-1]} -> {y[-1]} units"
        if len(x) > 2:
            positions = "x".join("?" if v is None else str(v) for v in x[1:-1])
            text += f" at each of {positions} positions"
        return text
    if kind in _GLOBALPOOL and len(x) == 4:
        c_in, size = _split(x, op)
        how = "average" if "Average" in kind else "max"
        return f"{how} over {shapes.format_size(size)} -> {c_in} values"
    if kind == "Concatenate":
        axis = getattr(op, "axis", -1)
        parts = " + ".join(str(s[axis]) for s in input_shapes)
        return f"{parts} = {y[axis]} along axis {axis}"
    if len(x) == 4 and len(y) == 4 and kind in (
        "ZeroPadding2D",
        "Cropping2D",
        "UpSampling2D",
        "Conv2DTranspose",
        "Resizing",
    ):
        _, size_in = _split(x, op)
        _, size_out = _split(y, op)
        label = {
            "ZeroPadding2D": "zero padding",
            "Cropping2D": "cropping",
            "UpSampling2D": f"upsampling {shapes.format_size(op.size)}",
            "Conv2DTranspose": "transposed conv "
            + (f"{op.kernel_size[0]}x{op.kernel_size[1]} s{shapes.format_size(op.strides)} {op.padding}"
               if kind == "Conv2DTranspose" else ""),
            "Resizing": "resizing",
        }[kind]
        return f"{label}: {shapes.format_size(size_in)} -> {shapes.format_size(size_out)}"
    return None


_KNOWN = (
    _FREE
    | _POINTWISE
    | _GLOBAL
    | _CONV
    | _DEPTHWISE
    | _SEPARABLE
    | _TRANSPOSE
    | _MAXPOOL
    | _AVGPOOL
    | _GLOBALPOOL
    | _MERGE
    | {"Dense", "Average", "UpSampling2D", "ConvBlock", "Resizing"}
)
