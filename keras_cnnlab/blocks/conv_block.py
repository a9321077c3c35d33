"""ConvBlock: Conv2D -> normalization -> activation (x convs), pooling, dropout."""

from __future__ import annotations

import keras

from keras_cnnlab import shapes
from keras_cnnlab._validation import (
    check_data_format,
    check_image_rank,
    check_positive_int,
    check_rate,
)
from keras_cnnlab.blocks import factories

__all__ = ["ConvBlock"]


@keras.saving.register_keras_serializable(package="keras_cnnlab")
class ConvBlock(keras.layers.Layer):
    """The convolutional block every CNN tutorial writes by hand.

    ``convs`` repetitions of Conv2D -> normalization -> activation, then
    pooling, then dropout. The convolution's bias is dropped when a
    normalization layer follows it (the norm's offset makes it redundant).
    Only the first convolution is strided.

    Args:
        filters: number of output channels of every convolution.
        kernel_size: int or ``(kh, kw)``.
        convs: how many convolutions the block stacks before pooling.
        strides: stride of the first convolution.
        padding: ``"same"`` (keeps the size at stride 1) or ``"valid"``.
        dilation_rate: dilation of every convolution.
        activation: a name from ``keras.activations``, a Layer class (e.g.
            ``keras.layers.LeakyReLU``) or a callable; ``None`` for none.
        batch_norm: ``True``/``"batch"``, ``"layer"``, ``"group"``, a Layer class,
            a callable returning a layer, or ``False``/``None`` for none.
        pool: ``"max"``, ``"avg"``, ``None``, a pooling Layer class or a callable
            ``f(pool_size, strides, padding, data_format) -> Layer``.
        pool_size: int or ``(ph, pw)``.
        pool_strides: defaults to ``pool_size``.
        pool_padding: ``"valid"`` (Keras's default; floors odd sizes) or ``"same"``.
        dropout: dropout rate after pooling, in ``[0, 1)``.
        data_format: ``"channels_last"`` or ``"channels_first"``; defaults to
            ``keras.config.image_data_format()``.
        kernel_initializer: passed to every Conv2D (default ``"he_normal"``).
        kernel_regularizer: passed to every Conv2D.
        bias_regularizer: passed to every Conv2D.
        activity_regularizer: applied to the block's output.
        kernel_constraint: passed to every Conv2D.
        seed: seed of the dropout layer.
        **kwargs: base Layer arguments (``name``, ``dtype``, ...).

    Example:

    ```python
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        ConvBlock(32),                          # 28 -> 14
        ConvBlock(64, convs=2, dropout=0.25),   # 14 -> 7
        keras.layers.Flatten(),
        keras.layers.Dense(10, activation="softmax"),
    ])
    ```
    """

    def __init__(
        self,
        filters,
        kernel_size=3,
        *,
        convs=1,
        strides=1,
        padding="same",
        dilation_rate=1,
        activation="relu",
        batch_norm=True,
        pool="max",
        pool_size=2,
        pool_strides=None,
        pool_padding="valid",
        dropout=0.0,
        data_format=None,
        kernel_initializer="he_normal",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(activity_regularizer=activity_regularizer, **kwargs)
        self.filters = check_positive_int(filters, "filters")
        self.kernel_size = shapes.normalize_tuple(kernel_size, "kernel_size")
        self.convs = check_positive_int(convs, "convs")
        self.strides = shapes.normalize_tuple(strides, "strides")
        self.padding = shapes._check_padding(padding)
        self.dilation_rate = shapes.normalize_tuple(dilation_rate, "dilation_rate")
        if self.dilation_rate != (1, 1) and self.strides != (1, 1):
            raise ValueError(
                "Arguments `strides` and `dilation_rate` cannot both differ from 1 "
                f"(Conv2D does not support it). Received strides={strides!r}, "
                f"dilation_rate={dilation_rate!r}."
            )
        self.pool = pool
        self._pool_kind = factories.pool_kind(pool)
        self.pool_size = shapes.normalize_tuple(pool_size, "pool_size")
        self.pool_strides = (
            None if pool_strides is None else shapes.normalize_tuple(pool_strides, "pool_strides")
        )
        self.pool_padding = shapes._check_padding(pool_padding)
        self.dropout = check_rate(dropout, "dropout")
        self.data_format = check_data_format(data_format)
        self.activation = activation
        self.batch_norm = batch_norm
        self.seed = seed
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras.constraints.get(kernel_constraint)
        self._has_norm = batch_norm not in (None, False)
        self._pool_index = None
        self.block_layers = self._make_layers()

    def _make_layers(self) -> list:
        """The sub-layers, created here rather than in ``build`` so that .keras files reload."""
        channel_axis = -1 if self.data_format == "channels_last" else 1
        policy = self.dtype_policy
        block_layers = []
        for i in range(self.convs):
            block_layers.append(
                keras.layers.Conv2D(
                    self.filters,
                    self.kernel_size,
                    strides=self.strides if i == 0 else 1,
                    padding=self.padding,
                    dilation_rate=self.dilation_rate,
                    data_format=self.data_format,
                    use_bias=not self._has_norm,
                    kernel_initializer=self.kernel_initializer,
                    kernel_regularizer=self.kernel_regularizer,
                    bias_regularizer=self.bias_regularizer,
                    kernel_constraint=self.kernel_constraint,
                    dtype=policy,
                    name=f"conv{i + 1}",
                )
            )
            norm = factories.make_norm(
                self.batch_norm,
                channel_axis=channel_axis,
                channels=self.filters,
                dtype=policy,
                name=f"norm{i + 1}",
            )
            if norm is not None:
                block_layers.append(norm)
            act = factories.make_activation(self.activation, dtype=policy, name=f"act{i + 1}")
            if act is not None:
                block_layers.append(act)
        pool_layer = factories.make_pool(
            self.pool,
            pool_size=self.pool_size,
            strides=self.pool_strides,
            padding=self.pool_padding,
            data_format=self.data_format,
            dtype=policy,
            name="pool",
        )
        if pool_layer is not None:
            self._pool_index = len(block_layers)
            block_layers.append(pool_layer)
        if self.dropout > 0:
            block_layers.append(
                keras.layers.Dropout(self.dropout, seed=self.seed, dtype=policy, name="dropout")
            )
        return block_layers

    def spatial_ops(self) -> list[shapes.SpatialOp]:
        """The block's spatial steps, for :mod:`keras_cnnlab.shapes` (custom pools excluded)."""
        return shapes.conv_block_ops(**self._shape_kwargs())

    def _shape_kwargs(self) -> dict:
        kind = self._pool_kind
        return dict(
            kernel_size=self.kernel_size,
            convs=self.convs,
            strides=self.strides,
            padding=self.padding,
            dilation_rate=self.dilation_rate,
            pool=kind if kind in ("max", "avg") else None,
            pool_size=self.pool_size,
            pool_strides=self.pool_strides,
            pool_padding=self.pool_padding,
        )

    def build(self, input_shape):
        check_image_rank(input_shape, type(self).__name__, self.name, self.data_format)
        # Raises a ShapeError showing the arithmetic before any backend error.
        self.compute_output_shape(input_shape)
        shape = tuple(input_shape)
        for layer in self.block_layers:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)

    def call(self, inputs, training=None):
        x = inputs
        for layer in self.block_layers:
            if isinstance(layer, (keras.layers.Dropout, keras.layers.BatchNormalization)):
                x = layer(x, training=training)
            else:
                x = layer(x)
        return x

    def compute_output_shape(self, input_shape):
        check_image_rank(input_shape, type(self).__name__, self.name, self.data_format)
        shape = shapes.conv_block_output_shape(
            input_shape,
            self.filters,
            data_format=self.data_format,
            where=f"{type(self).__name__} {self.name!r}",
            **self._shape_kwargs(),
        )
        if self._pool_kind == "custom":
            # The user's pooling layer knows its own arithmetic.
            pool_layer = self.block_layers[self._pool_index]
            shape = tuple(pool_layer.compute_output_shape(shape))
        return shape

    def get_config(self):
        config = super().get_config()
        config.update(
            filters=self.filters,
            kernel_size=self.kernel_size,
            convs=self.convs,
            strides=self.strides,
            padding=self.padding,
            dilation_rate=self.dilation_rate,
            activation=factories.serialize_spec(self.activation),
            batch_norm=factories.serialize_spec(self.batch_norm),
            pool=factories.serialize_spec(self.pool),
            pool_size=self.pool_size,
            pool_strides=self.pool_strides,
            pool_padding=self.pool_padding,
            dropout=self.dropout,
            data_format=self.data_format,
            kernel_initializer=keras.initializers.serialize(self.kernel_initializer),
            kernel_regularizer=keras.regularizers.serialize(self.kernel_regularizer),
            bias_regularizer=keras.regularizers.serialize(self.bias_regularizer),
            activity_regularizer=keras.regularizers.serialize(self.activity_regularizer),
            kernel_constraint=keras.constraints.serialize(self.kernel_constraint),
            seed=self.seed,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("activation", "batch_norm", "pool"):
            config[key] = factories.deserialize_spec(config.get(key))
        for key in ("kernel_initializer",):
            config[key] = keras.initializers.deserialize(config[key])
        for key in ("kernel_regularizer", "bias_regularizer", "activity_regularizer"):
            if config.get(key) is not None:
                config[key] = keras.regularizers.deserialize(config[key])
        if config.get("kernel_constraint") is not None:
            config["kernel_constraint"] = keras.constraints.deserialize(config["kernel_constraint"])
        return cls(**config)
