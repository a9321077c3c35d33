"""Searches with every KerasTuner tuner on digits: trials complete, every model reloads.

Tiny models (8x8 digits, a few filters, one epoch) run eagerly here: tracing a graph for
every trial would cost more than the trial itself. The slow tests (resume, distributed,
memory) and the bench smoke run use compiled graphs.
"""

import math
import types

import keras
import keras_tuner as kt
import numpy as np
import pytest
from _subprocess import run_python

from keras_cnnlab.data import load_dataset
from keras_cnnlab.tuning import (
    CNNHyperModel,
    SearchSpace,
    TuningResults,
    gap_objective,
    results_table,
)

TINY = dict(
    num_blocks=1, filters=[4, 8], kernel_size=3, convs=1, downsample=["max", "strided"], downsample_factor=2,
    head_units=0, batch_size=64,
)


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    # conftest's fixture, without the full gc.collect() of clear_session (about 1 s per
    # test once TensorFlow and keras_tuner are loaded).
    keras.utils.set_random_seed(0)
    yield
    keras.backend.clear_session(free_memory=False)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", limit=500, seed=0)


def _hypermodel(data, **kwargs):
    return CNNHyperModel(
        data.input_shape, data.num_classes, search_space=SearchSpace(**TINY),
        compile_kwargs=dict(run_eagerly=True), **kwargs,
    )


def _tuner(kind, hypermodel, directory, **kwargs):
    common = dict(directory=str(directory), project_name=kind, overwrite=True, seed=1)
    kwargs.setdefault("objective", "val_accuracy")
    if kind == "random":
        return kt.RandomSearch(hypermodel, max_trials=2, **common, **kwargs)
    if kind == "bayesian":
        # One random point, then one from the Gaussian process.
        return kt.BayesianOptimization(hypermodel, max_trials=2, num_initial_points=1, **common, **kwargs)
    if kind == "grid":
        return kt.GridSearch(hypermodel, max_trials=2, **common, **kwargs)
    tuner = kt.Hyperband(hypermodel, max_epochs=2, factor=2, **common, **kwargs)
    # The first bracket: two 1-epoch trials, then the better one continues to epoch 2.
    tuner.oracle.max_trials = 3
    return tuner


def _search(tuner, data, **kwargs):
    tuner.search(
        data.x_train, data.y_train, validation_data=(data.x_val, data.y_val), epochs=1,
        verbose=0, **kwargs,
    )


@pytest.mark.parametrize("kind", ["random", "bayesian", "hyperband", "grid"])
def test_tuner_completes_and_every_trial_reloads(kind, digits, tmp_path):
    hypermodel = _hypermodel(digits)
    tuner = _tuner(kind, hypermodel, tmp_path)
    _search(tuner, digits)

    trials = list(tuner.oracle.trials.values())
    assert len(trials) == (3 if kind == "hyperband" else 2)
    assert all(t.status == "COMPLETED" for t in trials)
    for trial in trials:
        reloaded = tuner.load_model(trial)
        rebuilt = hypermodel.build(trial.hyperparameters)
        assert reloaded.count_params() == rebuilt.count_params()
        assert reloaded.count_params() == trial.metrics.get_last_value("params")

    # The best model comes back with the weights that gave its score.
    best_trial = tuner.oracle.get_best_trials(1)[0]
    best = tuner.get_best_models(1)[0]
    _, accuracy = best.evaluate(digits.x_val, digits.y_val, verbose=0)
    assert accuracy == pytest.approx(best_trial.score, abs=1e-6)

    if kind == "hyperband":
        continued = [t for t in trials if "tuner/trial_id" in t.hyperparameters.values]
        assert len(continued) == 1 and continued[0].hyperparameters.values["tuner/initial_epoch"] == 1

    results = results_table(tuner, show=False)
    assert [r.trial_id for r in results.rows][0] == best_trial.trial_id
    assert {r.params for r in results.rows} == {int(t.metrics.get_last_value("params")) for t in trials}
    assert all(r.epochs == 1 and r.seconds > 0 for r in results.rows)


