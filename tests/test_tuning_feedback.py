"""What a search prints and raises: trial headers, clean logs, mistakes caught before training.

Tiny eager models on 160 digits, one epoch a trial (or none, where the search stops first).
"""

import io
import re

import keras
import keras_tuner as kt
import numpy as np
import pytest
from rich.console import Console

from keras_cnnlab import RichTrainingReport
from keras_cnnlab.data import load_dataset
from keras_cnnlab.tuning import CNNHyperModel, SearchSpace, gap_objective, results_table

TINY = dict(
    num_blocks=1, filters=[4, 8], kernel_size=3, convs=1, downsample=["max", "strided"], downsample_factor=2,
    head_units=0, batch_size=64,
)


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    # conftest's fixture without the full gc.collect() of clear_session
    keras.utils.set_random_seed(0)
    yield
    keras.backend.clear_session(free_memory=False)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", limit=160, seed=0)


def _hypermodel(data, num_classes=None, **kwargs):
    return CNNHyperModel(
        data.input_shape, num_classes or data.num_classes, search_space=SearchSpace(**TINY),
        compile_kwargs=dict(run_eagerly=True), freeze_gc=False, **kwargs,
    )


def _random(hypermodel, directory, max_trials=1, **kwargs):
    kwargs.setdefault("objective", "val_accuracy")
    return kt.RandomSearch(hypermodel, max_trials=max_trials, directory=str(directory),
                           project_name="p", overwrite=True, seed=1, **kwargs)


def _search(tuner, data, **kwargs):
    kwargs.setdefault("validation_data", (data.x_val, data.y_val))
    tuner.search(data.x_train, data.y_train, epochs=1, **kwargs)


def _fmt(value):
    return f"{value:g}" if isinstance(value, float) else str(value)


# -- A: the trial header, once, whole, numbered as KerasTuner numbers it ----------------


def test_after_keras_tuners_table_the_report_header_is_its_trial_number_only(digits, tmp_path, capsys):
    # It printed "Search: Running Trial #1", the table, then "Trial 0: batch_size=64, ...".
    tuner = _random(_hypermodel(digits, report=True), tmp_path)
    _search(tuner, digits)  # KerasTuner's default verbose=1: its table of hyperparameters
    out = capsys.readouterr().out
    assert "Search: Running Trial #1" in out
    headers = [line for line in out.splitlines() if "Trial #1" in line and "=" in line]
    assert len(headers) == 1 and re.fullmatch(r"=+ Trial #1 =+", headers[0]), headers
    assert "Trial 0" not in out and "block1_filters=" not in out  # the values once: in its table
    assert "..." not in out and "\u2026" not in out


def test_without_keras_tuners_table_the_header_has_every_hyperparameter_whole(digits, tmp_path, capsys):
    tuner = _random(_hypermodel(digits, report=True), tmp_path)
    _search(tuner, digits, verbose=0)
    out = capsys.readouterr().out
    assert "Search: Running Trial" not in out
    trial = next(iter(tuner.oracle.trials.values()))
    start = out.index("Trial #1: ")
    header = " ".join(out[start:out.index("Training:", start)].split())  # wrapped over lines
    assert "..." not in header and "\u2026" not in header
    values = trial.hyperparameters.values
    assert len(header) > 120  # more than one line of a log file
    assert header.rstrip() == "Trial #1: " + ", ".join(f"{k}={_fmt(v)}" for k, v in values.items())


def _build_with_a_long_value(hp):
    hp.Choice("note", ["a-value-longer-than-eighteen-characters"])
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                              keras.layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def test_a_value_keras_tuners_table_cuts_is_shown_whole_in_the_header(digits, tmp_path, capsys):
    buffer = io.StringIO()
    report = RichTrainingReport(Console(file=buffer, width=120))
    tuner = _random(_build_with_a_long_value, tmp_path)
    _search(tuner, digits, callbacks=[report])
    assert "a-value-longer-..." in capsys.readouterr().out  # KerasTuner's table, 18 columns
    assert "Trial #1: note=a-value-longer-than-eighteen-characters" in buffer.getvalue()


def test_trials_print_no_progress_bar_codes_when_stdout_is_no_terminal(digits, tmp_path, capsys):
    # Keras's progress bar wrote "\x1b[1m3/3\x1b[0m \x1b[32m━━━..." into redirected output.
    tuner = _random(_hypermodel(digits), tmp_path)
    _search(tuner, digits)
    out = capsys.readouterr().out
    assert "\u2501" not in out and "\x1b[1m" not in out and "\x1b[32m" not in out
    assert re.search(r"^3/3 - .* - val_accuracy: ", out, re.M)  # one plain line per epoch
    # verbose given to search() is kept
    tuner = _random(_hypermodel(digits), tmp_path)
    _search(tuner, digits, verbose=0)
    assert "val_accuracy: " not in capsys.readouterr().out


# -- B: mistakes of every trial stop the search, before training, in one line -----------


def test_too_few_classes_stop_the_search_at_the_first_trial_naming_num_classes(digits, tmp_path):
    # Every trial failed (its message buried in a traceback), search() returned, and
    # get_best_models raised FileNotFoundError.
    tuner = _random(_hypermodel(digits, num_classes=3), tmp_path, max_trials=3)
    with pytest.raises(ValueError, match=r"`num_classes`") as caught:
        _search(tuner, digits, verbose=0)
    message = str(caught.value)
    assert "\n" not in message and "labels run from 0 to 9" in message
    assert "CNNHyperModel(..., num_classes=10)" in message
    trials = list(tuner.oracle.trials.values())
    assert len(trials) == 1 and not trials[0].metrics.exists("loss")  # stopped before training


