"""What an augmentation does, as data: :class:`AugmentSpec`, its compact string form, the presets.

A spec lists the factor of each transform (0 = off). It imports no backend, so
tuners and command lines can build, compare and print specs cheaply; the layer
that applies one is :class:`~keras_cnnlab.augment.AugmentationPipeline`.

The string form joins tokens with ``-``; each token is a transform name with its
factor glued on::

    flip-rot0.1-zoom0.1-contrast0.2      # tutorial B's four transforms
    digits-rot0.15                       # the "digits" preset, rotation changed
    none                                 # no augmentation

:func:`parse_augment_spec` is the one parser; :meth:`AugmentSpec.to_string` writes
the canonical form back (``parse_augment_spec(s.to_string()) == s``). The named
presets (:data:`PRESETS`) are specs too, kept here because the parser reads a
preset name first; :mod:`keras_cnnlab.augment.presets` turns one into a layer.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import re

import numpy as np

__all__ = [
    "AugmentSpec",
    "Preset",
    "PRESETS",
    "Factor",
    "FACTORS",
    "FLIP_MODES",
    "FILL_MODES",
    "TOKENS",
    "parse_augment_spec",
]

FLIP_MODES = ("horizontal", "vertical", "horizontal_and_vertical")
FILL_MODES = ("reflect", "constant", "nearest", "wrap")


@dataclasses.dataclass(frozen=True)
class Factor:
    """One magnitude of a spec: its keyword, token, valid range and meaning."""

    name: str
    token: str
    low: float
    high: float
    high_inclusive: bool
    layer: str
    meaning: str

    def contains(self, value: float) -> bool:
        return self.low <= value and (value <= self.high if self.high_inclusive else value < self.high)

    @property
    def interval(self) -> str:
        return f"[{self.low:g}, {self.high:g}{']' if self.high_inclusive else ')'}"


# In the order the pipeline applies them: geometry, then color, then erasing.
FACTORS: dict[str, Factor] = {
    f.name: f
    for f in (
        Factor("rotation", "rot", 0.0, 0.5, True, "RandomRotation",
               "fraction of a full turn: each image turns by up to +-factor*360 degrees"),
        Factor("zoom", "zoom", 0.0, 1.0, False, "RandomZoom",
               "zoom in or out by up to this fraction of the image size"),
        Factor("translation", "shift", 0.0, 1.0, True, "RandomTranslation",
               "shift by up to this fraction of the height and of the width (resampled)"),
        Factor("pad_crop", "padcrop", 0.0, 1.0, True, "RandomPadCrop",
               "pad by this fraction of each side, in whole pixels (at least 1), and crop "
               "back at a random offset: a whole-pixel shift"),
        Factor("contrast", "contrast", 0.0, 1.0, True, "RandomContrast",
               "scale each channel's deviation from its mean by a factor in [1 - c, 1 + c]"),
        Factor("brightness", "bright", 0.0, 1.0, True, "RandomBrightness",
               "add up to +-factor times the width of value_range"),
        Factor("erasing", "erase", 0.0, 1.0, True, "RandomErasing",
               "probability that a random rectangle (2% to 33% of the area) is erased"),
    )
}

_FLIP_TOKENS = {"flip": "horizontal", "vflip": "vertical", "hvflip": "horizontal_and_vertical"}
_FILL_TOKENS = {f"fill{mode}": mode for mode in FILL_MODES}
_TOKEN_TO_FACTOR = {f.token: f.name for f in FACTORS.values()}

#: Every token the string form understands, with what it means.
TOKENS: dict[str, str] = {
    "flip": "random horizontal flip (RandomFlip('horizontal'))",
    "vflip": "random vertical flip",
    "hvflip": "random horizontal and vertical flips",
    **{f"{f.token}<x>": f"{f.name} {f.interval}: {f.meaning}" for f in FACTORS.values()},
    **{token: f"fill_mode={mode!r} for pixels that geometric transforms uncover"
       for token, mode in _FILL_TOKENS.items()},
}

_TOKEN_RE = re.compile(r"([a-z]+)(\d+(?:\.\d*)?|\.\d+)?")


def _format_number(value: float) -> str:
    # Shortest digits that read back to the same float, never in exponent form.
    return np.format_float_positional(value, trim="-")


def _check_factor(name: str, value) -> float:
    factor = FACTORS[name]
    if value is None or value is False:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected a number in {factor.interval} "
            f"({factor.meaning}). Received {name}={value!r}."
        )
    if not factor.contains(float(value)):
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected a number in {factor.interval} "
            f"({factor.meaning}). Received {name}={value!r}."
        )
    return float(value)


def _check_flip(value) -> str | None:
    if value is None or value is False:
        return None
    if value is True:
        return "horizontal"
    if value not in FLIP_MODES:
        raise ValueError(
            f"Invalid value for argument `flip`. Expected one of {FLIP_MODES}, True "
            f"(horizontal) or None/False (no flip). Received flip={value!r}."
        )
    return value


@dataclasses.dataclass(frozen=True)
class AugmentSpec:
    """The transforms of an augmentation and their factors (0 or ``None`` = off).

    Args:
        flip: ``"horizontal"``, ``"vertical"``, ``"horizontal_and_vertical"`` or
            ``None``. ``True`` means ``"horizontal"``.
        rotation: fraction of a full turn, in [0, 0.5]; 0.1 turns by up to +-36 degrees.
        zoom: zoom in or out by up to this fraction, in [0, 1).
        translation: shift by up to this fraction of height and width, in [0, 1],
            resampled (bilinear): fractional shifts blur small images.
        pad_crop: pad by this fraction of each side and crop back at a random
            offset, in [0, 1]: a shift by whole pixels, ``round(pad_crop * side)``
            at most (at least 1), so 0.125 moves an 8x8 digit by up to 1 pixel and
            a 32x32 image by up to 4 (CIFAR's classic pad-4-crop).
        contrast: contrast factor drawn from [1 - c, 1 + c], c in [0, 1].
        brightness: shift by up to +-b times the width of ``value_range``, in [0, 1].
        erasing: probability of erasing a random rectangle, in [0, 1].
        fill_mode: how geometric transforms fill uncovered pixels: ``"reflect"``,
            ``"constant"`` (the low end of ``value_range``), ``"nearest"`` or ``"wrap"``.

    Example:

    ```python
    spec = AugmentSpec(flip="horizontal", rotation=0.1, zoom=0.1, contrast=0.2)
    spec.to_string()                 # 'flip-rot0.1-zoom0.1-contrast0.2'
    spec.scaled(0.5).to_string()     # 'flip-rot0.05-zoom0.05-contrast0.1'
    ```
    """

    flip: str | None = None
    rotation: float = 0.0
    zoom: float = 0.0
    translation: float = 0.0
    pad_crop: float = 0.0
    contrast: float = 0.0
    brightness: float = 0.0
    erasing: float = 0.0
    fill_mode: str = "reflect"

    def __post_init__(self):
        object.__setattr__(self, "flip", _check_flip(self.flip))
        for name in FACTORS:
            object.__setattr__(self, name, _check_factor(name, getattr(self, name)))
        if self.fill_mode not in FILL_MODES:
            raise ValueError(
                f"Invalid value for argument `fill_mode`. Expected one of {FILL_MODES}. "
                f"Received fill_mode={self.fill_mode!r}."
            )

    # -- reading -------------------------------------------------------------------

    @property
    def factors(self) -> dict:
        """The transforms that are on, in the order they are applied: ``{name: value}``."""
        out = {"flip": self.flip} if self.flip else {}
        out.update({name: getattr(self, name) for name in FACTORS if getattr(self, name) > 0})
        return out

    @property
    def is_identity(self) -> bool:
        """Whether the spec changes nothing."""
        return not self.factors

    @property
    def uses_value_range(self) -> bool:
        """Whether ``value_range`` matters: contrast, brightness and erasing clip to
        it, and a constant fill uses its low end."""
        geometric = self.rotation or self.zoom or self.translation or self.pad_crop
        return bool(
            self.contrast or self.brightness or self.erasing
            or (geometric and self.fill_mode == "constant")
        )

    def to_string(self) -> str:
        """The canonical compact form, which :func:`parse_augment_spec` reads back."""
        tokens = []
        if self.flip:
            tokens.append({v: k for k, v in _FLIP_TOKENS.items()}[self.flip])
        for name, factor in FACTORS.items():
            value = getattr(self, name)
            if value > 0:
                tokens.append(f"{factor.token}{_format_number(value)}")
        if tokens and self.fill_mode != "reflect":
            tokens.append(f"fill{self.fill_mode}")
        return "-".join(tokens) or "none"

    def __str__(self) -> str:
        return self.to_string()

    def describe(self) -> list[str]:
        """One line per active transform, naming the Keras layer and its argument."""
        lines = []
        if self.flip:
            lines.append(f"RandomFlip({self.flip!r})")
        for name, factor in FACTORS.items():
            value = getattr(self, name)
            if value > 0:
                lines.append(f"{factor.layer}({_format_number(value)})")
        return lines

    # -- deriving ------------------------------------------------------------------

    def replace(self, **overrides) -> AugmentSpec:
        """A copy with some factors changed; ``None`` or 0 turns a transform off."""
        valid = ("flip", *FACTORS, "fill_mode")
        unknown = sorted(set(overrides) - set(valid))
        if unknown:
            raise ValueError(
                f"Unknown augmentation factor(s) {unknown}. Valid names: {', '.join(valid)}."
            )
        return dataclasses.replace(self, **overrides)

    def scaled(self, strength: float) -> AugmentSpec:
        """Every factor times ``strength`` (0 = identity, 1 = unchanged).

        A flip has no magnitude: it stays on for any ``strength > 0``.
        """
        if (
            isinstance(strength, bool)
            or not isinstance(strength, numbers.Real)
            or math.isnan(strength)
            or strength < 0
        ):
            raise ValueError(
                "Invalid value for argument `strength`. Expected a number >= 0 (0 = no "
                f"augmentation, 1 = the preset as defined). Received strength={strength!r}."
            )
        strength = float(strength)
        if strength == 1.0:
            return self
        changes = {"flip": self.flip if strength > 0 else None}
        for name in FACTORS:
            changes[name] = round(getattr(self, name) * strength, 6)
        outside = [name for name, factor in FACTORS.items() if not factor.contains(changes[name])]
        if outside:
            # The largest strength every factor allows: the tightest of their limits.
            limits = {name: FACTORS[name].high / getattr(self, name) for name in FACTORS if getattr(self, name)}
            tightest = min(limits, key=lambda name: (limits[name], FACTORS[name].high_inclusive))
            bound = "at most" if FACTORS[tightest].high_inclusive else "below"
            name = outside[0]
            raise ValueError(
                f"Invalid value for argument `strength`: strength={strength:g} scales "
                f"`{name}` from {getattr(self, name):g} to {changes[name]:g}, outside its valid "
                f"range {FACTORS[name].interval}. Use a strength {bound} {limits[tightest]:.3g} "
                f"(where `{tightest}` reaches {FACTORS[tightest].high:g}), or lower `{name}`."
            )
        return dataclasses.replace(self, **changes)

    # -- serialization -------------------------------------------------------------

    def get_config(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_config(cls, config: dict) -> AugmentSpec:
        return cls(**config)


@dataclasses.dataclass(frozen=True)
class Preset:
    """A named :class:`AugmentSpec` with a one-line description."""

    name: str
    description: str
    spec: AugmentSpec

    @property
    def factors(self) -> dict:
        """The active transforms and their factors, ``{name: value}``."""
        return self.spec.factors

    def to_string(self) -> str:
        """The preset's transforms in the compact string form."""
        return self.spec.to_string()


#: name -> :class:`Preset`. ``strength`` scales every factor of a preset.
PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset("none", "No augmentation: the baseline, and a tuner's 'off' choice.", AugmentSpec()),
        Preset(
            "light",
            "Small geometric changes (horizontal flip, rotation up to 18 degrees, zoom 5%): "
            "for natural images whose mirror image is the same class (faces, objects, "
            "clothes); on lfw_subset's faces it beats no augmentation.",
            AugmentSpec(flip="horizontal", rotation=0.05, zoom=0.05),
        ),
        Preset(
            "standard",
            "The classic four (horizontal flip, rotation up to 36 degrees, zoom 10%, "
            "contrast 20%), as in the Keras image classification tutorials: for natural "
            "images with mirror symmetry (photos of objects, faces); on lfw_subset it "
            "beats no augmentation.",
            AugmentSpec(flip="horizontal", rotation=0.1, zoom=0.1, contrast=0.2),
        ),
        Preset(
            "strong",
            "Standard, larger, plus shifts, brightness and random erasing: for long "
            "training runs on natural images that overfit.",
            AugmentSpec(
                flip="horizontal",
                rotation=0.15,
                zoom=0.15,
                translation=0.1,
                contrast=0.3,
                brightness=0.2,
                erasing=0.25,
            ),
        ),
        Preset(
            "digits",
            "For digits and characters, down to 8x8: a whole-pixel shift (pad 12.5% of "
            "each side, at least 1 pixel, and crop back), uncovered pixels background; no "
            "flip (a mirrored 2 is no digit) and no resampling, which blurs tiny glyphs.",
            AugmentSpec(pad_crop=0.125, fill_mode="constant"),
        ),
    )
}


