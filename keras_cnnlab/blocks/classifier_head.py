"""ClassifierHead: pooling or flatten, dense layers with dropout, the output layer."""

from __future__ import annotations

import keras

from keras_cnnlab._validation import check_data_format, check_positive_int, check_rate
from keras_cnnlab.blocks import factories

__all__ = ["ClassifierHead", "HEAD_POOLINGS"]

HEAD_POOLINGS = ("flatten", "avg", "max")


@keras.saving.register_keras_serializable(package="keras_cnnlab")
class ClassifierHead(keras.layers.Layer):
    """The end of a CNN classifier: flatten (or global pooling) -> Dense layers -> output.

    Args:
        num_classes: number of output units. ``1`` with ``activation="sigmoid"``
            gives a binary classifier.
        pooling: ``"flatten"`` (the tutorials' choice), ``"avg"`` or ``"max"``
            (global pooling: far fewer parameters).
        units: widths of the hidden Dense layers, e.g. ``(128,)`` or ``()``.
        dropout: dropout rate after each hidden Dense layer, in ``[0, 1)``.
        activation: output activation: ``"softmax"``, ``"sigmoid"`` or ``None``
            for logits (then compile with ``from_logits=True``; ``compile_for``
            does it).
        hidden_activation: activation of the hidden Dense layers.
        data_format: of the incoming feature map, for global pooling.
        kernel_regularizer: passed to every Dense layer.
        seed: seed of the dropout layers.
        **kwargs: base Layer arguments.

    Example:

    ```python
    outputs = ClassifierHead(10, pooling="avg", units=(64,), dropout=0.25)(features)
    ```
    """

    def __init__(
        self,
        num_classes,
        *,
        pooling="flatten",
        units=(128,),
        dropout=0.0,
        activation="softmax",
        hidden_activation="relu",
        data_format=None,
        kernel_regularizer=None,
        seed=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_classes = check_positive_int(num_classes, "num_classes")
        if pooling not in HEAD_POOLINGS:
            raise ValueError(
                f"Invalid value for argument `pooling`. Expected one of {HEAD_POOLINGS}. "
                f"Received pooling={pooling!r}."
            )
        self.pooling = pooling
        if self.num_classes == 1 and activation == "softmax":
            raise ValueError(
                "Invalid value for argument `activation`: softmax over a single output unit "
                "always returns 1. For a binary classifier use num_classes=1 with "
                "activation='sigmoid', or num_classes=2 with softmax."
            )
        if isinstance(units, int):
            units = (units,)
        self.units = tuple(check_positive_int(u, "units") for u in units)
        self.dropout = check_rate(dropout, "dropout")
        self.activation = activation
        self.hidden_activation = hidden_activation
        self.data_format = check_data_format(data_format)
        self.kernel_regularizer = keras.regularizers.get(kernel_regularizer)
        self.seed = seed
        self.head_layers = self._make_layers()

    def _make_layers(self) -> list:
        """The sub-layers, created here rather than in ``build`` so that .keras files reload."""
        policy = self.dtype_policy
        if self.pooling == "flatten":
            first = keras.layers.Flatten(data_format=self.data_format, dtype=policy, name="flatten")
        elif self.pooling == "avg":
            first = keras.layers.GlobalAveragePooling2D(
                data_format=self.data_format, dtype=policy, name="global_avg_pool"
            )
        else:
            first = keras.layers.GlobalMaxPooling2D(
                data_format=self.data_format, dtype=policy, name="global_max_pool"
            )
        head_layers = [first]
        for i, width in enumerate(self.units):
            head_layers.append(
                keras.layers.Dense(
                    width,
                    kernel_regularizer=self.kernel_regularizer,
                    dtype=policy,
                    name=f"dense{i + 1}",
                )
            )
            act = factories.make_activation(
                self.hidden_activation, argument="hidden_activation", dtype=policy, name=f"act{i + 1}"
            )
            if act is not None:
                head_layers.append(act)
            if self.dropout > 0:
                head_layers.append(
                    keras.layers.Dropout(self.dropout, seed=self.seed, dtype=policy, name=f"dropout{i + 1}")
                )
        # The output layer computes in float32 so softmax stays stable under mixed precision.
        head_layers.append(
            keras.layers.Dense(
                self.num_classes,
                kernel_regularizer=self.kernel_regularizer,
                dtype="float32",
                name="output",
            )
        )
        out_act = factories.make_activation(self.activation, dtype="float32", name="output_activation")
        if out_act is not None:
            head_layers.append(out_act)
        return head_layers

    def build(self, input_shape):
        if len(input_shape) < 2:
            raise ValueError(
                f"ClassifierHead {self.name!r} expects a batch of feature maps or "
                f"vectors; received input of shape {tuple(input_shape)}."
            )
        if self.pooling != "flatten" and len(input_shape) != 4:
            raise ValueError(
                f"ClassifierHead {self.name!r} with pooling={self.pooling!r} expects 4-D "
                f"feature maps; received input of shape {tuple(input_shape)}. "
                "Use pooling='flatten' for other ranks."
            )
        shape = tuple(input_shape)
        for layer in self.head_layers:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)

    def call(self, inputs, training=None):
        x = inputs
        for layer in self.head_layers:
            if isinstance(layer, keras.layers.Dropout):
                x = layer(x, training=training)
            else:
                x = layer(x)
        return x

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def compute_output_spec(self, inputs, training=None):
        # The output layer runs in float32 whatever the policy (see __init__).
        return keras.KerasTensor(self.compute_output_shape(inputs.shape), dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update(
            num_classes=self.num_classes,
            pooling=self.pooling,
            units=self.units,
            dropout=self.dropout,
            activation=factories.serialize_spec(self.activation),
            hidden_activation=factories.serialize_spec(self.hidden_activation),
            data_format=self.data_format,
            kernel_regularizer=keras.regularizers.serialize(self.kernel_regularizer),
            seed=self.seed,
        )
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("activation", "hidden_activation"):
            config[key] = factories.deserialize_spec(config.get(key))
        if config.get("kernel_regularizer") is not None:
            config["kernel_regularizer"] = keras.regularizers.deserialize(config["kernel_regularizer"])
        return cls(**config)
