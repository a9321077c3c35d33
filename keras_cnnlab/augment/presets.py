"""Named augmentation presets and :func:`augmentation_preset`, which turns one into a layer."""

from __future__ import annotations

import difflib

from keras_cnnlab.augment import _checks

# Preset and PRESETS live in spec.py, next to the parser that reads a preset name first.
from keras_cnnlab.augment.spec import FACTORS, PRESETS, AugmentSpec, Preset, parse_augment_spec

__all__ = ["Preset", "PRESETS", "PRESET_FOR_DATA", "augmentation_preset", "preset_for", "resolve_spec"]


#: dataset name -> the preset that suits it (what ``"auto"`` means for that data).
PRESET_FOR_DATA: dict[str, str] = {
    "digits": "digits",
    "mnist": "digits",
    "fashion_mnist": "light",
    "cifar10": "standard",
    "lfw_subset": "standard",
}


def preset_for(data) -> str:
    """The preset name for ``data`` (a Dataset or a dataset name); ``"light"`` if unknown."""
    name = data if isinstance(data, str) else getattr(data, "name", None)
    return PRESET_FOR_DATA.get(name, "light")


def _unknown_preset(name: str) -> ValueError:
    close = difflib.get_close_matches(name, list(PRESETS), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return ValueError(
        f"Unknown augmentation preset {name!r}.{hint} Valid presets: "
        f"{', '.join(map(repr, PRESETS))}; or a spec string such as "
        "'flip-rot0.1-zoom0.1-contrast0.2' (see parse_augment_spec for its tokens)."
    )


def resolve_spec(name) -> AugmentSpec:
    """An :class:`AugmentSpec` from a preset name, a spec string, a Preset or a spec."""
    if isinstance(name, AugmentSpec):
        return name
    if isinstance(name, Preset):
        return name.spec
    if not isinstance(name, str):
        raise ValueError(
            "Invalid value for argument `name`. Expected a preset name "
            f"({', '.join(PRESETS)}), a spec string or an AugmentSpec. Received name={name!r}."
        )
    key = name.strip().lower()
    if key in PRESETS:
        return PRESETS[key].spec
    try:
        return parse_augment_spec(key)
    except ValueError:
        # One word that is no factor token ("rot") was meant as a preset name.
        if key.isalpha() and key not in {f.token for f in FACTORS.values()}:
            raise _unknown_preset(name) from None
        raise


def augmentation_preset(
    name="standard",
    *,
    strength=1.0,
    seed=None,
    value_range=(0, 1),
    data=None,
    data_format=None,
    **overrides,
):
    """An augmentation layer from a named preset, a spec string or an AugmentSpec.

    The layer sits first in a model (active in training only) or maps over a
    ``tf.data`` pipeline, on every backend, and saves and reloads with the model.

    | preset | transforms |
    |---|---|
    | ``"none"`` | none |
    | ``"light"`` | flip, rotation 0.05, zoom 0.05 |
    | ``"standard"`` | flip, rotation 0.1, zoom 0.1, contrast 0.2 |
    | ``"strong"`` | flip, rotation 0.15, zoom 0.15, translation 0.1, contrast 0.3, brightness 0.2, erasing 0.25 |
    | ``"digits"`` | whole-pixel pad-and-crop 0.125 (1 pixel at 8x8), constant fill; no flip |

    Args:
        name: a preset name (see :data:`PRESETS`), a spec string such as
            ``"flip-rot0.1-zoom0.1"`` (see :func:`parse_augment_spec`), or an
            :class:`AugmentSpec`.
        strength: multiplies every factor after ``overrides`` are applied: 0 is no
            augmentation, 1 the preset, 2 twice as strong. A flip stays on for any
            strength > 0. Tune it with the preset name.
        seed: integer seed; same seed, same augmentations.
        value_range: ``(low, high)`` of the pixel values the layer will see:
            ``(0, 1)`` for images scaled to [0, 1] (what ``load_dataset`` returns),
            ``(0, 255)`` for raw pixels.
        data: optional description of the data, checked against the preset: a
            hint (``"digits"``, ``"characters"``, ``"mnist"``, ``"natural"``, ...),
            a :class:`keras_cnnlab.Dataset` or an array of images. A flip on digits or
            characters warns; images outside ``value_range`` raise a ValueError.
        data_format: ``"channels_last"`` or ``"channels_first"``.
        **overrides: change single factors of the preset: ``flip``, ``rotation``,
            ``zoom``, ``translation``, ``contrast``, ``brightness``, ``erasing``,
            ``fill_mode``; ``None`` or 0 turns a transform off.

    Returns:
        An :class:`AugmentationPipeline` layer.

    Raises:
        ValueError: an unknown preset (the message lists them), a factor out of
            range (named), a bad ``value_range``, or images outside it.

    Example:

    ```python
    augment = augmentation_preset("standard", seed=0)            # tutorial B's four
    augment = augmentation_preset("strong", strength=0.5)        # half as strong
    augment = augmentation_preset("standard", rotation=0.2)      # one factor changed
    augment = augmentation_preset("digits", data=load_dataset("digits"))
    model = build_cnn((8, 8, 1), 10, augmentation=augment)
    ```
    """
    from keras_cnnlab.augment.pipeline import AugmentationPipeline

    spec = resolve_spec(name).replace(**overrides).scaled(strength)
    value_range = _checks.standardize_value_range(value_range)
    hint, images = _checks.resolve_data(data)
    label = name if isinstance(name, str) else spec.to_string()
    if spec.flip and hint in _checks.FLIP_SENSITIVE:
        _checks.warn_flip(spec.flip, hint, f"augmentation_preset({label!r})")
    if images is not None and spec.uses_value_range:
        _checks.check_value_range(
            images, value_range, error=True, where=f"augmentation_preset({label!r}, data=...)"
        )
    return AugmentationPipeline(spec, seed=seed, value_range=value_range, data_format=data_format)
