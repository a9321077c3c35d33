"""load_model: ``keras.saving.load_model`` for models that hold keras_cnnlab's layers and losses.

Keras finds a custom class in a .keras file only once the module that registers
it has been imported. ``import keras_cnnlab`` loads its names on first use, so
in a fresh process ``keras.saving.load_model`` cannot yet locate ``ConvBlock``,
the augmentation layers or the label-smoothing loss; :func:`load_model`
imports those modules first.
"""

from __future__ import annotations

import importlib

__all__ = ["load_model", "register_objects"]

# The modules whose import registers keras_cnnlab's serializable classes.
_REGISTERING = ("keras_cnnlab.blocks", "keras_cnnlab.losses", "keras_cnnlab.augment")


def register_objects() -> None:
    """Import every keras_cnnlab module that registers a Keras serializable class.

    Call it before ``keras.saving.load_model`` (or ``keras.models.clone_model``,
    ``from_config``) in a process that has not used those classes yet.
    """
    for name in _REGISTERING:
        importlib.import_module(name)


def load_model(path, **kwargs):
    """Load a .keras file saved from a model with keras_cnnlab's parts.

    The same as ``keras.saving.load_model(path, **kwargs)`` (``compile=False``,
    ``safe_mode`` and ``custom_objects`` included), after :func:`register_objects`.

    Example:

    ```python
    import keras_cnnlab

    model = keras_cnnlab.load_model("cnnlab-out/model.keras")
    ```
    """
    import keras

    register_objects()
    return keras.saving.load_model(path, **kwargs)