def test_one_hot_labels_with_the_gap_objective(digits, tmp_path):
    one_hot = load_dataset("digits", limit=500, seed=0, one_hot=True)
    hypermodel = _hypermodel(digits, gap_penalty=1.0)  # the gap objective's metric, asked for
    tuner = kt.RandomSearch(
        hypermodel, objective=gap_objective(), max_trials=1, directory=str(tmp_path),
        project_name="gap", overwrite=True, seed=3,
    )
    _search(tuner, one_hot)
    trial = tuner.oracle.get_best_trials(1)[0]
    assert trial.status == "COMPLETED"
    accuracy = trial.metrics.get_last_value("accuracy")
    val_accuracy = trial.metrics.get_last_value("val_accuracy")
    assert trial.score == pytest.approx(val_accuracy - max(0.0, accuracy - val_accuracy), abs=1e-6)
    # The labels seen at search time chose the loss, for the trials and for reloading.
    best = tuner.get_best_models(1)[0]
    assert type(best.loss).__name__ == "CategoricalCrossentropy"


@pytest.mark.multibackend
def test_search_and_reload_on_this_backend(digits, tmp_path):
    hypermodel = _hypermodel(digits)
    tuner = _tuner("random", hypermodel, tmp_path)
    tuner.oracle.max_trials = 1
    _search(tuner, digits)
    trial = tuner.oracle.get_best_trials(1)[0]
    best = tuner.get_best_models(1)[0]
    assert best.count_params() == hypermodel.build(trial.hyperparameters).count_params()
    _, accuracy = best.evaluate(digits.x_val, digits.y_val, verbose=0)
    assert accuracy == pytest.approx(trial.score, abs=1e-6)


@pytest.mark.multibackend
def test_every_trial_keeps_the_dtype_policy_that_keras_tuner_clears(digits, tmp_path):
    # KerasTuner calls keras.backend.clear_session() before each trial, which resets the
    # global dtype policy; the hypermodel sets the one in force when it was created again
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        hypermodel = _hypermodel(digits)
        seen = []

        class Probe(keras.callbacks.Callback):
            def on_train_begin(self, logs=None):
                seen.append((keras.config.dtype_policy().name, self.model.layers[1].dtype_policy.name))

        tuner = _tuner("random", hypermodel, tmp_path)
        _search(tuner, digits, callbacks=[Probe()])
    finally:
        keras.config.set_dtype_policy("float32")
    assert seen == [("mixed_bfloat16", "mixed_bfloat16")] * 2
    assert [t.status for t in tuner.oracle.trials.values()] == ["COMPLETED"] * 2


def test_every_trial_gets_the_report_and_the_gap_monitor(digits, tmp_path, capsys):
    hypermodel = _hypermodel(digits, report=True, gap_monitor=True)
    tuner = _tuner("random", hypermodel, tmp_path)
    _search(tuner, digits)
    out = capsys.readouterr().out
    trials = list(tuner.oracle.trials.values())
    assert len(trials) == 2
    for trial in trials:
        # the trial header, numbered as KerasTuner numbers it, with its hyperparameters
        # (KerasTuner prints no table of them at verbose=0) opens the trial's report
        assert f"Trial #{int(trial.trial_id) + 1}: " in out
        # the monitor's gap went into the logs that KerasTuner keeps with the trial
        gap = trial.metrics.get_last_value("gap_accuracy")
        accuracy = trial.metrics.get_last_value("accuracy")
        val_accuracy = trial.metrics.get_last_value("val_accuracy")
        assert gap == pytest.approx(accuracy - val_accuracy, abs=1e-6)
    assert out.count("Gap monitor") == 2  # one closing verdict per trial
    assert "Epoch 1/1" in out and "\x1b" not in out  # plain text: captured output is no terminal


