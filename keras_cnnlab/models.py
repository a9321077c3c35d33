"""Whole networks from blocks (build_cnn, assemble_cnn) and the tutorials' named architectures.

compile_for and the label checks live in :mod:`keras_cnnlab.compiling`; their names
are importable from here too, as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras

from keras_cnnlab import shapes
from keras_cnnlab._validation import check_data_format, check_positive_int
from keras_cnnlab.blocks import ClassifierHead, ConvBlock
from keras_cnnlab.compiling import check_images, compile_for, label_encoding, loss_for_labels

__all__ = [
    "ARCHITECTURES",
    "build_cnn",
    "build_architecture",
    "label_encoding",
    "loss_for_labels",
    "compile_for",
    "check_images",
]


def _per_block(value, n: int, name: str) -> list:
    """A list gives one value per block; anything else (tuples included) is shared."""
    if isinstance(value, list):
        if len(value) != n:
            raise ValueError(
                f"Invalid value for argument `{name}`: a list needs one value per block "
                f"({n} blocks, from `filters`). Received {name}={value!r}."
            )
        return value
    return [value] * n


def check_input_shape(input_shape, data_format) -> tuple:
    """``input_shape`` as a tuple if it is one image's 3-D shape, else a ValueError with the fix.

    Shared by :func:`build_cnn` and ``CNNHyperModel``; ``data_format`` only words the message.
    """
    shape = tuple(input_shape)
    if len(shape) == 2:
        raise ValueError(
            f"Invalid value for argument `input_shape`: received {shape}, which has no "
            f"channel axis. For grayscale images use input_shape={shape + (1,)} and add "
            "the axis to the data with `x = x[..., None]`."
        )
    if len(shape) != 3:
        raise ValueError(
            "Invalid value for argument `input_shape`. Expected (height, width, channels)"
            f"{' (channels first: (channels, height, width))' if data_format == 'channels_first' else ''}. "
            f"Received input_shape={shape}."
        )
    return shape


# ConvBlock arguments that build_cnn passes on unchanged, one value for all blocks.
BLOCK_PASS_THROUGH = (
    "dilation_rate", "pool_strides", "kernel_initializer", "kernel_regularizer",
    "bias_regularizer", "activity_regularizer", "kernel_constraint",
)


def output_units(num_classes: int, output_activation) -> int:
    """Units of the output layer: one per class, but one sigmoid unit for two classes."""
    return 1 if num_classes == 2 and output_activation == "sigmoid" else num_classes


def build_cnn(
    input_shape,
    num_classes,
    *,
    filters: Sequence[int] = (32, 64, 128),
    kernel_size=3,
    convs=1,
    strides=1,
    padding="same",
    activation="relu",
    batch_norm=True,
    pool="max",
    pool_size=2,
    pool_padding="valid",
    dropout=0.1,
    head_pooling="flatten",
    head_units=(128,),
    head_dropout=0.3,
    output_activation="softmax",
    augmentation=None,
    rescale=None,
    data_format=None,
    seed=None,
    name="cnn",
    **block_kwargs,
) -> keras.Model:
    """A CNN classifier: one ConvBlock per entry of ``filters``, then a ClassifierHead.

    Block arguments (``kernel_size``, ``convs``, ``strides``, ``padding``,
    ``activation``, ``batch_norm``, ``pool``, ``pool_size``, ``pool_padding``,
    ``dropout``) take one value for all blocks or a *list* with one per block
    (a tuple such as ``kernel_size=(3, 5)`` is one 2-D value).
    The spatial size is checked with :mod:`keras_cnnlab.shapes` before any layer
    is built, so an input too small for the stack fails with the arithmetic.

    Args:
        input_shape: ``(height, width, channels)`` of one image.
        num_classes: number of classes. With ``output_activation="sigmoid"``,
            ``2`` (or ``1``) gives a binary classifier: one sigmoid unit, trained
            with binary crossentropy on 0/1 labels.
        filters: filters of each block; its length is the number of blocks.
        kernel_size: see :class:`ConvBlock`; likewise ``convs``, ``strides``,
            ``padding``, ``activation``, ``batch_norm``, ``pool``, ``pool_size``,
            ``pool_padding`` and ``dropout``.
        head_pooling: the ClassifierHead's ``pooling``.
        head_units: the ClassifierHead's ``units``.
        head_dropout: the ClassifierHead's ``dropout``.
        output_activation: ``"softmax"``, ``"sigmoid"`` or ``None`` (logits).
        augmentation: an optional layer applied first (active in training only),
            e.g. an augmentation preset.
        rescale: multiply inputs by this (e.g. ``1/255``) inside the model.
        data_format: defaults to ``keras.config.image_data_format()``.
        seed: seed of the dropout layers.
        name: the model's name.
        **block_kwargs: more ConvBlock arguments, the same for every block:
            ``dilation_rate``, ``pool_strides``, ``kernel_initializer``,
            ``kernel_regularizer``, ``bias_regularizer``, ``activity_regularizer``
            and ``kernel_constraint``.

    Returns:
        An uncompiled ``keras.Model``; compile it with :func:`compile_for`.

    Example:

    ```python
    model = build_cnn((28, 28, 1), 10, filters=(32, 64), dropout=0.25)
    compile_for(model, y_train)
    model.fit(x_train, y_train, validation_split=0.1, epochs=5)
    ```
    """
    data_format = check_data_format(data_format)
    input_shape = check_input_shape(input_shape, data_format)
    check_positive_int(num_classes, "num_classes")
    filters = list(filters) if isinstance(filters, (list, tuple)) else [filters]
    if not filters:
        raise ValueError("Invalid value for argument `filters`: at least one block is needed. Received filters=().")
    unknown = sorted(set(block_kwargs) - set(BLOCK_PASS_THROUGH))
    if unknown:
        raise TypeError(
            f"build_cnn() got unexpected keyword argument(s) {unknown}. Besides its own, it "
            f"passes these on to every ConvBlock: {', '.join(BLOCK_PASS_THROUGH)}."
        )
    n = len(filters)
    per = {
        key: _per_block(value, n, key)
        for key, value in dict(
            kernel_size=kernel_size,
            convs=convs,
            strides=strides,
            padding=padding,
            activation=activation,
            batch_norm=batch_norm,
            pool=pool,
            pool_size=pool_size,
            pool_padding=pool_padding,
            dropout=dropout,
        ).items()
    }
    blocks = [
        ConvBlock(
            f,
            **{key: values[i] for key, values in per.items()},
            data_format=data_format,
            seed=None if seed is None else seed + i,
            name=f"block{i + 1}",
            **block_kwargs,
        )
        for i, f in enumerate(filters)
    ]
    # Check the whole stack at once, so the message shows every step.
    size = input_shape[:2] if data_format == "channels_last" else input_shape[1:]
    ops = [(block.name, op) for block in blocks for op in block.spatial_ops()]
    shapes.trace_spatial(size, ops, where=f"model {name!r} (input_shape={input_shape})")
    return assemble_cnn(
        input_shape,
        blocks,
        num_classes,
        head=dict(pooling=head_pooling, units=head_units, dropout=head_dropout),
        output_activation=output_activation,
        augmentation=augmentation,
        rescale=rescale,
        data_format=data_format,
        seed=None if seed is None else seed + n,
        name=name,
    )


def assemble_cnn(
    input_shape,
    blocks,
    num_classes,
    *,
    head=None,
    output_activation="softmax",
    augmentation=None,
    rescale=None,
    data_format=None,
    seed=None,
    name="cnn",
) -> keras.Model:
    """The functional model of :func:`build_cnn` and ``CNNHyperModel.build``.

    ``image -> [rescale] -> [augmentation] -> blocks -> head``: an Input named
    ``"image"``, a Rescaling named ``"rescale"`` when ``rescale`` is given, the
    augmentation layer, the blocks in order, and a ClassifierHead named
    ``"head"`` with :func:`output_units` units. Saved models and traces rely on
    these names and this order.

    Args:
        input_shape: one image's shape, already checked (:func:`check_input_shape`).
        blocks: the layers between the input and the head (ConvBlocks ``block1``, ...).
        num_classes: number of classes.
        head: the ClassifierHead's ``pooling``, ``units`` and ``dropout``, as a dict.
        output_activation: ``"softmax"``, ``"sigmoid"`` or ``None`` (logits).
        augmentation: a layer applied after the rescaling, or ``None``.
        rescale: multiply inputs by this inside the model, or ``None``.
        data_format: of the feature maps the head receives.
        seed: seed of the head's dropout.
        name: the model's name.

    Returns:
        An uncompiled ``keras.Model``.
    """
    inputs = keras.Input(input_shape, name="image")
    x = inputs
    if rescale is not None:
        x = keras.layers.Rescaling(rescale, name="rescale")(x)
    if augmentation is not None:
        x = augmentation(x)
    for block in blocks:
        x = block(x)
    outputs = ClassifierHead(
        output_units(num_classes, output_activation),
        **(head or {}),
        activation=output_activation,
        data_format=data_format,
        seed=seed,
        name="head",
    )(x)
    return keras.Model(inputs, outputs, name=name)


# The tutorials' networks (see the docs' tutorials page), as build_cnn arguments.
ARCHITECTURES: dict[str, dict] = {
    # Tutorial B (Fashion-MNIST): 32-64-128 conv/pool, Dense(64); 167,114 params at 28x28x1.
    "simple": dict(
        filters=(32, 64, 128), batch_norm=False, dropout=0.0, head_units=(64,), head_dropout=0.0
    ),
    # Tutorial A: two convolutions, no normalization or dropout.
    "two_conv": dict(
        filters=(32, 64), batch_norm=False, dropout=0.0, head_units=(64,), head_dropout=0.0
    ),
    # Tutorial A's suggested improvement: the same with batch norm and dropout.
    "two_conv_bn": dict(filters=(32, 64), batch_norm=True, dropout=0.25, head_units=(64,), head_dropout=0.25),
    # Tutorial C (MNIST): 5x5 "valid" convolutions, 28 -> 24 -> 12 -> 8 -> 4.
    "lenet": dict(
        filters=(32, 64), kernel_size=5, padding="valid", batch_norm=False, dropout=0.0,
        head_units=(), head_dropout=0.0,
    ),
    # Tutorial B (CIFAR-10): four blocks, Dense 256-128-64.
    "deep_simple": dict(
        filters=(32, 64, 128, 256), batch_norm=False, dropout=0.0,
        head_units=(256, 128, 64), head_dropout=0.0,
    ),
    # Tutorial D: [conv-BN] x2 -> maxpool -> dropout 0.25 at 32, 64, 128; Dense(128) + dropout.
    "vgg_bn": dict(filters=(32, 64, 128), convs=2, batch_norm=True, dropout=0.25, head_units=(128,), head_dropout=0.25),
}


def build_architecture(name: str, input_shape, num_classes, **overrides) -> keras.Model:
    """Build one of :data:`ARCHITECTURES` by name; ``overrides`` go to :func:`build_cnn`."""
    if name not in ARCHITECTURES:
        raise ValueError(
            f"Invalid value for argument `name`. Expected one of {sorted(ARCHITECTURES)}. "
            f"Received name={name!r}."
        )
    kwargs = {**ARCHITECTURES[name], **overrides}
    kwargs.setdefault("name", name)
    return build_cnn(input_shape, num_classes, **kwargs)
