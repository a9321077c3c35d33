"""The Keras, KerasTuner and TensorFlow internals keras_cnnlab reads, checked against the installed ones.

Everything keras_cnnlab takes from outside the public APIs goes through
keras_cnnlab/_internals.py, and degrades quietly at run time when an internal is
gone. These tests are where such a change is meant to be noticed: each fails
with a message naming the library version and the internal to update there.
"""

import importlib
import sys

import keras
import numpy as np
import pytest

from keras_cnnlab import _internals

KERAS = f"Keras {keras.__version__}"


def _keras_tuner():
    keras_tuner = pytest.importorskip("keras_tuner")
    return keras_tuner, f"KerasTuner {keras_tuner.__version__}"


# -- keras.src imports ------------------------------------------------------------------


@pytest.mark.parametrize(
    "module, name",
    [
        ("keras.src.layers.preprocessing.image_preprocessing.base_image_preprocessing_layer",
         "BaseImagePreprocessingLayer"),
        ("keras.src.layers.preprocessing.data_layer", "DataLayer"),
        ("keras.src.backend", "compute_output_spec"),
    ],
)
def test_the_keras_src_paths_still_import(module, name):
    try:
        value = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as error:
        pytest.fail(f"{KERAS}: `from {module} import {name}` fails ({error}); "
                    "update keras_cnnlab/_internals.py")
    assert getattr(_internals, name) is value, f"{KERAS}: _internals.{name} is not {module}.{name}"


def test_the_keras_src_base_classes_are_still_those_of_keras_own_augmentation_layers():
    base, data_layer = _internals.BaseImagePreprocessingLayer, _internals.DataLayer
    assert issubclass(keras.layers.RandomFlip, base), (
        f"{KERAS}: keras.layers.RandomFlip no longer subclasses "
        "keras.src...BaseImagePreprocessingLayer: the augment layers subclass the wrong base"
    )
    assert issubclass(keras.layers.RandomFlip, data_layer) and issubclass(data_layer, keras.layers.Layer), (
        f"{KERAS}: keras.src.layers.preprocessing.data_layer.DataLayer is no longer the base of "
        "Keras's preprocessing layers (AugmentationPipeline subclasses it)"
    )


@pytest.mark.multibackend
def test_compute_output_spec_still_runs_a_function_symbolically():
    spec = _internals.compute_output_spec(lambda x: keras.ops.concatenate([x, x], axis=-1),
                                          keras.KerasTensor((2, 3)))
    assert isinstance(spec, keras.KerasTensor) and tuple(spec.shape) == (2, 6), (
        f"{KERAS}: keras.src.backend.compute_output_spec(fn, KerasTensor) returned {spec!r}, "
        "not the KerasTensor of fn's output (the tracer runs layers with it)"
    )


# -- a running fit ----------------------------------------------------------------------------


class _Probe(keras.callbacks.Callback):
    """Reads, in on_train_begin, what RichTrainingReport reads there."""

    def on_train_begin(self, logs=None):
        self.frame = _internals.fit_frame(self.model)
        self.adapter = _internals.fit_data_adapter(self.frame)
        self.geometry = _internals.fit_batch_geometry(self.frame)
        self.frame = self.frame is not None  # hold no frame past fit


def _fit(x, **kwargs):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    probe = _Probe()
    model.fit(x, callbacks=[probe], epochs=1, verbose=0, **kwargs)
    return probe