def test_validation_labels_beyond_num_classes_are_named_too(digits):
    keep = digits.y_train < 5
    hypermodel = _hypermodel(digits, num_classes=5)
    hp = kt.HyperParameters()
    model = hypermodel.build(hp)
    with pytest.raises(ValueError, match=r"`num_classes`.*validation labels run from 0 to 9.*num_classes=10"):
        hypermodel.fit(hp, model, digits.x_train[keep], digits.y_train[keep],
                       validation_data=(digits.x_val, digits.y_val), epochs=1, verbose=0)
    one_hot = np.eye(10, dtype="float32")[digits.y_train]
    with pytest.raises(ValueError, match=r"one-hot with 10 columns.*num_classes=10"):
        hypermodel.fit(hp, model, digits.x_train, one_hot, epochs=1, verbose=0)


class _Boom(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        raise ValueError("boom: a failure of every trial")


@pytest.mark.parametrize("max_trials", [2, 3])
def test_a_search_whose_every_trial_fails_raises_the_first_trials_error(digits, tmp_path, max_trials):
    # Two failed trials: search() returned silently. Three: KerasTuner's RuntimeError
    # held the last trial's whole traceback.
    tuner = _random(_hypermodel(digits), tmp_path, max_trials=max_trials)
    with pytest.raises(RuntimeError) as caught:
        _search(tuner, digits, verbose=0, callbacks=[_Boom()])
    message = str(caught.value)
    assert message.startswith(f"All {max_trials} trial(s) of the search failed")
    assert "trial #1, failed with: ValueError: boom: a failure of every trial." in message
    assert "\n" not in message and "Traceback" not in message
    assert all(t.status == "FAILED" for t in tuner.oracle.trials.values())


def _boom_after_the_first():
    class BoomAfterTheFirst(keras.callbacks.Callback):
        calls = []  # a class attribute: shared by KerasTuner's deep copies of the callback

        def on_train_begin(self, logs=None):
            self.calls.append(1)
            if len(self.calls) > 1:
                raise ValueError(f"boom {len(self.calls)}")

    return BoomAfterTheFirst()


def test_a_search_with_a_completed_trial_returns_as_before(digits, tmp_path):
    tuner = _random(_hypermodel(digits), tmp_path, max_trials=2)
    _search(tuner, digits, verbose=0, callbacks=[_boom_after_the_first()])
    statuses = sorted(t.status for t in tuner.oracle.trials.values())
    assert statuses == ["COMPLETED", "FAILED"]
    assert tuner.get_best_models(1)[0] is not None


def test_keras_tuners_limit_of_failures_in_a_row_is_one_line_with_the_first_of_them(digits, tmp_path):
    # KerasTuner's RuntimeError held the third failure's whole traceback.
    tuner = _random(_hypermodel(digits), tmp_path, max_trials=5)
    with pytest.raises(RuntimeError) as caught:
        _search(tuner, digits, verbose=0, callbacks=[_boom_after_the_first()])
    message = str(caught.value)
    assert message.startswith("3 trials in a row failed (the tuner's max_consecutive_failed_trials=3)")
    assert "trial #2, failed with: ValueError: boom 2." in message and "\n" not in message


def test_an_objective_on_validation_data_without_any_stops_the_search(digits, tmp_path):
    # Every trial failed with KeyError: 'val_accuracy', and search() returned.
    tuner = _random(_hypermodel(digits), tmp_path, max_trials=2)
    with pytest.raises(ValueError, match=r"'val_accuracy' needs validation data.*validation_data="):
        _search(tuner, digits, verbose=0, validation_data=None)
    assert len(tuner.oracle.trials) == 1


# -- C: the gap objective's metric only when asked for ----------------------------------


def test_the_gap_metric_is_added_only_with_gap_penalty(digits, tmp_path):
    assert CNNHyperModel((8, 8, 1), 10).gap_penalty is None
    tuner = _random(_hypermodel(digits), tmp_path)
    _search(tuner, digits, verbose=0)
    trial = next(iter(tuner.oracle.trials.values()))
    assert trial.status == "COMPLETED" and not trial.metrics.exists("val_accuracy_minus_gap")
    assert "minus_gap" not in results_table(tuner, show=False).export_text()

    tuner = _random(_hypermodel(digits, gap_penalty=1.0), tmp_path, objective=gap_objective())
    _search(tuner, digits, verbose=0)
    trial = next(iter(tuner.oracle.trials.values()))
    accuracy, val_accuracy = (trial.metrics.get_last_value(k) for k in ("accuracy", "val_accuracy"))
    assert trial.score == pytest.approx(val_accuracy - max(0.0, accuracy - val_accuracy), abs=1e-6)


def test_the_gap_objective_without_gap_penalty_is_one_line_with_the_fix(digits, tmp_path):
    tuner = _random(_hypermodel(digits), tmp_path, max_trials=2, objective=gap_objective())
    with pytest.raises(ValueError, match=r"`gap_penalty`.*gap_penalty=1\.0") as caught:
        _search(tuner, digits, verbose=0)
    assert "\n" not in str(caught.value) and len(tuner.oracle.trials) == 1
