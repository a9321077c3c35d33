"""Checks of augmentation arguments against the data: flips on digits, value ranges."""

from __future__ import annotations

import numbers
import warnings

import numpy as np

__all__ = [
    "DATA_HINTS",
    "FLIP_SENSITIVE",
    "FlipWarning",
    "check_value_range",
    "concrete_values",
    "resolve_data",
    "standardize_value_range",
    "warn_flip",
]

# Data whose classes a mirror image changes (a flipped 2 is no digit; b <-> d).
FLIP_SENSITIVE = ("digits", "characters", "mnist", "emnist", "letters", "text")
DATA_HINTS = FLIP_SENSITIVE + ("natural", "fashion_mnist", "cifar10", "lfw_subset")


def standardize_value_range(value_range) -> tuple[float, float]:
    """``(low, high)`` as floats, or a ValueError naming ``value_range``."""
    ok = (
        isinstance(value_range, (tuple, list))
        and len(value_range) == 2
        and all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in value_range)
        and np.isfinite(value_range).all()
        and value_range[0] < value_range[1]
    )
    if not ok:
        raise ValueError(
            "Invalid value for argument `value_range`. Expected (low, high) with low < high, "
            f"e.g. (0, 1) or (0, 255). Received value_range={value_range!r}."
        )
    return float(value_range[0]), float(value_range[1])


def resolve_data(data) -> tuple[str | None, np.ndarray | None]:
    """Split ``data`` into a hint (``"digits"``, ...) and sample images.

    ``data`` may be ``None``, a hint string, a :class:`keras_cnnlab.Dataset` or an
    array of images.
    """
    if data is None:
        return None, None
    if isinstance(data, str):
        if data not in DATA_HINTS:
            raise ValueError(
                f"Invalid value for argument `data`. Expected one of {DATA_HINTS}, a "
                f"keras_cnnlab Dataset or an array of images. Received data={data!r}."
            )
        return data, None
    if hasattr(data, "x_train") and hasattr(data, "name"):  # a keras_cnnlab Dataset
        hint = data.name if data.name in DATA_HINTS else None
        return hint, np.asarray(data.x_train[:256])
    try:
        images = concrete_values(data)
    except Exception:  # noqa: BLE001 - anything that is not array-like
        images = None
    if images is None or images.ndim not in (3, 4):
        raise ValueError(
            f"Invalid value for argument `data`. Expected one of {DATA_HINTS}, a keras_cnnlab "
            f"Dataset or an array of images. Received an object of type {type(data).__name__}"
            + (f" with shape {images.shape}." if images is not None else ".")
        )
    return None, images


class FlipWarning(UserWarning):
    """A flip on data whose classes a mirror image changes; ``flip`` and ``data`` say which.

    A command line catches it to give the advice in its own options' names.
    """

    def __init__(self, message: str, flip: str = "", data: str = ""):
        super().__init__(message)
        self.flip, self.data = flip, data


def warn_flip(flip: str, hint: str, what: str) -> None:
    message = (
        f"{what} flips images ({flip!r}), but data={hint!r} holds digits or characters, "
        "whose meaning a mirror image changes (a flipped 2 is no digit). Use "
        "augmentation_preset('digits') or pass flip=None."
    )
    warnings.warn(FlipWarning(message, flip, hint), stacklevel=3)


def concrete_values(x) -> np.ndarray | None:
    """``x`` as a numpy array if its values exist now; ``None`` while tracing.

    Symbolic tensors (Keras inputs, ``tf.function`` and ``tf.data`` graphs, JAX
    tracers, PyTorch meta tensors or ``torch.compile``) have no values to read.
    """
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, (list, tuple)):
        return np.asarray(x)
    kind = type(x).__module__.split(".")[0]
    if kind == "tensorflow":
        return x.numpy() if type(x).__name__ == "EagerTensor" else None
    if kind in ("jax", "jaxlib"):
        import jax

        return None if isinstance(x, jax.core.Tracer) else np.asarray(x)
    if kind == "torch":
        import torch

        if x.device.type == "meta" or torch.compiler.is_compiling():
            return None
        return x.detach().cpu().numpy()
    if kind == "keras":  # a KerasTensor
        return None
    return np.asarray(x)


def check_value_range(images, value_range, *, error: bool, where: str) -> bool:
    """Compare the values of ``images`` with ``value_range``.

    Values outside the range raise a ValueError (``error=True``) or warn: the
    contrast and brightness layers clip to ``value_range``, so 0..255 pixels
    with ``value_range=(0, 1)`` come out white. Values that all lie in the bottom
    1/100 of the range (e.g. [0, 1] images, ``value_range=(0, 255)``) warn: the
    brightness shift is scaled to the range and would saturate them.

    Returns:
        Whether the values could be read (``False`` while tracing).
    """
    x = concrete_values(images)
    if x is None or x.size == 0:
        return x is not None
    x = np.asarray(x[: min(len(x), 256)], dtype="float64")
    seen_low, seen_high = float(np.nanmin(x)), float(np.nanmax(x))
    low, high = value_range
    span = high - low
    tolerance = 1e-3 * span
    suggestion = (
        "(0, 255)" if seen_high > 1.5 else "(-1, 1)" if seen_low < -tolerance else "(0, 1)"
    )
    if seen_low < low - tolerance or seen_high > high + tolerance:
        message = (
            f"{where}: the images hold values in [{seen_low:g}, {seen_high:g}], outside "
            f"value_range=({low:g}, {high:g}); contrast, brightness and erasing clip to "
            f"value_range, which would wipe them out. Pass value_range={suggestion}, or "
            "scale the images to the range (`x / 255.0` for 0..255 pixels)."
        )
        if error:
            raise ValueError(message)
        warnings.warn(message, UserWarning, stacklevel=3)
    elif low < seen_high <= low + 0.01 * span:
        warnings.warn(
            f"{where}: the images hold values in [{seen_low:g}, {seen_high:g}], a small "
            f"part of value_range=({low:g}, {high:g}); brightness shifts are scaled to "
            f"value_range and would saturate them. Pass value_range={suggestion}.",
            UserWarning,
            stacklevel=3,
        )
    return True
