"""keras_cnnlab: reusable, tested parts for CNN image classification with Keras 3.

Public names load on first use, so ``import keras_cnnlab`` stays light: the
shape arithmetic imports no backend, and rich, keras_tuner, matplotlib and
scikit-learn are only imported by the parts that need them.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    # blocks
    "ConvBlock": "keras_cnnlab.blocks",
    "ClassifierHead": "keras_cnnlab.blocks",
    # models
    "ARCHITECTURES": "keras_cnnlab.models",
    "build_cnn": "keras_cnnlab.models",
    "build_architecture": "keras_cnnlab.models",
    "compile_for": "keras_cnnlab.compiling",
    "loss_for_labels": "keras_cnnlab.compiling",
    "check_images": "keras_cnnlab.compiling",
    "load_model": "keras_cnnlab.saving",
    # training recipe
    "Recipe": "keras_cnnlab.recipe",
    "default_recipe": "keras_cnnlab.recipe",
    # data
    "Dataset": "keras_cnnlab.data",
    "load_dataset": "keras_cnnlab.data",
    "prepare_images": "keras_cnnlab.data",
    # shapes
    "ShapeError": "keras_cnnlab.shapes",
    "SpatialOp": "keras_cnnlab.shapes",
    # augmentation
    "augmentation_preset": "keras_cnnlab.augment",
    "parse_augment_spec": "keras_cnnlab.augment",
    "preview_augmentation": "keras_cnnlab.augment",
    "MixUp": "keras_cnnlab.augment",
    "CutMix": "keras_cnnlab.augment",
    # shape trace
    "trace_shapes": "keras_cnnlab.trace",
    "print_shape_trace": "keras_cnnlab.trace",
    "ShapeTrace": "keras_cnnlab.trace",
    # callbacks
    "ShapeTraceCallback": "keras_cnnlab.callbacks",
    "RichTrainingReport": "keras_cnnlab.callbacks",
    "OverfittingGapMonitor": "keras_cnnlab.callbacks",
    "plot_history": "keras_cnnlab.plots",
    # tuning
    "CNNHyperModel": "keras_cnnlab.tuning",
    "SearchSpace": "keras_cnnlab.tuning",
    "tunable_conv_block": "keras_cnnlab.tuning",
    "results_table": "keras_cnnlab.tuning",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'keras_cnnlab' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
