"""The hyperparameters of one CNNHyperModel trial, declared on ``hp``, and what they pick.

:func:`declare_trial` declares the whole space (every block, in the conditional
scope of ``num_blocks``) and returns the trial's choices, blocks included.
"""

from __future__ import annotations

from keras_cnnlab.tuning.specs import Fixed
from keras_cnnlab.tuning.tunable_block import tunable_conv_block

__all__ = ["augmentation_layer", "declare_batch_size", "declare_trial"]


def declare_batch_size(hp, space):
    """Declare ``batch_size`` on ``hp`` and return its value (``None``: left to search())."""
    spec = space.spec("batch_size")
    if isinstance(spec, Fixed) and spec.value is None:
        return None
    return spec.register(hp, "batch_size")


def augmentation_layer(preset: str, strength, seed):
    """The layer of augmentation ``preset`` at ``strength``, or an ImportError that says the fix."""
    try:
        from keras_cnnlab.augment import augmentation_preset
    except ImportError as error:
        raise ImportError(
            f"augmentation={preset!r} needs keras_cnnlab.augment, which could not be "
            f"imported ({error}). Fix the augmentation to 'none' in the SearchSpace."
        ) from error
    return augmentation_preset(preset, strength=1.0 if strength is None else strength, seed=seed)


def _declare_augmentation(hp, space):
    spec = space.spec("augmentation")
    preset = spec.register(hp, "augmentation")
    strength = None
    presets = [p for p in spec.candidates() if p != "none"]
    if presets:
        with hp.conditional_scope("augmentation", presets):
            strength = space.spec("augmentation_strength").register(hp, "augmentation_strength")
    return preset, strength


def _declare_blocks(hp, space, counts, num_blocks, plan, data_format, seed) -> list:
    blocks = []
    for i in range(1, max(counts) + 1):
        with hp.conditional_scope("num_blocks", [n for n in counts if n >= i]):
            block = tunable_conv_block(
                hp,
                f"block{i}",
                search_space=space,
                downsample_factors=plan.downsample_factors[i - 1],
                data_format=data_format,
                seed=None if seed is None else seed + i,
            )
        if block is not None and i <= num_blocks:
            blocks.append(block)
    return blocks


def _declare_head(hp, space) -> dict:
    pooling = space.spec("head_pooling").register(hp, "head_pooling")
    units_spec = space.spec("head_units")
    units = units_spec.register(hp, "head_units")
    widths = [u for u in units_spec.candidates() if u > 0]
    dropout = 0.0
    if widths:
        dropout_spec = space.spec("head_dropout")
        if len(widths) == len(units_spec.candidates()):
            dropout = dropout_spec.register(hp, "head_dropout")
        else:
            with hp.conditional_scope("head_units", widths):
                dropout = dropout_spec.register(hp, "head_dropout")
    return dict(pooling=pooling, units=(units,) if units else (), dropout=dropout or 0.0)


def declare_trial(hp, space, *, num_blocks_spec, plan, data_format, seed) -> dict:
    """Declare the hyperparameters on ``hp``; return the trial's choices and its blocks.

    Every block is declared (in the conditional scope of ``num_blocks``), so
    one call shows the whole space; the layers are created but not built.

    Args:
        hp: a ``keras_tuner.HyperParameters``.
        space: the :class:`SearchSpace`.
        num_blocks_spec: the spec of ``num_blocks`` (see :func:`plan_block_count`).
        plan: the :class:`BlockPlan` that bounds each block's downsampling.
        data_format: of the blocks.
        seed: of the blocks' dropout (block ``i`` gets ``seed + i``).
    """
    counts = tuple(num_blocks_spec.candidates())
    num_blocks = num_blocks_spec.register(hp, "num_blocks")
    preset, strength = _declare_augmentation(hp, space)
    blocks = _declare_blocks(hp, space, counts, num_blocks, plan, data_format, seed)
    head = _declare_head(hp, space)
    return dict(
        preset=preset,
        strength=strength,
        blocks=blocks,
        head=head,
        optimizer=space.spec("optimizer").register(hp, "optimizer"),
        learning_rate=space.spec("learning_rate").register(hp, "learning_rate"),
        weight_decay=space.spec("weight_decay").register(hp, "weight_decay"),
        label_smoothing=space.spec("label_smoothing").register(hp, "label_smoothing"),
        schedule=space.spec("schedule").register(hp, "schedule"),
    )
