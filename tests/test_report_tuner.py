"""Both callbacks inside a KerasTuner search: deep-copied per trial, trial headers, gap objective."""

import copy
import io
import math
import re

import keras
import pytest
from rich.console import Console

from keras_cnnlab import OverfittingGapMonitor, RichTrainingReport
from keras_cnnlab.data import load_dataset

keras_tuner = pytest.importorskip("keras_tuner")


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    # as conftest's, without the full gc.collect() (about 1.5 s per test with TensorFlow loaded)
    keras.utils.set_random_seed(0)
    yield
    keras.backend.clear_session(free_memory=False)


def _build(hp):
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Flatten(),
        keras.layers.Dense(hp.Choice("units", [8, 16]), activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.mark.multibackend
def test_search_with_report_and_monitor(tmp_path):
    data = load_dataset("digits")
    buffer = io.StringIO()
    report = RichTrainingReport(Console(file=buffer, width=120))
    monitor = OverfittingGapMonitor(verbose=0)
    tuner = keras_tuner.RandomSearch(
        _build,
        # the tuner reads the gap the monitor writes into the epoch logs
        objective=keras_tuner.Objective("gap_loss", direction="min"),
        max_trials=2,
        seed=1,
        directory=tmp_path,
        project_name="gap",
    )
    tuner.search(data.x_train[:256], data.y_train[:256], validation_data=(data.x_val, data.y_val),
                 epochs=1, batch_size=32, callbacks=[report, monitor], verbose=0)
    text = buffer.getvalue()
    headers = re.findall(r"Trial #(\d+): units=(\d+)", text)  # numbered as KerasTuner does
    trials = tuner.oracle.trials
    assert len(headers) == len(trials) == 2
    assert sorted(headers) == sorted(
        (str(int(t.trial_id) + 1), str(t.hyperparameters.get("units"))) for t in trials.values()
    )
    assert text.count("Best epoch") == 2 and text.count("Gap monitor") == 2
    scores = [t.score for t in trials.values()]
    assert all(math.isfinite(s) for s in scores)
    # the copies did the work; the originals stay unused and reusable
    assert report.records == [] and report.model is None and monitor.gaps == {}


def test_the_best_epoch_is_the_one_the_search_objective_prefers(tmp_path, monkeypatch):
    # The report marked the best epoch by val_loss while the tuner ranked by val_accuracy.
    # Nobody tells the report its trial here: it takes it from KerasTuner's callback, not the call stack.
    from keras_cnnlab import _internals

    monkeypatch.setattr(_internals, "calling_search", lambda *a, **k: pytest.fail("read the call stack"))
    data = load_dataset("digits")
    buffer = io.StringIO()
    tuner = keras_tuner.RandomSearch(_build, objective="val_accuracy", max_trials=1, seed=1,
                                     directory=tmp_path, project_name="objective")
    tuner.search(data.x_train[:256], data.y_train[:256], validation_data=(data.x_val, data.y_val),
                 epochs=3, batch_size=32, callbacks=[RichTrainingReport(Console(file=buffer, width=120))],
                 verbose=0)
    text = buffer.getvalue()
    best = re.search(r"Best epoch +(\d) of 3: (\w+) ([\d.]+)", text)
    assert best and best.group(2) == "val_accuracy" and "* best val_accuracy so far" in text
    assert "Trial #1: units=" in text
    trial = next(iter(tuner.oracle.trials.values()))
    assert float(best.group(3)) == pytest.approx(trial.score, abs=1e-4)  # the maximum, as the tuner's


def test_a_report_told_its_trial_needs_no_call_stack(monkeypatch):
    # set_trial is the public way in; with it the report reads no frame for the trial.
    from keras_cnnlab import _internals

    monkeypatch.setattr(_internals, "calling_search", lambda *a, **k: pytest.fail("read the call stack"))
    data = load_dataset("digits", limit=64)
    hp = keras_tuner.HyperParameters()
    hp.Choice("units", [16])
    trial = keras_tuner.engine.trial.Trial(hp, trial_id="4")
    buffer = io.StringIO()
    report = RichTrainingReport(Console(file=buffer, width=120))
    report.set_trial(trial)
    assert copy.deepcopy(report)._search is None  # KerasTuner's copy for another trial starts untold
    _build(hp).fit(data.x_train, data.y_train, epochs=1, batch_size=32, callbacks=[report], verbose=0)
    assert "Trial #5: units=16" in buffer.getvalue()
    report.set_trial(None)
    assert report._search is None
    with pytest.raises(ValueError, match="`trial`"):
        report.set_trial("trial 1")
    with pytest.raises(ValueError, match="`tuner`"):
        report.set_trial(trial, tuner=object())


def test_cnn_hypermodel_tells_the_reports_their_trial(tmp_path, monkeypatch):
    # CNNHyperModel.fit takes the trial from KerasTuner's callback and tells every report.
    from keras_cnnlab import _internals
    from keras_cnnlab.tuning import CNNHyperModel, SearchSpace

    monkeypatch.setattr(_internals, "calling_search", lambda *a, **k: (None, None))
    data = load_dataset("digits", limit=96)
    buffer = io.StringIO()
    space = SearchSpace(num_blocks=1, filters=[4], kernel_size=3, convs=1, downsample="max", downsample_factor=2,
                        head_units=0, batch_size=32)
    hypermodel = CNNHyperModel(data.input_shape, data.num_classes, search_space=space, freeze_gc=False)
    tuner = keras_tuner.RandomSearch(hypermodel, objective="val_accuracy", max_trials=1, seed=1,
                                     directory=tmp_path, project_name="told")
    tuner.search(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val), epochs=1,
                 callbacks=[RichTrainingReport(Console(file=buffer, width=200))], verbose=0)
    text = buffer.getvalue()
    assert re.search(r"Trial #1: ", text), text
    assert re.search(r"Best epoch +1 of 1: val_accuracy ", text), text  # the told tuner's objective
