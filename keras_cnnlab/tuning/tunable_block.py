"""tunable_conv_block: one ConvBlock whose hyperparameters are declared on ``hp``.

CNNHyperModel builds its blocks with it; a build function of your own can too.
"""

from __future__ import annotations

import re

from keras_cnnlab import shapes
from keras_cnnlab.blocks import ConvBlock
from keras_cnnlab.tuning.parameters import warn_renamed
from keras_cnnlab.tuning.search_space import as_search_space
from keras_cnnlab.tuning.specs import Choice

__all__ = ["tunable_conv_block"]

_BLOCK_INDEX = re.compile(r"^block([1-9][0-9]*)$")


def _filters_default(spec, name: str):
    # Tutorial habit: the n-th block gets the n-th filter count (16, 32, 64, ...).
    match = _BLOCK_INDEX.match(name)
    if not match or not isinstance(spec, Choice):
        return None
    values = sorted(spec.values)
    return values[min(int(match.group(1)) - 1, len(values) - 1)]


def _deprecated_pool_sizes(block_kwargs: dict, downsample_factors):
    """``downsample_factors``, or the deprecated ``pool_sizes=`` popped from ``block_kwargs``."""
    if "pool_sizes" not in block_kwargs:
        return downsample_factors
    warn_renamed("tunable_conv_block(pool_sizes=...)", "tunable_conv_block(downsample_factors=...)")
    return block_kwargs.pop("pool_sizes")


def tunable_conv_block(
    hp,
    name: str = "block",
    *,
    search_space=None,
    downsample_factors=None,
    data_format=None,
    seed=None,
    **block_kwargs,
):
    """Declare one block's hyperparameters on ``hp`` and return the ConvBlock they pick.

    The hyperparameters are named ``<name>_filters``, ``<name>_kernel_size``,
    ``<name>_convs``, ``<name>_activation``, ``<name>_batch_norm``,
    ``<name>_downsample``, ``<name>_downsample_factor`` (only active when the
    block downsamples) and ``<name>_dropout``. Their ranges come from
    ``search_space`` (a :class:`SearchSpace`; per-block overrides such as
    ``block2_filters`` apply to the block named ``"block2"``).

    ``downsample="max"`` or ``"avg"`` pools with a window of
    ``downsample_factor``; ``downsample="strided"`` makes the first convolution
    stride by ``downsample_factor`` instead; ``downsample="none"`` keeps the
    spatial size.

    Args:
        hp: a ``keras_tuner.HyperParameters``.
        name: the block's name (and the prefix of its hyperparameters).
        search_space: a :class:`SearchSpace`, a dict of overrides, or ``None``.
        downsample_factors: if given, the downsampling factors this block may
            use (to keep a small input from collapsing; see :func:`plan_blocks`).
            ``pool_sizes=``, its old name, still works in this release, with a
            DeprecationWarning.
        data_format: ``"channels_last"`` or ``"channels_first"``.
        seed: seed of the block's dropout.
        **block_kwargs: other ConvBlock arguments, fixed (e.g. ``kernel_regularizer``).

    Returns:
        A ``ConvBlock``, or ``None`` inside an inactive conditional scope (a
        block the current trial does not use).

    Example:

    ```python
    def build(hp):
        inputs = keras.Input((28, 28, 1))
        x = inputs
        for i in range(hp.Int("blocks", 1, 3)):
            x = tunable_conv_block(hp, f"block{i + 1}")(x)
        outputs = ClassifierHead(10)(x)
        model = keras.Model(inputs, outputs)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model
    ```
    """
    if not isinstance(name, str) or not re.match(r"^[A-Za-z][A-Za-z0-9_]*$", name):
        raise ValueError(
            "Invalid value for argument `name`. Expected an identifier such as 'block1'. "
            f"Received name={name!r}."
        )
    downsample_factors = _deprecated_pool_sizes(block_kwargs, downsample_factors)
    space = as_search_space(search_space)

    def register(param, spec=None, default=None):
        spec = space.spec(param, block=name) if spec is None else spec
        return spec.register(hp, f"{name}_{param}", default)

    filters_spec = space.spec("filters", block=name)
    filters = register("filters", filters_spec, _filters_default(filters_spec, name))
    kernel_size = register("kernel_size")
    convs = register("convs")
    activation = register("activation")
    batch_norm = register("batch_norm")
    downsample_spec = space.spec("downsample", block=name)
    downsample = register("downsample", downsample_spec)

    factor_spec = space.spec("downsample_factor", block=name)
    if downsample_factors is not None:
        restricted = factor_spec.restricted(tuple(downsample_factors))
        if restricted is None:
            raise shapes.ShapeError(
                f"No downsampling factor of {factor_spec!r} fits block {name!r}: allowed here are "
                f"{tuple(downsample_factors)}. Widen `downsample_factor` or use a larger input."
            )
        factor_spec = restricted
    modes = downsample_spec.candidates()
    down = [m for m in modes if m != "none"]
    factor = None
    if down and len(down) < len(modes):
        with hp.conditional_scope(f"{name}_downsample", down):
            factor = register("downsample_factor", factor_spec)
    elif down:
        factor = register("downsample_factor", factor_spec)
    dropout = register("dropout")

    if filters is None:  # an inactive scope: this trial has no such block
        return None
    pools = downsample in ("max", "avg")
    return ConvBlock(
        filters,
        kernel_size,
        convs=convs,
        strides=factor if downsample == "strided" else 1,
        padding="same",
        activation=activation,
        batch_norm=batch_norm,
        pool=downsample if pools else None,
        pool_size=factor if pools else 2,
        dropout=dropout,
        data_format=data_format,
        seed=seed,
        name=name,
        **block_kwargs,
    )
