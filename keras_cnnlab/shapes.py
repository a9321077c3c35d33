"""Shape arithmetic for 2-D convolution and pooling stacks.

This module is the single source of truth for "what shape comes out" in
keras_cnnlab. It is pure Python and imports no backend, so the layers, the shape
trace, the tuner's search-space bounds and user code can all afford to call it.

The rules are Keras's own (``keras.src.ops.operation_utils``):

* convolution, ``padding="valid"``: ``floor((n - d * (k - 1) - 1) / s) + 1``
* convolution, ``padding="same"``: ``floor((n - 1) / s) + 1``
* pooling, ``padding="valid"``: ``floor((n - k) / s) + 1``
* pooling, ``padding="same"``: ``floor((n - 1) / s) + 1``

Example:

>>> conv_output_length(32, 3, padding="same")
32
>>> pool_output_length(7, 2)
3
>>> SpatialOp.maxpool(2).explain((7, 7))
'maxpool 2 s2 valid: 7 -> 3 (floor drops 1 row and 1 column)'
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence

__all__ = [
    "ShapeError",
    "SpatialOp",
    "StepResult",
    "conv_output_length",
    "pool_output_length",
    "normalize_tuple",
    "trace_spatial",
    "receptive_field",
    "same_padding",
    "conv_block_ops",
    "conv_block_output_shape",
    "explain_stack",
    "conv_macs",
    "dense_macs",
    "pool_flops",
]

PADDINGS = ("valid", "same")


class ShapeError(ValueError):
    """A configuration whose spatial size would reach zero (or below).

    Subclasses ``ValueError`` so callers can catch it the usual way; the message
    shows the arithmetic that failed.
    """


def normalize_tuple(value, name: str, n: int = 2, *, allow_zero: bool = False) -> tuple:
    """Return ``value`` as an ``n``-tuple of positive ints, or raise a clear error."""
    if isinstance(value, bool):
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected an int or a tuple of "
            f"{n} ints. Received {name}={value!r}."
        )
    if isinstance(value, int):
        values = (value,) * n
    else:
        try:
            values = tuple(value)
        except TypeError:
            raise ValueError(
                f"Invalid value for argument `{name}`. Expected an int or a tuple of "
                f"{n} ints. Received {name}={value!r}."
            ) from None
        if len(values) != n or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in values
        ):
            raise ValueError(
                f"Invalid value for argument `{name}`. Expected an int or a tuple of "
                f"{n} ints. Received {name}={value!r}."
            )
    low = 0 if allow_zero else 1
    if any(v < low for v in values):
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected "
            f"{'non-negative' if allow_zero else 'strictly positive'} values. "
            f"Received {name}={value!r}."
        )
    return values


def _check_padding(padding: str) -> str:
    padding_l = str(padding).lower()
    if padding_l not in PADDINGS:
        raise ValueError(
            f"Invalid value for argument `padding`. Expected one of {PADDINGS}. "
            f"Received padding={padding!r}."
        )
    return padding_l


def conv_output_length(
    length: int | None,
    kernel_size: int,
    *,
    strides: int = 1,
    padding: str = "valid",
    dilation_rate: int = 1,
) -> int | None:
    """Output length of a convolution along one axis, as Keras computes it.

    Returns ``None`` for an unknown (``None``) input length. The result may be
    zero or negative for a kernel larger than the input; callers that need a
    valid size use :func:`trace_spatial`, which raises :class:`ShapeError`.
    """
    if length is None:
        return None
    padding = _check_padding(padding)
    if padding == "same":
        return (length - 1) // strides + 1
    effective = dilation_rate * (kernel_size - 1) + 1
    return (length - effective) // strides + 1


def pool_output_length(
    length: int | None,
    pool_size: int,
    *,
    strides: int | None = None,
    padding: str = "valid",
) -> int | None:
    """Output length of a pooling layer along one axis (strides default to pool_size)."""
    if length is None:
        return None
    strides = pool_size if strides is None else strides
    padding = _check_padding(padding)
    if padding == "same":
        return (length - 1) // strides + 1
    return (length - pool_size) // strides + 1


def same_padding(length: int | None, window: int, strides: int = 1) -> tuple[int, int] | None:
    """``(before, after)`` zeros that padding ``"same"`` adds along one axis.

    ``window`` is the dilated kernel extent. The total, ``max((out - 1) * s +
    window - n, 0)``, is split with the odd zero at the end (TensorFlow's rule,
    Keras's on every backend); ``None`` for an unknown length unless ``s == 1``.

    >>> same_padding(224, 3, 2)
    (0, 1)
    """
    if length is None:
        if strides != 1:
            return None
        total = window - 1
    else:
        out = (length - 1) // strides + 1
        total = max((out - 1) * strides + window - length, 0)
    return total // 2, total - total // 2


# -- shape text: how the package writes sizes and shapes (not in __all__) ---------------


def format_size(values: Sequence[int | None]) -> str:
    """A window or spatial size, short: ``(3, 3)`` -> ``"3"``, ``(3, 5)`` -> ``"3x5"``; ``None`` is ``?``."""
    values = ["?" if v is None else v for v in values]
    if len(values) == 2 and values[0] == values[1]:
        return str(values[0])
    return "x".join(str(v) for v in values)


def format_dims(values: Sequence[int | None]) -> str:
    """Every size written out: ``(7, 7)`` -> ``"7x7"``; ``None`` is ``?``."""
    return "x".join("?" if v is None else str(v) for v in values)


def format_shape(value) -> str:
    """A shape as Keras prints it, ``(None, 28, 28, 1)``; a list of shapes joined by ``;``; ``None`` is ``?``."""
    if value is None:
        return "?"
    if isinstance(value, list):
        return "; ".join(format_shape(v) for v in value)
    return "(" + ", ".join("None" if d is None else str(d) for d in value) + ")"


@dataclasses.dataclass(frozen=True)
class SpatialOp:
    """One spatial step of a stack: a convolution or a pooling window.

    Attributes:
        kind: ``"conv"``, ``"maxpool"`` or ``"avgpool"``.
        kernel_size: window size ``(kh, kw)``.
        strides: ``(sh, sw)``.
        padding: ``"valid"`` or ``"same"``.
        dilation_rate: ``(dh, dw)``; convolutions only.
    """

    kind: str
    kernel_size: tuple[int, int]
    strides: tuple[int, int]
    padding: str = "valid"
    dilation_rate: tuple[int, int] = (1, 1)

    @classmethod
    def conv(cls, kernel_size=3, strides=1, padding="valid", dilation_rate=1) -> SpatialOp:
        """A convolution step."""
        return cls(
            "conv",
            normalize_tuple(kernel_size, "kernel_size"),
            normalize_tuple(strides, "strides"),
            _check_padding(padding),
            normalize_tuple(dilation_rate, "dilation_rate"),
        )

    @classmethod
    def maxpool(cls, pool_size=2, strides=None, padding="valid") -> SpatialOp:
        """A max-pooling step (strides default to ``pool_size``)."""
        return cls._pool("maxpool", pool_size, strides, padding)

    @classmethod
    def avgpool(cls, pool_size=2, strides=None, padding="valid") -> SpatialOp:
        """An average-pooling step (strides default to ``pool_size``)."""
        return cls._pool("avgpool", pool_size, strides, padding)

    @classmethod
    def _pool(cls, kind, pool_size, strides, padding) -> SpatialOp:
        pool = normalize_tuple(pool_size, "pool_size")
        stride = pool if strides is None else normalize_tuple(strides, "pool_strides")
        return cls(kind, pool, stride, _check_padding(padding))

    @property
    def effective_kernel(self) -> tuple[int, int]:
        """Kernel extent once dilation is applied: ``d * (k - 1) + 1``."""
        return tuple(d * (k - 1) + 1 for k, d in zip(self.kernel_size, self.dilation_rate))

    def output_size(self, size: Sequence[int | None]) -> tuple:
        """Spatial output size for a spatial input ``(height, width)``."""
        if self.kind == "conv":
            return tuple(
                conv_output_length(n, k, strides=s, padding=self.padding, dilation_rate=d)
                for n, k, s, d in zip(size, self.kernel_size, self.strides, self.dilation_rate)
            )
        return tuple(
            pool_output_length(n, k, strides=s, padding=self.padding)
            for n, k, s in zip(size, self.kernel_size, self.strides)
        )

    def pads(self, size: Sequence[int | None]) -> tuple:
        """``((before, after), ...)`` zeros added per axis for input ``size``; ``None`` where unknown."""
        same, windows = self.padding == "same", self.effective_kernel
        return tuple(same_padding(n, w, s) if same else (0, 0) for n, w, s in zip(size, windows, self.strides))

    def dropped(self, size: Sequence[int | None]) -> tuple:
        """Rows and columns that flooring leaves uncovered (``valid`` padding only)."""
        if self.padding == "same":
            return (0, 0)
        return tuple(
            0 if n is None or n < k else (n - k) % s
            for n, k, s in zip(size, self.effective_kernel, self.strides)
        )

    def label(self) -> str:
        """Short name such as ``conv 3x3 s1 same`` or ``maxpool 2 s2 valid``."""
        k = self.kernel_size
        kernel = f"{k[0]}x{k[1]}" if self.kind == "conv" else format_size(k)
        text = f"{self.kind} {kernel} s{format_size(self.strides)} {self.padding}"
        if self.dilation_rate != (1, 1):
            text += f" d{format_size(self.dilation_rate)}"
        return text

    def explain(self, size: Sequence[int | None]) -> str:
        """Human explanation of this step, e.g. ``maxpool 2 s2 valid: 7 -> 3 (floor drops 1 row)``."""
        # A window larger than the input leaves nothing: show 0, not the formula's negative.
        out = tuple(v if v is None else max(v, 0) for v in self.output_size(size))
        text = f"{self.label()}: {format_size(size)} -> {format_size(out)}"
        drop_h, drop_w = self.dropped(size)
        parts = []
        if drop_h:
            parts.append(f"{drop_h} row" + ("s" if drop_h > 1 else ""))
        if drop_w:
            parts.append(f"{drop_w} column" + ("s" if drop_w > 1 else ""))
        if parts:
            text += f" (floor drops {' and '.join(parts)})"
        return text


@dataclasses.dataclass(frozen=True)
class StepResult:
    """One step of :func:`trace_spatial`: sizes, field, jump, effective padding (or ``None``), text."""

    op: SpatialOp
    input_size: tuple
    output_size: tuple
    receptive_field: tuple[int, int]
    jump: tuple[int, int]
    explanation: str
    owner: str | None = None
    effective_padding: tuple | None = None


def trace_spatial(
    input_size: Sequence[int | None],
    ops: Iterable[SpatialOp | tuple[str, SpatialOp]],
    *,
    where: str | None = None,
) -> list[StepResult]:
    """Follow a spatial size through a stack of ops.

    Args:
        input_size: ``(height, width)`` of the input (``None`` for unknown).
        ops: the steps, either :class:`SpatialOp` or ``(owner_name, SpatialOp)``.
        where: a name for error messages (the layer or model being checked).

    Returns:
        One :class:`StepResult` per op, carrying the receptive field,
        effective stride ("jump") and effective padding reached after that op.

    Raises:
        ShapeError: when a step would produce a size of zero or less. The
            message lists every step up to the failing one.
    """
    size = tuple(input_size)
    rf = (1, 1)
    jump = (1, 1)
    pad: tuple = (0, 0)
    results: list[StepResult] = []
    for item in ops:
        owner, op = item if isinstance(item, tuple) else (None, item)
        out = op.output_size(size)
        text = op.explain(size)
        if any(v is not None and v <= 0 for v in out):
            history = "".join(f"\n  {r.explanation}" for r in results)
            subject = f" in {where}" if where else ""
            raise ShapeError(
                f"The spatial size reaches zero{subject}: {text}.\n"
                f"Steps so far (input {format_size(tuple(input_size))}):{history}\n  {text}  <-- here\n"
                "Fix: use a larger input, padding='same', a smaller kernel_size or "
                "pool_size, or fewer downsampling blocks."
            )
        pad = tuple(
            None if p is None or b is None else p + b[0] * j
            for p, b, j in zip(pad, op.pads(size), jump)
        )
        rf = tuple(r + (k - 1) * j for r, k, j in zip(rf, op.effective_kernel, jump))
        jump = tuple(j * s for j, s in zip(jump, op.strides))
        results.append(StepResult(op, size, out, rf, jump, text, owner, pad))
        size = out
    return results


def receptive_field(ops: Iterable[SpatialOp]) -> tuple[tuple[int, int], tuple[int, int]]:
    """Receptive field and effective stride at the end of a stack of ops.

    Uses the standard recurrence ``r_out = r_in + (k_eff - 1) * j_in`` and
    ``j_out = j_in * s``; padding does not change it.
    """
    rf = (1, 1)
    jump = (1, 1)
    for op in ops:
        rf = tuple(r + (k - 1) * j for r, k, j in zip(rf, op.effective_kernel, jump))
        jump = tuple(j * s for j, s in zip(jump, op.strides))
    return rf, jump


def conv_block_ops(
    *,
    kernel_size=3,
    convs: int = 1,
    strides=1,
    padding: str = "same",
    dilation_rate=1,
    pool: str | None = "max",
    pool_size=2,
    pool_strides=None,
    pool_padding: str = "valid",
) -> list[SpatialOp]:
    """The spatial ops of a ConvBlock: ``convs`` convolutions then an optional pool.

    Only the first convolution is strided, as in ``ConvBlock``. ``pool`` is
    ``"max"``, ``"avg"`` or ``None``.
    """
    ops = [
        SpatialOp.conv(kernel_size, strides if i == 0 else 1, padding, dilation_rate)
        for i in range(convs)
    ]
    if pool == "max":
        ops.append(SpatialOp.maxpool(pool_size, pool_strides, pool_padding))
    elif pool == "avg":
        ops.append(SpatialOp.avgpool(pool_size, pool_strides, pool_padding))
    elif pool is not None:
        raise ValueError(
            f"Invalid value for argument `pool`. Expected 'max', 'avg' or None. "
            f"Received pool={pool!r}."
        )
    return ops


def split_channels(shape: Sequence, data_format: str) -> tuple:
    """``(channels, spatial sizes)`` of a shape with the batch axis first, in ``data_format``."""
    if data_format == "channels_first":
        return shape[1], tuple(shape[2:])
    return shape[-1], tuple(shape[1:-1])


def _join(batch, channels, size, data_format):
    if data_format == "channels_first":
        return (batch, channels, *size)
    return (batch, *size, channels)


def conv_block_output_shape(
    input_shape: Sequence,
    filters: int,
    *,
    data_format: str = "channels_last",
    where: str | None = None,
    **block_kwargs,
) -> tuple:
    """Output shape of a ConvBlock for a 4-D ``input_shape``.

    ``block_kwargs`` are those of :func:`conv_block_ops`.
    """
    if len(input_shape) != 4:
        raise ValueError(
            "Expected a 4-D shape (batch, height, width, channels) "
            f"(or channels first); received shape={tuple(input_shape)}."
        )
    batch, (_, size) = input_shape[0], split_channels(input_shape, data_format)
    steps = trace_spatial(size, conv_block_ops(**block_kwargs), where=where)
    out = steps[-1].output_size if steps else size
    return _join(batch, filters, out, data_format)


def explain_stack(input_size: Sequence[int | None], ops: Iterable[SpatialOp]) -> str:
    """Every step of a stack on one line each, for messages and docs."""
    return "\n".join(step.explanation for step in trace_spatial(input_size, ops))


def prod(values: Iterable[int]) -> int:
    """The product of ``values`` as a Python int (1 for none): elements, window areas."""
    return math.prod(int(v) for v in values)


def conv_macs(
    output_size: Sequence[int],
    kernel_size: Sequence[int],
    in_channels: int,
    out_channels: int,
    *,
    groups: int = 1,
) -> int:
    """Multiply-accumulates of a convolution: one per kernel tap, input channel and output.

    ``prod(output_size) * prod(kernel_size) * (in_channels / groups) * out_channels``;
    for Conv2D that is ``H_out * W_out * k_h * k_w * C_in * C_out``. Works for any
    number of spatial axes. A depthwise convolution is ``groups == in_channels``.

    >>> conv_macs((32, 32), (3, 3), 3, 32)
    884736
    """
    if in_channels % groups:
        raise ValueError(
            f"Invalid value for argument `groups`: it must divide in_channels={in_channels}. "
            f"Received groups={groups!r}."
        )
    return prod(output_size) * prod(kernel_size) * (in_channels // groups) * out_channels


def dense_macs(in_features: int, out_features: int, *, positions: int = 1) -> int:
    """Multiply-accumulates of a Dense layer: ``positions * in_features * out_features``.

    ``positions`` counts the vectors the layer is applied to (the product of the
    axes between batch and features; 1 for a flat input).

    >>> dense_macs(1152, 64)
    73728
    """
    return positions * in_features * out_features


def pool_flops(output_elements: int, pool_size: Sequence[int], kind: str) -> int:
    """Floating-point operations of a pooling window applied ``output_elements`` times.

    Max pooling compares ``k - 1`` pairs per output; average pooling adds ``k - 1``
    values and divides once, ``k`` operations, where ``k`` is the window's area.
    """
    window = prod(pool_size)
    if kind == "maxpool":
        return output_elements * (window - 1)
    if kind == "avgpool":
        return output_elements * window
    raise ValueError(
        f"Invalid value for argument `kind`. Expected 'maxpool' or 'avgpool'. Received kind={kind!r}."
    )