@pytest.mark.multibackend
def test_fit_still_holds_its_data_in_a_local_epoch_iterator():
    x, y = np.zeros((10, 2), "float32"), np.zeros((10, 1), "float32")
    probe = _fit(x, y=y, batch_size=4)
    assert probe.frame, (
        f"{KERAS}, {keras.backend.backend()} backend: no frame of a function named 'fit' whose self "
        f"is the model within {_internals.FIT_FRAMES} frames of a callback's on_train_begin "
        "(keras_cnnlab._internals.fit_frame)"
    )
    assert probe.adapter is not None, (
        f"{KERAS}: Model.fit has no local `epoch_iterator` with a `data_adapter` attribute any more "
        "(keras_cnnlab._internals.fit_data_adapter)"
    )
    missing = [a for a in ("batch_size", "num_batches", "has_partial_batch", "partial_batch_size")
               if not hasattr(probe.adapter, a)]
    assert not missing, f"{KERAS}: the data adapter {type(probe.adapter).__name__} lacks {missing}"
    assert probe.geometry == (4, 3, 2), (
        f"{KERAS}: 10 samples at batch_size=4 read as (batch size, batches, last batch) "
        f"{probe.geometry}, not (4, 3, 2) (keras_cnnlab._internals.fit_batch_geometry)"
    )


@pytest.mark.multibackend
def test_a_tf_data_pipeline_still_tells_its_batch_op():
    tf = pytest.importorskip("tensorflow")
    dataset = tf.data.Dataset.from_tensor_slices((np.zeros((10, 2), "float32"), np.zeros((10, 1), "float32")))
    probe = _fit(dataset.batch(4).prefetch(1), shuffle=False)
    assert probe.adapter is not None and hasattr(probe.adapter, "_dataset"), (
        f"{KERAS}: the tf.data adapter of fit has no `_dataset` attribute any more "
        "(keras_cnnlab._internals.fit_batch_geometry)"
    )
    assert probe.geometry == (4, 3, 2), (
        f"TensorFlow {tf.__version__}, {KERAS}: a .batch(4) pipeline of 10 elements read as {probe.geometry}, "
        "not (4, 3, 2): the batch dataset's _batch_size, _drop_remainder or _input_dataset changed "
        "(keras_cnnlab._internals.tf_data_batching)"
    )
    batched = tf.data.Dataset.range(10).batch(4, drop_remainder=True)
    for attribute in ("_batch_size", "_drop_remainder", "_input_dataset"):
        assert hasattr(batched, attribute), f"TensorFlow {tf.__version__}: a batch dataset has no {attribute}"
    assert _internals.tf_data_batching(batched.map(lambda b: b)) == (4, None)


def test_keras_callback_list_still_lives_in_keras_src_callbacks():
    # hook_caller_frame skips the frames of these modules to find the loop calling the hooks
    module = keras.callbacks.CallbackList.__module__
    assert module.startswith(_internals.CALLBACK_MODULES), (
        f"{KERAS}: keras.callbacks.CallbackList is defined in {module}, which "
        f"keras_cnnlab._internals.CALLBACK_MODULES {_internals.CALLBACK_MODULES} does not skip"
    )

    # a hook defined in a keras_cnnlab.callbacks module, as RichTrainingReport's are
    namespace = {"__name__": "keras_cnnlab.callbacks._probe", "_internals": _internals}
    exec("def on_train_begin(self, logs=None):\n    self.frame = _internals.hook_caller_frame()\n", namespace)
    probe = type("Probe", (keras.callbacks.Callback,), {"on_train_begin": namespace["on_train_begin"]})()
    keras.callbacks.CallbackList([probe]).on_train_begin()
    assert probe.frame is sys._getframe(), (
        f"{KERAS}: from a hook called through CallbackList, hook_caller_frame found "
        f"{probe.frame and probe.frame.f_code.co_name!r}, not the loop that called the hooks"
    )


# -- a KerasTuner search ---------------------------------------------------------------------


def test_keras_tuner_still_exports_its_tuner_and_trial_classes():
    keras_tuner, version = _keras_tuner()
    assert _internals._keras_tuner_classes() is not None, (
        f"{version}: keras_tuner.engine.base_tuner.BaseTuner or keras_tuner.engine.trial.Trial is gone"
    )
    base_tuner, trial = _internals._keras_tuner_classes()
    assert issubclass(keras_tuner.Tuner, base_tuner) and issubclass(keras_tuner.RandomSearch, base_tuner)
    status = keras_tuner.engine.trial.TrialStatus
    assert {status.COMPLETED, status.FAILED} == {"COMPLETED", "FAILED"}, f"{version}: TrialStatus changed"


