"""Resolve activation, normalization and pooling choices to Keras layers.

Every choice accepts a name, a Layer class or a callable, and is resolved here
and nowhere else, so all blocks understand the same spellings. Specs are stored
in a block's config in a serializable form (:func:`serialize_spec`) and turned
back into the original object on load (:func:`deserialize_spec`).
"""

from __future__ import annotations

import inspect

import keras

__all__ = [
    "POOL_NAMES",
    "NORM_NAMES",
    "activation_names",
    "make_activation",
    "make_norm",
    "make_pool",
    "pool_kind",
    "serialize_spec",
    "deserialize_spec",
]

POOL_NAMES = ("max", "avg", None)
NORM_NAMES = ("batch", "layer", "group", None)

_LAYER_CLASS_KEY = "layer_class"
_NOT_ACTIVATIONS = {"get", "serialize", "deserialize"}


def activation_names() -> list[str]:
    """Names accepted as ``activation`` (those of ``keras.activations``)."""
    return sorted(
        name
        for name in dir(keras.activations)
        if not name.startswith("_") and name not in _NOT_ACTIVATIONS
    )


def _is_layer_class(spec) -> bool:
    return inspect.isclass(spec) and issubclass(spec, keras.layers.Layer)


def make_activation(spec, *, argument: str = "activation", dtype=None, name=None):
    """A layer applying ``spec``, or ``None`` for no activation.

    ``spec`` may be a name from :func:`activation_names`, a Layer class (such
    as ``keras.layers.LeakyReLU``, instantiated with no arguments) or a
    callable on tensors (wrapped in ``keras.layers.Activation``).
    """
    if spec is None or spec == "linear":
        return None
    if _is_layer_class(spec):
        return spec(dtype=dtype, name=name)
    if isinstance(spec, str):
        if spec not in activation_names():
            raise ValueError(
                f"Invalid value for argument `{argument}`. Expected one of "
                f"{activation_names()}, a Layer class or a callable. "
                f"Received {argument}={spec!r}."
            )
        return keras.layers.Activation(spec, dtype=dtype, name=name)
    if callable(spec):
        return keras.layers.Activation(spec, dtype=dtype, name=name)
    raise ValueError(
        f"Invalid value for argument `{argument}`. Expected a name, a Layer class "
        f"or a callable. Received {argument}={spec!r}."
    )


def make_norm(spec, *, channel_axis: int, channels: int, dtype=None, name=None):
    """A normalization layer, or ``None`` when ``spec`` is False or None.

    ``True`` and ``"batch"`` give BatchNormalization over ``channel_axis``;
    ``"layer"`` gives LayerNormalization over the channels; ``"group"`` gives
    GroupNormalization with up to 32 groups that divide ``channels``. A Layer
    class or a callable is called with no arguments.
    """
    if spec is None or spec is False:
        return None
    if spec is True or spec == "batch":
        return keras.layers.BatchNormalization(axis=channel_axis, dtype=dtype, name=name)
    if spec == "layer":
        return keras.layers.LayerNormalization(axis=channel_axis, dtype=dtype, name=name)
    if spec == "group":
        groups = max(g for g in range(1, min(32, channels) + 1) if channels % g == 0)
        return keras.layers.GroupNormalization(
            groups=groups, axis=channel_axis, dtype=dtype, name=name
        )
    if _is_layer_class(spec):
        return spec(dtype=dtype, name=name)
    if callable(spec) and not isinstance(spec, str):
        layer = spec()
        if not isinstance(layer, keras.layers.Layer):
            raise ValueError(
                "Invalid value for argument `batch_norm`: a callable must return a "
                f"keras Layer. {spec!r} returned {layer!r}."
            )
        return layer
    raise ValueError(
        "Invalid value for argument `batch_norm`. Expected True, False, one of "
        f"{NORM_NAMES}, a Layer class or a callable. Received batch_norm={spec!r}."
    )


def pool_kind(spec) -> str | None:
    """``"max"``, ``"avg"``, ``None``, or ``"custom"`` for a class or callable."""
    if spec in ("max", "avg", None):
        return spec
    if spec == "none":
        return None
    if isinstance(spec, str):
        raise ValueError(
            f"Invalid value for argument `pool`. Expected one of {POOL_NAMES}, a "
            f"Layer class or a callable. Received pool={spec!r}."
        )
    if _is_layer_class(spec) and issubclass(spec, keras.layers.MaxPooling2D):
        return "max"
    if _is_layer_class(spec) and issubclass(spec, keras.layers.AveragePooling2D):
        return "avg"
    if callable(spec):
        return "custom"
    raise ValueError(
        f"Invalid value for argument `pool`. Expected one of {POOL_NAMES}, a "
        f"Layer class or a callable. Received pool={spec!r}."
    )


def make_pool(spec, *, pool_size, strides, padding, data_format, dtype=None, name=None):
    """A pooling layer for ``spec`` (see :func:`pool_kind`), or ``None``."""
    kind = pool_kind(spec)
    if kind is None:
        return None
    kwargs = dict(pool_size=pool_size, strides=strides, padding=padding, data_format=data_format)
    if spec == "max":
        return keras.layers.MaxPooling2D(**kwargs, dtype=dtype, name=name)
    if spec == "avg":
        return keras.layers.AveragePooling2D(**kwargs, dtype=dtype, name=name)
    if _is_layer_class(spec):
        return spec(**kwargs, dtype=dtype, name=name)
    layer = spec(**kwargs)
    if not isinstance(layer, keras.layers.Layer):
        raise ValueError(
            "Invalid value for argument `pool`: a callable must accept pool_size, "
            f"strides, padding and data_format and return a keras Layer. {spec!r} "
            f"returned {layer!r}."
        )
    return layer


def serialize_spec(spec):
    """A JSON-friendly form of a name / Layer class / callable spec."""
    if spec is None or isinstance(spec, (str, bool, int, float)):
        return spec
    if _is_layer_class(spec):
        return {_LAYER_CLASS_KEY: keras.saving.get_registered_name(spec)}
    return keras.saving.serialize_keras_object(spec)


def deserialize_spec(config):
    """Inverse of :func:`serialize_spec`."""
    if isinstance(config, dict) and _LAYER_CLASS_KEY in config:
        name = config[_LAYER_CLASS_KEY]
        cls = keras.saving.get_registered_object(name) or getattr(keras.layers, name, None)
        if cls is None:
            raise ValueError(
                f"Cannot find the layer class {name!r}. Register it with "
                "@keras.saving.register_keras_serializable() before loading."
            )
        return cls
    if isinstance(config, dict):
        return keras.saving.deserialize_keras_object(config)
    return config
