"""AugmentationPipeline: the layer that applies an :class:`AugmentSpec`."""

from __future__ import annotations

import keras
import numpy as np

from keras_cnnlab._internals import DataLayer
from keras_cnnlab._validation import check_data_format
from keras_cnnlab.augment import _checks
from keras_cnnlab.augment.random_erasing import RandomErasing
from keras_cnnlab.augment.random_pad_crop import RandomPadCrop
from keras_cnnlab.augment.spec import AugmentSpec, parse_augment_spec

__all__ = ["AugmentationPipeline"]

# Keras marks these layers `supports_jit = False` because TensorFlow's XLA has no
# kernel for ImageProjectiveTransformV3. Under JAX the same layers compile fine,
# and leaving the flag makes `jit_compile="auto"` run the whole train step
# un-jitted (op by op, many times slower).
_GEOMETRIC = ("rotation", "zoom", "translation")


@keras.saving.register_keras_serializable(package="keras_cnnlab")
class AugmentationPipeline(DataLayer):
    """Random image transforms, active in training only, described by an :class:`AugmentSpec`.

    Put it first in a model, or map it over a ``tf.data`` pipeline (on every
    backend). At inference (``training=False``) it returns its input unchanged.
    Its config stores the resolved factors, so a saved model reloads the same
    augmentation whatever the presets become.

    Usually made by :func:`~keras_cnnlab.augment.augmentation_preset`.

    Args:
        spec: an :class:`AugmentSpec`, its string form (``"flip-rot0.1"``) or its
            config dict.
        value_range: ``(low, high)`` of the pixel values, ``(0, 1)`` for images
            scaled to [0, 1], ``(0, 255)`` for raw pixels. Contrast and brightness
            clip to it, erasing fills within it, and ``fill_mode="constant"`` fills
            with ``low``.
        seed: integer seed; each transform gets its own seed derived from it.
            ``None`` draws one (reproducible after ``keras.utils.set_random_seed``).
        data_format: ``"channels_last"`` or ``"channels_first"``; defaults to
            ``keras.config.image_data_format()``.
        **kwargs: base Layer arguments (``name``, ``dtype``).

    Example:

    ```python
    augment = AugmentationPipeline("flip-rot0.1-zoom0.1-contrast0.2", seed=0)
    model = keras.Sequential([keras.Input((32, 32, 3)), augment, ...])
    ds = ds.batch(32).map(lambda x, y: (augment(x), y))   # or in tf.data
    ```
    """

    def __init__(self, spec="none", *, value_range=(0, 1), seed=None, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(spec, str):
            spec = parse_augment_spec(spec)
        elif isinstance(spec, dict):
            spec = AugmentSpec.from_config(spec)
        elif not isinstance(spec, AugmentSpec):
            raise ValueError(
                "Invalid value for argument `spec`. Expected an AugmentSpec, a spec string "
                f"such as 'flip-rot0.1' or a config dict. Received spec={spec!r}."
            )
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise ValueError(
                f"Invalid value for argument `seed`. Expected an integer or None. Received seed={seed!r}."
            )
        self.spec = spec
        self.value_range = _checks.standardize_value_range(value_range)
        self.seed = None if seed is None else int(seed)
        self.data_format = check_data_format(data_format)
        # Checked once, on the first batch whose values can be read.
        self._range_checked = not spec.uses_value_range
        self.augment_layers = self._make_layers()

    def _make_layers(self) -> list:
        spec, low = self.spec, self.value_range[0]
        names = list(spec.factors)
        # Independent, well-spread seeds for the transforms, all fixed by `seed`.
        if self.seed is None:
            seeds = [None] * len(names)
        else:
            state = np.random.SeedSequence(self.seed).generate_state(len(names))
            seeds = [int(s) % (2**31 - 1) for s in state]  # int32 on every backend
        common = dict(data_format=self.data_format, dtype=self.dtype_policy)
        geometric = dict(fill_mode=spec.fill_mode, fill_value=low, **common)
        layers = []
        for name, seed in zip(names, seeds):
            value = getattr(spec, name)
            if name == "flip":
                layer = keras.layers.RandomFlip(value, seed=seed, name="flip", **common)
            elif name == "rotation":
                layer = keras.layers.RandomRotation(value, seed=seed, name=name, **geometric)
            elif name == "zoom":
                layer = keras.layers.RandomZoom(value, seed=seed, name=name, **geometric)
            elif name == "translation":
                layer = keras.layers.RandomTranslation(
                    value, value, seed=seed, name=name, **geometric
                )
            elif name == "pad_crop":
                layer = RandomPadCrop(
                    value, fill_mode=spec.fill_mode, fill_value=low, seed=seed, name=name, **common
                )
            elif name == "contrast":
                layer = keras.layers.RandomContrast(
                    value, value_range=self.value_range, seed=seed, name=name, **common
                )
            elif name == "brightness":
                layer = keras.layers.RandomBrightness(
                    value, value_range=self.value_range, seed=seed, name=name, **common
                )
            elif name == "erasing":
                layer = RandomErasing(
                    value, value_range=self.value_range, seed=seed, name=name, **common
                )
            else:  # pragma: no cover - FACTORS and this switch go together
                raise AssertionError(name)
            if name in _GEOMETRIC and keras.backend.backend() == "jax":
                layer.supports_jit = True
            layers.append(layer)
        return layers

    def build(self, input_shape):
        # Inside tf.data under another backend, Keras passes no shape.
        if input_shape is not None and len(input_shape) not in (3, 4):
            raise ValueError(
                f"{type(self).__name__} {self.name!r} expects a batch of images "
                "(batch, height, width, channels) or one image (height, width, channels); "
                f"received input of shape {tuple(input_shape)}. Grayscale images need a "
                "channel axis: `x = x[..., None]`."
            )
        self.built = True

    def call(self, inputs, training=True):
        if not self._range_checked:
            self._range_checked = _checks.check_value_range(
                inputs, self.value_range, error=False, where=f"{type(self).__name__} {self.name!r}"
            )
        x = self.backend.cast(inputs, self.compute_dtype)
        if not training:
            return x
        for layer in self.augment_layers:
            x = layer(x, training=True)
        return x

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, spec={self.spec.to_string()!r}>"

    def get_config(self):
        config = super().get_config()
        config.update(
            spec=self.spec.get_config(),
            value_range=list(self.value_range),
            seed=self.seed,
            data_format=self.data_format,
        )
        return config

