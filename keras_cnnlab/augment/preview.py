"""preview_augmentation: a picture of what an augmentation does to a few images."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from keras_cnnlab.augment import _checks

__all__ = ["augmented_copies", "preview_augmentation"]


def _as_layer(preset, seed, value_range):
    import keras

    from keras_cnnlab.augment.presets import augmentation_preset

    if isinstance(preset, keras.layers.Layer):
        if value_range is None:
            value_range = getattr(preset, "value_range", None)
        return preset, value_range
    value_range = (0, 1) if value_range is None else value_range
    layer = augmentation_preset(preset, seed=seed, value_range=value_range)
    return layer, layer.value_range


def _as_batch(images) -> np.ndarray:
    x = _checks.concrete_values(images)
    if x is None:
        raise ValueError("preview_augmentation needs concrete images (numpy arrays or eager tensors).")
    x = np.asarray(x)
    if x.ndim == 2:  # one grayscale image
        x = x[None, :, :, None]
    elif x.ndim == 3:
        # (H, W, C) with few channels is one image; otherwise a batch of grayscale images.
        x = x[None] if x.shape[-1] in (1, 3, 4) else x[..., None]
    if x.ndim != 4 or len(x) == 0:
        raise ValueError(
            "Invalid value for argument `images`. Expected one image (H, W) or (H, W, C), or "
            f"a batch (N, H, W, C). Received shape {np.shape(images)}."
        )
    return x


def augmented_copies(preset, images, n=9, *, seed=0, value_range=None) -> np.ndarray:
    """``n`` augmented copies of each image: an array ``(N, n, H, W, C)``.

    Args:
        preset: a preset name, spec string, AugmentSpec, or a Keras layer.
        images: one image or a batch, channels last.
        n: copies per image.
        seed: seed of the augmentation built from ``preset`` (ignored for a layer,
            which keeps its own random state).
        value_range: ``(low, high)`` of the pixels; defaults to the layer's, or (0, 1).
    """
    import keras

    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"Invalid value for argument `n`. Expected an integer >= 1. Received n={n!r}.")
    batch = _as_batch(images).astype("float32")
    layer, value_range = _as_layer(preset, seed, value_range)
    if value_range is not None:
        _checks.check_value_range(
            batch, _checks.standardize_value_range(value_range), error=True,
            where="preview_augmentation",
        )
    repeated = np.repeat(batch, n, axis=0)  # every copy gets its own random draw
    out = keras.ops.convert_to_numpy(layer(repeated, training=True))
    return out.reshape((len(batch), n) + out.shape[1:])


def preview_augmentation(
    preset,
    images,
    n=9,
    path="augment.png",
    *,
    seed=0,
    value_range=None,
    show_original=True,
    panel_size=1.2,
    dpi=100,
):
    """Save a grid of augmented copies of ``images``, like the tutorials' 3x3 figure.

    One image gives a square-ish grid (original first, then ``n`` copies); a batch
    of images gives one row per image.

    Args:
        preset: a preset name, spec string, AugmentSpec, or a Keras layer.
        images: one image ``(H, W)`` / ``(H, W, C)`` or a batch ``(N, H, W, C)``.
        n: augmented copies per image.
        path: where to write the picture (the format follows the suffix).
        seed: seed of the augmentation built from ``preset``.
        value_range: ``(low, high)`` of the pixels; defaults to the layer's, or (0, 1).
        show_original: put the unaugmented image first.
        panel_size: size of one panel, in inches.
        dpi: resolution.

    Returns:
        The ``pathlib.Path`` written.

    Example:

    ```python
    data = load_dataset("digits")
    preview_augmentation("digits", data.x_train[:4], n=8, path="docs/img/digits.png")
    ```
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            "preview_augmentation draws with matplotlib: pip install 'keras-cnnlab[plot]'."
        ) from None
    batch = _as_batch(images)
    layer, value_range = _as_layer(preset, seed, value_range)
    copies = augmented_copies(layer, batch, n, seed=seed, value_range=value_range)
    low, high = value_range if value_range is not None else (float(batch.min()), float(batch.max()))
    originals = batch.astype("float32")[:, None]
    panels = np.concatenate([originals, copies], axis=1) if show_original else copies
    if len(batch) == 1:
        count = panels.shape[1]
        cols = math.ceil(math.sqrt(count))
        rows = math.ceil(count / cols)
        grid = [[(0, r * cols + c) if r * cols + c < count else None for c in range(cols)]
                for r in range(rows)]
    else:
        rows, cols = panels.shape[:2]
        grid = [[(r, c) for c in range(cols)] for r in range(rows)]

    figure = Figure(figsize=(cols * panel_size, rows * panel_size), dpi=dpi)
    FigureCanvasAgg(figure)
    axes = figure.subplots(rows, cols, squeeze=False)
    name = getattr(getattr(layer, "spec", None), "to_string", lambda: type(layer).__name__)()
    for r in range(rows):
        for c in range(cols):
            ax = axes[r][c]
            ax.set_axis_off()
            where = grid[r][c]
            if where is None:
                continue
            image = (panels[where] - low) / (high - low)
            image = np.clip(image, 0.0, 1.0)
            if image.shape[-1] == 1:
                ax.imshow(image[..., 0], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
            else:
                ax.imshow(image[..., :3], interpolation="nearest")
            if show_original and where[1] == 0:
                ax.set_title("original", fontsize=8)
    figure.suptitle(f"augmentation: {name}", fontsize=9)
    figure.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    return path