def _valid_tokens_message() -> str:
    lines = [f"  {token:<12} {meaning}" for token, meaning in TOKENS.items()]
    return (
        "Valid tokens (joined with '-', e.g. 'flip-rot0.1-zoom0.1-contrast0.2'):\n"
        + "\n".join(lines)
        + f"\nA preset name may come first: {', '.join(PRESETS)} (e.g. 'digits-rot0.15')."
    )


def parse_augment_spec(text: str) -> AugmentSpec:
    """Read the compact string form of an augmentation.

    Tokens are joined with ``-``. ``flip``, ``vflip`` and ``hvflip`` take no number;
    ``rot``, ``zoom``, ``shift``, ``padcrop``, ``contrast``, ``bright`` and ``erase``
    take their factor glued on (``rot0.1``, ``padcrop0.125``); ``fillconstant``, ``fillreflect``,
    ``fillnearest`` and ``fillwrap`` set the fill mode. A preset name may come
    first, and the tokens after it change its factors. ``"none"`` is the identity.

    Args:
        text: e.g. ``"flip-rot0.1-zoom0.1-contrast0.2"`` or ``"digits-rot0.15"``.

    Returns:
        An :class:`AugmentSpec`.

    Raises:
        ValueError: for an unknown or repeated token or a factor out of range; the
            message lists the valid tokens.

    Example:

    ```python
    parse_augment_spec("flip-rot0.1-zoom0.1-contrast0.2").rotation   # 0.1
    parse_augment_spec("standard-zoom0") == parse_augment_spec("flip-rot0.1-contrast0.2")
    ```
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(
            "Invalid value for argument `text`. Expected a spec string such as "
            f"'flip-rot0.1-zoom0.1-contrast0.2'. Received text={text!r}."
        )
    tokens = text.strip().lower().split("-")
    base = AugmentSpec()
    if tokens[0] in PRESETS:
        base = PRESETS[tokens[0]].spec
        tokens = tokens[1:]
    changes: dict = {}
    seen: dict[str, str] = {}
    for token in tokens:
        match = _TOKEN_RE.fullmatch(token)
        name, number = (match.group(1), match.group(2)) if match else (token, None)
        if not match or (
            name not in _FLIP_TOKENS and name not in _FILL_TOKENS and name not in _TOKEN_TO_FACTOR
        ):
            hint = (
                f" A preset name can only come first ({token!r} is a preset)."
                if token in PRESETS
                else ""
            )
            raise ValueError(
                f"Unknown token {token!r} in augmentation spec {text!r}.{hint}\n"
                + _valid_tokens_message()
            )
        if name in _FLIP_TOKENS:
            key, value = "flip", _FLIP_TOKENS[name]
            if number is not None:
                raise ValueError(
                    f"Token {token!r} in augmentation spec {text!r}: {name!r} takes no "
                    f"number (a flip has no magnitude). Write {name!r}."
                )
        elif name in _FILL_TOKENS:
            key, value = "fill_mode", _FILL_TOKENS[name]
            if number is not None:
                raise ValueError(
                    f"Token {token!r} in augmentation spec {text!r}: {name!r} takes no number."
                )
        else:
            key = _TOKEN_TO_FACTOR[name]
            if number is None:
                raise ValueError(
                    f"Token {token!r} in augmentation spec {text!r} needs a factor glued "
                    f"on, e.g. '{name}0.1' ({key} in {FACTORS[key].interval})."
                )
            value = float(number)
            if not FACTORS[key].contains(value):
                raise ValueError(
                    f"Token {token!r} in augmentation spec {text!r}: `{key}` must be in "
                    f"{FACTORS[key].interval} ({FACTORS[key].meaning}). Received {key}={value:g}."
                )
        if key in seen:
            raise ValueError(
                f"Augmentation spec {text!r} sets `{key}` twice ({seen[key]!r} and {token!r})."
            )
        seen[key] = token
        changes[key] = value
    return base.replace(**changes)
