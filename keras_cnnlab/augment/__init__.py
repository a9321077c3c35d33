"""Image augmentation: named presets, a compact string form, MixUp/CutMix, previews.

- :func:`augmentation_preset` turns a preset name (:data:`PRESETS`), a spec string
  or an :class:`AugmentSpec` into an :class:`AugmentationPipeline` layer that sits
  first in a model or maps over ``tf.data``, on every backend.
- :func:`parse_augment_spec` reads the string form (``"flip-rot0.1-zoom0.1"``).
- :class:`MixUp` and :class:`CutMix` mix batches and their labels (one-hot
  labels, ``categorical_crossentropy``).
- :func:`preview_augmentation` saves a grid of augmented copies.
"""

from keras_cnnlab.augment._checks import DATA_HINTS, FLIP_SENSITIVE, FlipWarning
from keras_cnnlab.augment.cut_mix import CutMix
from keras_cnnlab.augment.mix_up import MixUp
from keras_cnnlab.augment.pipeline import AugmentationPipeline
from keras_cnnlab.augment.presets import (
    PRESET_FOR_DATA,
    PRESETS,
    Preset,
    augmentation_preset,
    preset_for,
)
from keras_cnnlab.augment.preview import augmented_copies, preview_augmentation
from keras_cnnlab.augment.random_erasing import RandomErasing
from keras_cnnlab.augment.random_pad_crop import RandomPadCrop
from keras_cnnlab.augment.spec import FACTORS, TOKENS, AugmentSpec, parse_augment_spec

__all__ = [
    "AugmentSpec",
    "AugmentationPipeline",
    "CutMix",
    "DATA_HINTS",
    "FACTORS",
    "FLIP_SENSITIVE",
    "FlipWarning",
    "MixUp",
    "PRESET_FOR_DATA",
    "PRESETS",
    "Preset",
    "RandomErasing",
    "RandomPadCrop",
    "TOKENS",
    "augmentation_preset",
    "augmented_copies",
    "parse_augment_spec",
    "preset_for",
    "preview_augmentation",
]
