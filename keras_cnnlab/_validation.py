"""Argument checks shared by the whole package, with Keras-style error messages.

Every message reads ``Invalid value for argument `name`. Expected ... Received
name=value.``. This module is at the bottom of the package: it imports nothing
of keras_cnnlab, and Keras only inside :func:`check_data_format`, so that the
parts that import no backend (shapes, the command line's parser) can use it.
"""

from __future__ import annotations

import numbers

__all__ = [
    "DATA_FORMATS",
    "check_int",
    "check_positive_int",
    "check_rate",
    "check_data_format",
    "check_image_rank",
]

DATA_FORMATS = ("channels_last", "channels_first")


def _expected_int(minimum: int) -> str:
    if minimum == 1:
        return "a strictly positive integer"
    if minimum == 0:
        return "a non-negative integer"
    return f"an integer >= {minimum}"


def check_int(value, name: str, *, minimum: int = 0) -> int:
    """Return ``value`` as an int if it is an integer >= ``minimum`` (a bool is none).

    Raises:
        ValueError: naming the argument and what it expected.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected {_expected_int(minimum)}. "
            f"Received {name}={value!r}."
        )
    return int(value)


def check_positive_int(value, name: str) -> int:
    """Return ``value`` if it is an int >= 1, else raise a ValueError naming it."""
    return check_int(value, name, minimum=1)


def check_rate(value, name: str) -> float:
    """Return ``value`` if it is a float in [0, 1), else raise a ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected a rate in [0, 1). "
            f"Received {name}={value!r}."
        )
    return float(value)


def check_data_format(value) -> str:
    """Resolve ``None`` to Keras's image data format and validate the result."""
    if value is None:
        import keras

        value = keras.config.image_data_format()
    if value not in DATA_FORMATS:
        raise ValueError(
            f"Invalid value for argument `data_format`. Expected one of {DATA_FORMATS}. "
            f"Received data_format={value!r}."
        )
    return value


def check_image_rank(input_shape, layer_type: str, name: str, data_format: str) -> None:
    """Explain how to fix an input that is not a 4-D batch of images."""
    shape = tuple(input_shape)
    if len(shape) == 4:
        return
    layout = (
        "(batch, height, width, channels)"
        if data_format == "channels_last"
        else "(batch, channels, height, width)"
    )
    hint = ""
    if len(shape) == 3:
        hint = (
            " It looks like grayscale images without a channel axis: add one with "
            "`x = x[..., None]` (numpy) or `keras.ops.expand_dims(x, -1)`, and use "
            "input shape (height, width, 1)."
        )
    raise ValueError(
        f"{layer_type} {name!r} expects 4-D input {layout}; received input of shape "
        f"{shape}.{hint}"
    )
