"""How many blocks of a search space an input fits, and the downsampling factors each may use.

Computed with :mod:`keras_cnnlab.shapes`, so that no trial of CNNHyperModel can
shrink a feature map to zero.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from keras_cnnlab import shapes
from keras_cnnlab.tuning.parameters import warn_renamed
from keras_cnnlab.tuning.specs import Fixed, IntRange

if TYPE_CHECKING:
    from keras_cnnlab.tuning.search_space import SearchSpace
    from keras_cnnlab.tuning.specs import Spec

__all__ = ["BlockPlan", "plan_blocks", "plan_block_count"]


def _block_ops(downsample: str, factor: int) -> list[shapes.SpatialOp]:
    # Convolutions use padding="same", so only the downsampling step changes the size.
    if downsample == "strided":
        return shapes.conv_block_ops(kernel_size=3, strides=factor, padding="same", pool=None)
    if downsample == "none":
        return shapes.conv_block_ops(kernel_size=3, padding="same", pool=None)
    return shapes.conv_block_ops(kernel_size=3, padding="same", pool=downsample, pool_size=factor)


def _block_output(size, downsample: str, factor: int):
    """Spatial size after a block, or None when the block would collapse it."""
    try:
        steps = shapes.trace_spatial(size, _block_ops(downsample, factor))
    except shapes.ShapeError:
        return None
    return steps[-1].output_size


@dataclasses.dataclass(frozen=True)
class BlockPlan:
    """How many blocks an input fits, and the downsampling factors each block may use.

    Computed from the search space with :mod:`keras_cnnlab.shapes`: block
    ``i`` may only use the downsampling factors that keep the spatial size >= 1
    even when every earlier block took the most aggressive downsampling of the
    space, so no trial can collapse the feature map.

    Attributes:
        input_size: spatial ``(height, width)`` of the input.
        downsample_factors: per possible block, the allowed downsampling
            factors (``None`` for a block that never downsamples).
        worst_sizes: per possible block, the smallest spatial size after it.
        stop_reason: why no further block fits (``""`` when the cap was reached).
    """

    input_size: tuple
    downsample_factors: tuple
    worst_sizes: tuple
    stop_reason: str = ""

    @property
    def pool_sizes(self) -> tuple:
        """Deprecated: :attr:`downsample_factors`."""
        warn_renamed("BlockPlan.pool_sizes", "BlockPlan.downsample_factors")
        return self.downsample_factors

    @property
    def max_blocks(self) -> int:
        """The largest number of blocks the input fits."""
        return len(self.downsample_factors)

    def explain(self) -> str:
        """The worst-case sizes block by block, e.g. ``8x8 -> 2x2 -> 1x1``."""
        sizes = [self.input_size, *self.worst_sizes]
        text = " -> ".join(shapes.format_size(s) for s in sizes)
        return text + (f"; {self.stop_reason}" if self.stop_reason else "")


def plan_blocks(space: SearchSpace, input_size, max_blocks: int) -> BlockPlan:
    """Plan up to ``max_blocks`` blocks of ``space`` on a spatial ``input_size``."""
    size = tuple(input_size)
    factors, worst_sizes = [], []
    reason = ""
    for i in range(1, max_blocks + 1):
        block = f"block{i}"
        down = [d for d in space.spec("downsample", block=block).candidates() if d != "none"]
        if not down:
            factors.append(None)
            worst_sizes.append(size)
            continue
        candidates = space.spec("downsample_factor", block=block).candidates()
        fits, outputs = [], []
        for factor in candidates:
            outs = [_block_output(size, d, factor) for d in down]
            if all(o is not None for o in outs):
                fits.append(factor)
                outputs.extend(outs)
        if not fits:
            reason = (
                f"block {i} cannot downsample {shapes.format_size(size)} with downsample "
                f"{tuple(down)} and downsample_factor {tuple(candidates)} without reaching zero"
            )
            break
        factors.append(tuple(fits))
        size = tuple(min(o[axis] for o in outputs) for axis in range(len(size)))
        worst_sizes.append(size)
    return BlockPlan(tuple(input_size), tuple(factors), tuple(worst_sizes), reason)


def plan_block_count(space: SearchSpace, input_shape, spatial_size, max_blocks: int) -> tuple[Spec, BlockPlan]:
    """The ``num_blocks`` spec that fits an input, and the plan behind it.

    A ``num_blocks`` the space sets is kept, or a ShapeError shows the
    arithmetic; otherwise the spec ranges from 1 to what the input fits, at
    most ``max_blocks``.
    """
    user_set = space.is_set("num_blocks")
    spec = space.spec("num_blocks")
    wanted = max(spec.candidates()) if user_set else max_blocks
    plan = plan_blocks(space, spatial_size, wanted)
    if plan.max_blocks == 0:
        raise shapes.ShapeError(
            f"The input_shape={input_shape} fits no block of the search space: "
            f"{plan.stop_reason}. Use a larger input, a smaller `downsample_factor`, or "
            "downsample='none' in the SearchSpace."
        )
    if user_set:
        too_many = [n for n in spec.candidates() if n > plan.max_blocks]
        if too_many:
            raise shapes.ShapeError(
                f"num_blocks={spec!r} reaches {max(too_many)} blocks, but an input of "
                f"{shapes.format_size(spatial_size)} fits only {plan.max_blocks} when every "
                f"block takes the strongest downsampling of the space: {plan.explain()}. "
                f"Fix: num_blocks <= {plan.max_blocks}, smaller `downsample_factor` choices, "
                "or downsample='none'/'strided' choices for the later blocks."
            )
        return spec, plan
    if plan.max_blocks == 1:
        return Fixed(1), plan
    return IntRange(1, plan.max_blocks), plan