def test_two_classes_with_sigmoid_build_one_binary_unit_in_every_trial():
    import keras_tuner

    hypermodel = CNNHyperModel((8, 8, 1), 2, output_activation="sigmoid",
                               search_space=SearchSpace(**TINY), freeze_gc=False)
    model = hypermodel.build(keras_tuner.HyperParameters())
    assert model.output_shape == (None, 1)
    assert type(model.loss).__name__ == "BinaryCrossentropy"


def _run_python(code: str) -> str:
    done = run_python(code, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_by_default_a_build_freezes_nothing_even_right_after_a_full_collection():
    out = _run_python("""
        import gc, keras_tuner as kt
        from keras_cnnlab.tuning import CNNHyperModel
        hypermodel = CNNHyperModel((8, 8, 1), 10)
        print(hypermodel.freeze_gc)
        for _ in range(2):
            gc.collect()  # as KerasTuner does just before each trial's build
            hypermodel.build(kt.HyperParameters())
            print(gc.get_freeze_count())
    """)
    default, first, second = out.split()
    assert default == "False" and first == second == "0"


def test_with_freeze_gc_a_build_outside_a_search_freezes_nothing():
    out = _run_python("""
        import gc, keras_tuner as kt
        from keras_cnnlab.tuning import CNNHyperModel
        gc.collect()
        CNNHyperModel((8, 8, 1), 10, freeze_gc=False).build(kt.HyperParameters())
        print(gc.get_freeze_count())
        hypermodel = CNNHyperModel((8, 8, 1), 10, freeze_gc=True)
        gc.collect()  # a full collection right before the build, but no search
        hypermodel.build(kt.HyperParameters())
        print(gc.get_freeze_count())
    """)
    assert [int(n) for n in out.split()] == [0, 0]


FREEZE_SEARCH = """
import gc, io, weakref
import keras, keras_tuner as kt, numpy as np
from rich.console import Console
from keras_cnnlab import RichTrainingReport
from keras_cnnlab.tuning import CNNHyperModel, SearchSpace

class Cyclic(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.me = self  # a reference cycle: its copies are freed by the collector only

class Watched(CNNHyperModel):
    def build(self, hp):
        junk = [[] for _ in range(5000)]  # young collections after KerasTuner's full one
        return super().build(hp)

    def fit(self, hp, model, *args, **kwargs):
        self.models.append(weakref.ref(model))  # the trials' models
        return super().fit(hp, model, *args, **kwargs)

class Search(kt.RandomSearch):
    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        self.frozen.append(gc.get_freeze_count())

x = np.random.default_rng(0).random((64, 8, 8, 1), dtype="float32")
y = np.arange(64) % 10
hypermodel = Watched((8, 8, 1), 10, search_space=SearchSpace(**TINY), report=True, gap_monitor=True,
                     compile_kwargs=dict(run_eagerly=True), freeze_gc=True)
hypermodel.models = []
tuner = Search(hypermodel, objective="val_accuracy", max_trials=4, seed=0, directory=DIRECTORY,
               project_name="p", overwrite=True)
tuner.frozen = []
callbacks = [keras.callbacks.EarlyStopping(patience=1), RichTrainingReport(Console(file=io.StringIO()))]
if CYCLIC:
    callbacks.append(Cyclic())
tuner.search(x, y, validation_data=(x, y), epochs=2, verbose=0, callbacks=callbacks)
best = tuner.get_best_models(1)[0]  # kept by the user: a reloaded model, not a trial's
again = Search(hypermodel, objective="val_accuracy", max_trials=2, seed=1, directory=DIRECTORY,
               project_name="again", overwrite=True)
again.frozen = []
again.search(x, y, validation_data=(x, y), epochs=1, verbose=0, callbacks=callbacks[:1])
del best  # alive at a freeze, so frozen: only gc.unfreeze() lets it be collected
gc.collect()
print(*tuner.frozen)
print(*again.frozen)
print(sum(ref() is not None for ref in hypermodel.models))
"""


@pytest.mark.parametrize("cyclic", [False, True], ids=["callbacks", "cyclic callback"])
def test_every_trial_freezes_the_survivors_and_no_trial_model_is_kept(tmp_path, cyclic):
    code = f"TINY = {TINY!r}\nDIRECTORY = {str(tmp_path)!r}\nCYCLIC = {cyclic}\n" + FREEZE_SEARCH
    first, second, alive = _run_python(code).splitlines()[-3:]
    frozen = [int(n) for n in first.split()]
    frozen_again = [int(n) for n in second.split()]
    assert len(frozen) == 4 and len(frozen_again) == 2
    if cyclic:
        # The frozen copy of that callback held trial 1's model: freezing stops, all thawed.
        assert frozen[0] > 100_000 and frozen[1:] == [0, 0, 0] and frozen_again == [0, 0]
    else:
        # Frozen again before every trial's build: what trials left (the tuner's records)
        # joins. The best model the user keeps does not stop it in the next search.
        frozen += frozen_again
        assert frozen[0] > 100_000 and all(b > a for a, b in zip(frozen, frozen[1:]))
    assert int(alive) == 0  # every trial's model was freed, without gc.unfreeze()


class _Steps(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.steps = self.params["steps"]


def test_batch_size_comes_from_the_space_unless_given(digits):
    hypermodel = _hypermodel(digits)
    hp = kt.HyperParameters()
    hypermodel.declare_hyperparameters(hp)
    n = len(digits.x_train)
    for kwargs, batch in ((dict(), 64), (dict(batch_size=100), 100)):
        steps = _Steps()
        model = hypermodel.build(hp)
        hypermodel.fit(hp, model, digits.x_train, digits.y_train, epochs=1, verbose=0, callbacks=[steps], **kwargs)
        assert steps.steps == math.ceil(n / batch)


class _LearningRates(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self.__dict__.setdefault("rates", []).append(float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)))


def test_trials_train_with_the_recipe_levers(digits):
    space = SearchSpace(**TINY, learning_rate=0.01, weight_decay=0.05, label_smoothing=0.2, optimizer="adamw")
    hypermodel = CNNHyperModel(
        digits.input_shape, digits.num_classes, search_space=space, compile_kwargs=dict(run_eagerly=True)
    )
    hp = kt.HyperParameters()
    hypermodel.declare_hyperparameters(hp)
    assert {"weight_decay", "label_smoothing", "schedule"} <= set(hp.values)
    model = hypermodel.build(hp)
    assert isinstance(model.optimizer, keras.optimizers.AdamW)
    assert math.isclose(model.optimizer.weight_decay, 0.05)
    assert model.loss.label_smoothing == 0.2
    rates = _LearningRates()
    history = hypermodel.fit(hp, model, digits.x_train, digits.y_train, epochs=4, verbose=0, callbacks=[rates])
    # Cosine decay over the trial's 4 epochs, set at each epoch's start; nothing added to the logs.
    expected = [0.01 * 0.5 * (1 + math.cos(math.pi * e / 4)) for e in range(4)]
    np.testing.assert_allclose(rates.rates, expected, rtol=1e-5)
    assert "learning_rate" not in history.history
    constant = CNNHyperModel(
        digits.input_shape, digits.num_classes, compile_kwargs=dict(run_eagerly=True),
        search_space=SearchSpace(**TINY, learning_rate=0.01, schedule="constant"),
    )
    hp = kt.HyperParameters()
    constant.declare_hyperparameters(hp)
    rates = _LearningRates()
    constant.fit(hp, constant.build(hp), digits.x_train, digits.y_train, epochs=2, verbose=0, callbacks=[rates])
    np.testing.assert_allclose(rates.rates, [0.01, 0.01], rtol=1e-6)


def test_tuned_batch_size_with_a_dataset_warns(digits):
    tf = pytest.importorskip("tensorflow")
    space = SearchSpace(**{**TINY, "batch_size": [16, 32]})
    hypermodel = CNNHyperModel(
        digits.input_shape, digits.num_classes, search_space=space, compile_kwargs=dict(run_eagerly=True)
    )
    hp = kt.HyperParameters()
    hypermodel.declare_hyperparameters(hp)
    data = tf.data.Dataset.from_tensor_slices((digits.x_train[:64], digits.y_train[:64])).batch(32)
    with pytest.warns(UserWarning, match=r"batch_size is tuned.*SearchSpace\(batch_size=None\)"):
        history = hypermodel.fit(hp, hypermodel.build(hp), data, epochs=1, verbose=0)
    assert history.history["epochs_trained"] == [1.0]


# --- results_table on hand-made trials ------------------------------------------------------


def _trial(trial_id, values, status, score=None, **metrics):
    hp = kt.HyperParameters()
    for name, value in values.items():
        hp.Fixed(name, value)
    trial = kt.engine.trial.Trial(hp, trial_id=trial_id, status=status)
    for name, value in metrics.items():
        trial.metrics.register(name, "min")
        trial.metrics.update(name, value)
    trial.score = score
    return trial


def _fake_tuner(direction="max"):
    trials = [
        _trial("00", {"num_blocks": 1, "block1_filters": 8, "block1_downsample": "max", "block1_downsample_factor": 2,
                      "optimizer": "adam", "learning_rate": 0.001}, "COMPLETED", 0.5,
               params=120.0, fit_seconds=1.5, epochs_trained=2.0),
        _trial("01", {"num_blocks": 2, "head_units": 64, "head_dropout": 0.2,
                      "augmentation": "light", "augmentation_strength": 0.75,
                      "tuner/epochs": 4, "tuner/initial_epoch": 2}, "COMPLETED", 0.9,
               params=3000.0, fit_seconds=2.0, epochs_trained=2.0),
        _trial("02", {"units": 3}, "FAILED"),
    ]
    oracle = types.SimpleNamespace(
        trials={t.trial_id: t for t in trials}, objective=kt.Objective("val_accuracy", direction)
    )
    return types.SimpleNamespace(oracle=oracle)


def test_results_table_rows_sorting_and_rendering(tmp_path):
    results = results_table(_fake_tuner("max"), show=False)
    assert isinstance(results, TuningResults)
    assert [r.trial_id for r in results.rows] == ["01", "00", "02"]  # best first, no score last
    assert results.best.trial_id == "01" and results.best.final_epoch == 4
    assert results.rows[1].params == 120 and results.rows[1].seconds == 1.5
    assert [r.trial_id for r in results_table(_fake_tuner("min"), show=False).rows] == ["00", "01", "02"]

    text = results.export_text()
    assert "objective val_accuracy (max)" in text and "best: trial #2 (0.9000)" in text  # as KerasTuner numbers it
    assert "b1  8 filters  max 2" in text and "adam lr 1.0e-03" in text
    assert "head -> 64  drop 0.2" in text and "aug light x0.75" in text
    assert "units=3" in text and "failed" in text and "2 (to 4)" in text and "3,000" in text
    assert results.export_html().lstrip().lower().startswith("<!doctype html>")
    assert "<svg" in results.export_svg()
    saved = results.save(tmp_path / "results.html")
    assert open(saved, encoding="utf-8").read() == results.export_html()
    with pytest.raises(ValueError, match=r"\.txt, \.html or \.svg"):
        results.save(tmp_path / "results.pdf")


def test_results_table_prints_to_the_given_console(tmp_path):
    path = tmp_path / "table.txt"
    results_table(_fake_tuner(), console=str(path))
    assert "Tuning results: 3 trials" in path.read_text(encoding="utf-8")
    assert np.isfinite(results_table(_fake_tuner(), show=False).rows[0].score)
    with pytest.raises(ValueError, match="`tuner`"):
        results_table(object(), show=False)