@pytest.mark.multibackend
def test_a_search_still_hands_hypermodel_fit_its_tuner_and_trial(tmp_path, capsys):
    keras_tuner, version = _keras_tuner()
    seen = {}

    class Recorder(keras_tuner.HyperModel):
        def build(self, hp):
            seen["build"] = _internals.calling_search()
            model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(hp.Choice("units", [1]))])
            model.compile(optimizer="sgd", loss="mse")
            return model

        def fit(self, hp, model, *args, **kwargs):
            seen["callbacks"] = _internals.search_from_callbacks(kwargs.get("callbacks"))
            seen["stack"] = _internals.calling_search()
            return model.fit(*args, callbacks=[*kwargs.pop("callbacks"), FitSearch()], **kwargs)

    class FitSearch(keras.callbacks.Callback):  # as RichTrainingReport reads it when not told
        def on_train_begin(self, logs=None):
            seen["fit"] = _internals.fit_search(_internals.fit_frame(self.model))

    tuner = keras_tuner.RandomSearch(Recorder(), objective="loss", max_trials=1,
                                     directory=str(tmp_path), project_name="internals")
    x = np.zeros((8, 2), "float32")
    tuner.search(x, x[:, :1], epochs=1, verbose=1)
    (trial,) = tuner.oracle.trials.values()
    assert seen["callbacks"] == (tuner, trial), (
        f"{version}: Tuner.run_trial no longer passes HyperModel.fit a callback holding the tuner and "
        "the trial as `tuner` and `trial` (TunerCallback; keras_cnnlab._internals.search_from_callbacks)"
    )
    assert seen["fit"] == (tuner, trial), (
        f"{version}, {KERAS}: from a callback's on_train_begin, the `callbacks` local of fit (a "
        "CallbackList) no longer holds KerasTuner's callback with the tuner and the trial "
        "(keras_cnnlab._internals.fit_callbacks, fit_search)"
    )
    assert seen["stack"] == (tuner, trial), (
        f"{version}: from HyperModel.fit, no frame within {_internals.SEARCH_FRAMES} has the tuner as "
        f"`self` and the trial as `trial` (found {seen['stack']}; keras_cnnlab._internals.calling_search)"
    )
    assert seen["build"][0] is tuner, (
        f"{version}: from HyperModel.build, no frame within {_internals.SEARCH_FRAMES} has the tuner "
        "as `self` (keras_cnnlab._internals.calling_search)"
    )
    display = getattr(tuner.oracle, "_display", None)
    missing = [a for a in ("trial_number", "verbose", "col_width") if not hasattr(display, a)]
    assert display is not None and not missing, (
        f"{version}: the oracle's _display lacks {missing or '_display itself'} "
        "(keras_cnnlab._internals.tuner_display)"
    )
    assert _internals.tuner_display(tuner.oracle) == ({trial.trial_id: 1}, 1, display.col_width), (
        f"{version}: oracle._display no longer numbers trials as 'Running Trial #<n>' prints them"
    )
    assert "Running Trial #1" in capsys.readouterr().out


def test_the_readers_degrade_to_none_outside_fit_and_search():
    assert _internals.fit_frame(keras.Sequential()) is None
    assert _internals.fit_frame(None) is None
    assert _internals.fit_batch_geometry(None) == (None, None, None)
    assert _internals.search_from_callbacks([keras.callbacks.History()]) == (None, None)
    assert _internals.search_from_callbacks(None) == (None, None)
    assert _internals.calling_search() == (None, None)
    assert _internals.fit_callbacks(None) is None and _internals.fit_search(None) == (None, None)
    assert _internals.tuner_display(None) == ({}, 0, 18)
