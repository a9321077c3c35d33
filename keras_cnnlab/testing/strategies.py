"""Hypothesis strategies that draw valid (and deliberately invalid) CNN configurations.

Validity is decided with :mod:`keras_cnnlab.shapes`; a drawn case also records
whether its stack fits the input, so tests can check both the shapes and the
errors.
"""

from __future__ import annotations

import dataclasses

try:
    from hypothesis import strategies as st
except ImportError as error:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "keras_cnnlab.testing needs hypothesis: pip install 'keras-cnnlab[testing]'."
    ) from error

from keras_cnnlab import shapes

__all__ = ["Case", "conv_block_kwargs", "conv_block_cases", "cnn_cases", "spatial_ops"]


@dataclasses.dataclass(frozen=True)
class Case:
    """A drawn configuration with the input it is applied to.

    Attributes:
        input_shape: ``(height, width, channels)`` of one image.
        blocks: ConvBlock keyword arguments, one dict per block.
        batch_size: batch size to test with.
        fits: whether the stack keeps every spatial size >= 1.
    """

    input_shape: tuple[int, int, int]
    blocks: tuple[dict, ...]
    batch_size: int
    fits: bool


def _odd_or_even_size(min_value=1, max_value=24):
    return st.integers(min_value, max_value)


@st.composite
def conv_block_kwargs(draw, *, max_filters: int = 8, max_convs: int = 2) -> dict:
    """Keyword arguments of one ConvBlock: strides, padding, dilation, pooling, dropout."""
    kernel = draw(st.sampled_from([1, 2, 3, 5, (3, 1), (1, 3), (2, 3)]))
    strides = draw(st.sampled_from([1, 1, 2]))
    dilation = 1 if strides != 1 else draw(st.sampled_from([1, 1, 2]))
    pool = draw(st.sampled_from(["max", "avg", None]))
    return dict(
        filters=draw(st.integers(1, max_filters)),
        kernel_size=kernel,
        convs=draw(st.integers(1, max_convs)),
        strides=strides,
        padding=draw(st.sampled_from(["same", "valid"])),
        dilation_rate=dilation,
        batch_norm=draw(st.booleans()),
        pool=pool,
        pool_size=draw(st.sampled_from([2, 3, (2, 3)])),
        pool_strides=draw(st.sampled_from([None, 1, 2])),
        pool_padding=draw(st.sampled_from(["valid", "same"])),
        dropout=draw(st.sampled_from([0.0, 0.25])),
    )


def _block_ops(kwargs: dict) -> list[shapes.SpatialOp]:
    keys = ("kernel_size", "convs", "strides", "padding", "dilation_rate", "pool",
            "pool_size", "pool_strides", "pool_padding")
    return shapes.conv_block_ops(**{k: kwargs[k] for k in keys})


def _fits(size, blocks) -> bool:
    try:
        shapes.trace_spatial(size, [op for b in blocks for op in _block_ops(b)])
    except shapes.ShapeError:
        return False
    return True


@st.composite
def conv_block_cases(
    draw,
    *,
    max_blocks: int = 2,
    channels=(1, 3),
    max_size: int = 24,
    allow_invalid: bool = False,
) -> Case:
    """A stack of 1..``max_blocks`` ConvBlocks and an input size (odd sizes included).

    With ``allow_invalid=False`` only stacks that fit the input are drawn.
    """
    blocks = tuple(draw(st.lists(conv_block_kwargs(), min_size=1, max_size=max_blocks)))
    height = draw(_odd_or_even_size(1, max_size))
    width = draw(st.one_of(st.just(height), _odd_or_even_size(1, max_size)))
    fits = _fits((height, width), blocks)
    if not allow_invalid:
        # Grow the input until the stack fits, rather than discarding the draw.
        while not fits and max(height, width) < 4 * max_size:
            height, width = height + 3, width + 3
            fits = _fits((height, width), blocks)
        from hypothesis import assume

        assume(fits)
    return Case(
        input_shape=(height, width, draw(st.sampled_from(channels))),
        blocks=blocks,
        batch_size=draw(st.integers(1, 3)),
        fits=fits,
    )


@st.composite
def cnn_cases(draw, *, max_blocks: int = 3, max_classes: int = 12) -> dict:
    """Keyword arguments for ``build_cnn`` on an input the stack fits."""
    n = draw(st.integers(1, max_blocks))
    filters = tuple(draw(st.lists(st.integers(1, 16), min_size=n, max_size=n)))
    kernel = draw(st.sampled_from([3, 5]))
    padding = draw(st.sampled_from(["same", "valid"]))
    pool = draw(st.sampled_from(["max", "avg", None]))
    convs = draw(st.integers(1, 2))
    ops = [
        op
        for _ in range(n)
        for op in shapes.conv_block_ops(kernel_size=kernel, convs=convs, padding=padding, pool=pool)
    ]
    # Smallest square input that survives the stack.
    size = 1
    while True:
        try:
            shapes.trace_spatial((size, size), ops)
            break
        except shapes.ShapeError:
            size += 1
    size += draw(st.integers(0, 6))
    return dict(
        input_shape=(size, size, draw(st.sampled_from([1, 3]))),
        num_classes=draw(st.integers(2, max_classes)),
        filters=filters,
        kernel_size=kernel,
        convs=convs,
        padding=padding,
        pool=pool,
        batch_norm=draw(st.booleans()),
        dropout=draw(st.sampled_from([0.0, 0.2])),
        head_pooling=draw(st.sampled_from(["flatten", "avg", "max"])),
        head_units=tuple(draw(st.lists(st.integers(1, 16), max_size=2))),
    )


def spatial_ops(*, max_ops: int = 4):
    """Lists of :class:`~keras_cnnlab.shapes.SpatialOp` (conv and pooling steps)."""
    conv = st.builds(
        shapes.SpatialOp.conv,
        kernel_size=st.integers(1, 5),
        strides=st.integers(1, 3),
        padding=st.sampled_from(["valid", "same"]),
    )
    dilated = st.builds(
        shapes.SpatialOp.conv,
        kernel_size=st.integers(1, 4),
        strides=st.just(1),
        padding=st.sampled_from(["valid", "same"]),
        dilation_rate=st.integers(1, 3),
    )
    pool = st.builds(
        shapes.SpatialOp.maxpool,
        pool_size=st.integers(1, 3),
        strides=st.one_of(st.none(), st.integers(1, 3)),
        padding=st.sampled_from(["valid", "same"]),
    )
    return st.lists(st.one_of(conv, dilated, pool), min_size=1, max_size=max_ops)
