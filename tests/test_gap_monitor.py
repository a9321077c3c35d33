"""OverfittingGapMonitor: gap values, onset, actions, divergence, real runs."""

import copy
import math
import warnings

import keras
import numpy as np
import pytest

from keras_cnnlab import OverfittingGapMonitor
from keras_cnnlab.callbacks.gap_monitor import find_overfitting_onset, metric_direction
from keras_cnnlab.data import load_dataset

# A scripted run: training keeps improving, validation peaks then degrades.
LOSS = [1.00, 0.80, 0.65, 0.55, 0.45, 0.40, 0.35, 0.30]
VAL_LOSS = [1.00, 0.85, 0.75, 0.78, 0.74, 0.80, 0.86, 0.90]
ACC = [0.50, 0.60, 0.70, 0.76, 0.82, 0.88, 0.92, 0.95]
VAL_ACC = [0.50, 0.58, 0.66, 0.67, 0.68, 0.67, 0.66, 0.65]


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    # as conftest's, without the full gc.collect() (about 1.5 s per test with TensorFlow loaded)
    keras.utils.set_random_seed(0)
    yield
    keras.backend.clear_session(free_memory=False)


def _tiny_model():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    return model


def _logs(e):
    return {"loss": LOSS[e], "accuracy": ACC[e], "val_loss": VAL_LOSS[e], "val_accuracy": VAL_ACC[e]}


def _drive(monitor, model, epochs=8, logs_fn=_logs, tag_weights=False):
    """Call the hooks the way fit does; stop when the monitor asks to."""
    monitor.set_model(model)
    model.stop_training = False
    monitor.on_train_begin()
    seen = []
    for e in range(epochs):
        if tag_weights:  # weights that say which epoch they come from
            model.set_weights([np.full(w.shape, e, "float32") for w in model.get_weights()])
        logs = logs_fn(e)
        monitor.on_epoch_end(e, logs)
        seen.append(logs)
        if model.stop_training:
            break
    monitor.on_train_end()
    return seen


@pytest.mark.multibackend
def test_gap_values_written_into_logs_exactly():
    monitor = OverfittingGapMonitor(verbose=0)
    seen = _drive(monitor, _tiny_model())
    for e, logs in enumerate(seen):
        # positive gap = better on training data: train - val for accuracy, val - train for loss
        assert logs["gap_accuracy"] == pytest.approx(ACC[e] - VAL_ACC[e], abs=1e-12)
        assert logs["gap_loss"] == pytest.approx(VAL_LOSS[e] - LOSS[e], abs=1e-12)
    assert monitor.gaps["gap_accuracy"] == pytest.approx([0, .02, .04, .09, .14, .21, .26, .30], abs=1e-12)
    assert monitor.gaps["gap_loss"] == pytest.approx([0, .05, .10, .23, .29, .40, .51, .60], abs=1e-12)


def test_a_verdict_of_no_overfitting_says_how_near_the_gap_criterion_came():
    # The case: "no overfitting detected (final gap_accuracy 0.2859)" with
    # max_gap 0.15 read as a contradiction; the gap was above it for too few epochs.
    def gaps(*values):
        return lambda e: {"loss": 1.0, "val_loss": 1.0, "accuracy": 0.9, "val_accuracy": 0.9 - values[e]}

    monitor = OverfittingGapMonitor(max_gap=0.15, patience=3, verbose=0)
    _drive(monitor, _tiny_model(), epochs=3, logs_fn=gaps(0.1, 0.2, 0.2859))
    assert monitor.verdict == (
        "no overfitting detected yet: gap_accuracy above max_gap 0.15 in the last 2 epoch(s), "
        "1 short of patience 3 (final gap_accuracy 0.2859)"
    )
    _drive(monitor, _tiny_model(), epochs=4, logs_fn=gaps(0.2, 0.2, 0.1, 0.05))
    assert monitor.verdict == (
        "no overfitting detected (final gap_accuracy 0.0500, within max_gap 0.15; above it in 2 "
        "epoch(s), never 3 in a row)"
    )
    _drive(monitor, _tiny_model(), epochs=2, logs_fn=gaps(0.1, 0.05))
    assert monitor.verdict == "no overfitting detected (final gap_accuracy 0.0500, within max_gap 0.15)"
    monitor = OverfittingGapMonitor(max_gap=None, verbose=0)  # the gap criterion is off
    _drive(monitor, _tiny_model(), epochs=2, logs_fn=gaps(0.1, 0.3))
    assert monitor.verdict == "no overfitting detected (final gap_accuracy 0.3000)"


@pytest.mark.multibackend
def test_onset_epoch_and_figures_on_scripted_logs():
    monitor = OverfittingGapMonitor(max_gap=None, patience=3, verbose=0)
    _drive(monitor, _tiny_model())
    onset = monitor.onset
    # epoch 3 rises (0.78 > 0.75) but epoch 4 sets a new best (0.74); epochs 5, 6, 7 rise above it
    # while the training loss stays below its 0.45 at epoch 4.
    assert (onset.epoch, onset.detected_at, onset.best_epoch) == (5, 7, 4)
    assert onset.best_val_loss == pytest.approx(0.74)
    assert onset.val_loss == pytest.approx(0.90)
    assert onset.train_loss_at_best == pytest.approx(0.45)
    assert onset.train_loss == pytest.approx(0.30)
    assert onset.generalization_loss == pytest.approx(100 * (0.90 / 0.74 - 1))
    assert monitor.gap_exceeded_epoch is None
    assert "overfitting from epoch 6" in monitor.verdict


def test_onset_function_min_delta_start_and_none():
    # min_delta 0.05: epochs 3-5 are within 0.05 of the best (0.75 at epoch 2): no run.
    assert find_overfitting_onset(LOSS, VAL_LOSS, patience=3, min_delta=0.05) is None
    onset = find_overfitting_onset(LOSS, VAL_LOSS, patience=2, min_delta=0.05)
    assert (onset.epoch, onset.detected_at, onset.best_epoch) == (6, 7, 2)
    # judging from epoch 5 on: the best is 0.80 at epoch 5, epochs 6 and 7 rise
    onset = find_overfitting_onset(LOSS, VAL_LOSS, patience=2, start_from_epoch=5)
    assert (onset.epoch, onset.best_epoch) == (6, 5)
    # both losses falling: no onset; validation rising but training rising too: no onset
    assert find_overfitting_onset([3, 2, 1, 0.5], [3, 2, 1, 0.5], patience=1) is None
    assert find_overfitting_onset([1, 2, 3, 4], [1, 2, 3, 4], patience=1) is None
    # a NaN epoch restarts the run instead of crashing
    assert find_overfitting_onset([1, .5, .4, .3, .2], [1, .5, .6, math.nan, .7], patience=2) is None
    with pytest.raises(ValueError, match="patience"):
        find_overfitting_onset([1], [1], patience=0)
    with pytest.raises(ValueError, match="one value per epoch"):
        find_overfitting_onset([1, 2], [1])


@pytest.mark.multibackend
def test_max_gap_criterion_and_stop_action():
    model = _tiny_model()
    monitor = OverfittingGapMonitor(max_gap=0.1, patience=3, action="stop", verbose=0)
    seen = _drive(monitor, model)
    # gaps 0.14, 0.21, 0.26 at epochs 4, 5, 6 exceed 0.1: stop at epoch 6, before the onset at 7
    assert monitor.gap_exceeded_epoch == 4
    assert monitor.stopped_epoch == 6
    assert len(seen) == 7
    assert model.stop_training
    assert monitor.onset is None
    assert "above max_gap 0.1 from epoch 5" in monitor.verdict


@pytest.mark.multibackend
def test_start_from_epoch_delays_judgement_but_not_logging():
    monitor = OverfittingGapMonitor(max_gap=0.1, patience=3, start_from_epoch=6, verbose=0)
    seen = _drive(monitor, _tiny_model())
    assert all("gap_accuracy" in logs for logs in seen)
    assert monitor.gap_exceeded_epoch is None  # only epochs 6 and 7 judged: 2 < patience
    assert monitor.onset is None


@pytest.mark.multibackend
def test_restore_best_restores_the_best_epochs_weights():
    model = _tiny_model()
    monitor = OverfittingGapMonitor(max_gap=0.1, patience=3, action="stop", restore_best_weights=True, verbose=0)
    _drive(monitor, model, tag_weights=True)
    # best val_accuracy is 0.68 at epoch 4; training stopped at epoch 6 with weights "6"
    assert monitor.best_epoch == 4 and monitor.best_value == pytest.approx(0.68)
    assert monitor.stopped_epoch == 6 and monitor.restored_epoch == 4
    for weight in model.get_weights():
        np.testing.assert_array_equal(weight, np.full(weight.shape, 4, "float32"))
    assert "weights restored from epoch 5" in monitor.verdict


@pytest.mark.multibackend
def test_restore_best_does_nothing_without_overfitting():
    model = _tiny_model()
    monitor = OverfittingGapMonitor(max_gap=None, patience=20, action="stop", restore_best_weights=True, verbose=0)
    _drive(monitor, model, tag_weights=True)
    assert monitor.restored_epoch is None
    for weight in model.get_weights():
        np.testing.assert_array_equal(weight, np.full(weight.shape, 7, "float32"))


@pytest.mark.multibackend
def test_loss_metric_and_explicit_mode():
    monitor = OverfittingGapMonitor("loss", max_gap=0.25, patience=2, verbose=0)
    seen = _drive(monitor, _tiny_model())
    assert "gap_accuracy" not in seen[0]
    assert monitor.gap_key == "gap_loss"
    assert monitor.gap_exceeded_epoch == 4  # 0.29, 0.40 exceed 0.25
    # A metric logged under another name: "error" (min) given mode="min" explicitly.
    monitor = OverfittingGapMonitor("error", mode="min", verbose=0)

    def logs(e):
        return {"loss": 1.0, "val_loss": 1.0, "error": 0.1 * e, "val_error": 0.3 * e}

    seen = _drive(monitor, _tiny_model(), epochs=3, logs_fn=logs)
    assert [s["gap_error"] for s in seen] == pytest.approx([0.0, 0.2, 0.4])


def test_metric_direction():
    assert metric_direction("val_loss") == "min"
    assert metric_direction("sparse_categorical_accuracy") == "max"
    assert metric_direction("gap_auc") == "max"
    assert metric_direction("mean_absolute_error") == "min"
    assert metric_direction("banana") is None


@pytest.mark.multibackend
def test_logged_name_ending_in_metric_is_accepted():
    monitor = OverfittingGapMonitor(verbose=0)

    def logs(e):
        return {"loss": 1.0, "val_loss": 1.0, "sparse_categorical_accuracy": 0.9,
                "val_sparse_categorical_accuracy": 0.7}

    seen = _drive(monitor, _tiny_model(), epochs=1, logs_fn=logs)
    assert seen[0]["gap_accuracy"] == pytest.approx(0.2)


@pytest.mark.multibackend
def test_missing_metric_or_validation_warns_and_keeps_going():
    monitor = OverfittingGapMonitor(verbose=0)
    with pytest.warns(UserWarning, match="'accuracy'.*not in the epoch logs.*available: loss, val_loss"):
        seen = _drive(monitor, _tiny_model(), epochs=2,
                      logs_fn=lambda e: {"loss": 1.0 - e / 10, "val_loss": 1.0})
    assert seen[1]["gap_loss"] == pytest.approx(0.1)
    assert "gap_accuracy" not in seen[1]
    monitor = OverfittingGapMonitor(verbose=0)
    with pytest.warns(UserWarning, match="no validation figures.*validation_data"):
        seen = _drive(monitor, _tiny_model(), epochs=2, logs_fn=lambda e: {"loss": 1.0, "accuracy": 0.5})
    assert not any(k.startswith("gap_") for k in seen[1])
    assert monitor.verdict == "no overfitting detected"


@pytest.mark.multibackend
@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_divergence_is_reported_not_raised(bad, capsys):
    model = _tiny_model()
    monitor = OverfittingGapMonitor(action="stop")

    def logs(e):
        values = _logs(e)
        if e == 2:
            values["loss"] = bad
        return values

    seen = _drive(monitor, model, logs_fn=logs)
    assert monitor.diverged_epoch == 2
    assert monitor.stopped_epoch == 2 and len(seen) == 3
    assert math.isnan(seen[2]["gap_loss"]) or math.isinf(seen[2]["gap_loss"])
    assert f"diverged at epoch 3 (loss = {bad})" in monitor.verdict
    assert "training diverged" in capsys.readouterr().out


@pytest.mark.multibackend
def test_deepcopy_gives_a_fresh_independent_monitor():
    x = np.zeros((10, 2), "float32")
    y = np.zeros((10,), "int32")
    monitor = OverfittingGapMonitor(unbiased_subset=4, train_data=(x, y), verbose=0)
    model = _tiny_model()
    monitor.set_model(model)  # a used monitor holds a model: copies must not
    monitor._run.history["gap_loss"] = [0.5]
    clone = copy.deepcopy(monitor)
    assert clone is not monitor
    assert clone.model is None
    assert clone.gaps == {}
    assert clone.train_data[0] is x  # the data is shared, not copied per trial
    assert (clone.monitor, clone.max_gap, clone.patience, clone.unbiased_subset) == ("accuracy", 0.1, 3, 4)


INVALID = [
    ({"monitor": ""}, "`monitor`"),
    ({"monitor": "val_accuracy"}, "`monitor`"),
    ({"max_gap": -0.1}, "`max_gap`"),
    ({"max_gap": math.nan}, "`max_gap`"),
    ({"patience": 0}, "`patience`"),
    ({"min_delta": -1}, "`min_delta`"),
    ({"start_from_epoch": -1}, "`start_from_epoch`"),
    ({"mode": "up"}, "`mode`"),
    ({"monitor": "loss", "mode": "max"}, "`mode`"),
    ({"action": "halt"}, "`action`"),
    ({"restore_best_weights": 1, "action": "stop"}, "`restore_best_weights`"),
    ({"restore_best_weights": True}, "`restore_best_weights=True`.*action='stop'"),
    ({"unbiased_subset": 0, "train_data": ([1], [1])}, "`unbiased_subset`"),
    ({"unbiased_subset": 10}, "train_data=\\(x_train, y_train\\)"),
    ({"train_data": np.zeros(3)}, "`train_data`"),
    ({"train_data": (np.zeros(3), np.zeros(4))}, "same number of examples"),
    ({"eval_batch_size": 0}, "`eval_batch_size`"),
]


def test_invalid_arguments_name_the_argument():
    for kwargs, match in INVALID:
        with pytest.raises(ValueError, match=match):
            OverfittingGapMonitor(**kwargs)


# -- the Keras names and their deprecated aliases ---------------------------------------


def test_deprecated_metric_alias_warns_and_behaves_like_monitor():
    with pytest.warns(DeprecationWarning, match="`metric` is deprecated.*use `monitor`"):
        old = OverfittingGapMonitor(metric="loss", max_gap=0.25, patience=2, verbose=0)
    new = OverfittingGapMonitor(monitor="loss", max_gap=0.25, patience=2, verbose=0)
    assert old.monitor == new.monitor == "loss" and old.gap_key == "gap_loss"
    assert _drive(old, _tiny_model()) == _drive(new, _tiny_model())
    assert old.gaps == new.gaps and old.gap_exceeded_epoch == new.gap_exceeded_epoch == 4
    assert old.verdict == new.verdict
    with pytest.warns(DeprecationWarning, match="attribute `metric` is deprecated.*`monitor`"):
        assert old.metric == "loss"
    # positional use, the common one, is unchanged and silent
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert OverfittingGapMonitor("loss", verbose=0).monitor == "loss"


def test_deprecated_restore_best_alias_warns_and_behaves_like_restore_best_weights():
    with pytest.warns(DeprecationWarning, match="'restore_best'` is deprecated.*`restore_best_weights`"):
        old = OverfittingGapMonitor(max_gap=0.1, patience=3, action="restore_best", verbose=0)
    new = OverfittingGapMonitor(max_gap=0.1, patience=3, action="stop", restore_best_weights=True, verbose=0)
    assert (old.action, old.restore_best_weights) == ("stop", True)
    old_model, new_model = _tiny_model(), _tiny_model()
    assert _drive(old, old_model, tag_weights=True) == _drive(new, new_model, tag_weights=True)
    assert (old.stopped_epoch, old.restored_epoch) == (new.stopped_epoch, new.restored_epoch) == (6, 4)
    for a, b in zip(old_model.get_weights(), new_model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert old.verdict == new.verdict
    # "stop" alone keeps the last weights, as before
    stop = OverfittingGapMonitor(max_gap=0.1, patience=3, action="stop", verbose=0)
    model = _tiny_model()
    _drive(stop, model, tag_weights=True)
    assert stop.stopped_epoch == 6 and stop.restored_epoch is None
    np.testing.assert_array_equal(model.get_weights()[0], np.full(model.get_weights()[0].shape, 6, "float32"))


def test_an_old_name_with_its_new_one_is_an_error_naming_both():
    with pytest.raises(ValueError, match="`monitor` and `metric`.*monitor='loss' and metric='accuracy'"):
        OverfittingGapMonitor(monitor="loss", metric="accuracy")
    with pytest.raises(ValueError, match="`action='restore_best'` and `restore_best_weights`"):
        OverfittingGapMonitor(action="restore_best", restore_best_weights=True)


def test_a_monitor_built_with_the_aliases_survives_deepcopy_silently():
    with pytest.warns(DeprecationWarning):
        monitor = OverfittingGapMonitor(metric="loss", action="restore_best", verbose=0)
    monitor.set_model(_tiny_model())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # KerasTuner's per-trial copy must not warn again
        clone = copy.deepcopy(monitor)
    assert (clone.monitor, clone.action, clone.restore_best_weights) == ("loss", "stop", True)
    assert clone.model is None


def test_curve_and_link_names_keep_their_old_homes():
    from keras_cnnlab import curves
    from keras_cnnlab.callbacks import gap_monitor, links

    for name in ("OverfittingOnset", "find_overfitting_onset", "metric_direction"):
        assert getattr(gap_monitor, name) is getattr(curves, name)
    assert gap_monitor.attach_report is links.attach_report
    assert gap_monitor.attached_monitor is links.attached_monitor


def test_curves_imports_neither_keras_nor_rich():
    from _subprocess import run_python

    result = run_python(
        """
        import sys
        import keras_cnnlab.curves
        print(sorted(m for m in ("keras", "rich", "tensorflow", "jax", "torch") if m in sys.modules))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_metric_gap_sign():
    from keras_cnnlab.curves import metric_gap

    assert metric_gap(0.75, 0.5, "max") == 0.25  # accuracy better on training data: positive
    assert metric_gap(0.25, 0.5, "min") == 0.25  # loss lower on training data: positive
    assert metric_gap(0.5, 0.75, "max") == -0.25
    assert metric_gap(None, 0.5, "max") is None and metric_gap(0.5, 0.5, None) is None


# -- real runs on digits -----------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _mlp(hidden, dropout=0.0, lr=0.02):
    layers = [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(hidden, activation="relu")]
    if dropout:
        layers.append(keras.layers.Dropout(dropout))
    layers.append(keras.layers.Dense(10, activation="softmax"))
    model = keras.Sequential(layers)
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


class _WeightsPerEpoch(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.weights = []

    def on_epoch_end(self, epoch, logs=None):
        self.weights.append(self.model.get_weights())


@pytest.mark.multibackend
def test_overfitting_run_is_caught_and_best_weights_restored(digits):
    # 30 training images, a wide layer, no regularisation: memorises, then degrades.
    model = _mlp(128)
    monitor = OverfittingGapMonitor(action="stop", restore_best_weights=True, verbose=0)
    recorder = _WeightsPerEpoch()
    # EarlyStopping placed after the monitor reads the gap it writes
    early = keras.callbacks.EarlyStopping("gap_accuracy", mode="min", patience=100)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(
            digits.x_train[:30], digits.y_train[:30], validation_data=(digits.x_val, digits.y_val),
            epochs=25, batch_size=30, validation_batch_size=256, verbose=0,
            callbacks=[recorder, monitor, early],
        )
    h = history.history
    assert not [w for w in caught if "gap_accuracy" in str(w.message)]
    assert early.best == pytest.approx(min(h["gap_accuracy"]))
    assert monitor.overfitting
    assert monitor.gap_exceeded_epoch is not None
    np.testing.assert_allclose(h["gap_accuracy"], np.subtract(h["accuracy"], h["val_accuracy"]), atol=1e-6)
    np.testing.assert_allclose(h["gap_loss"], np.subtract(h["val_loss"], h["loss"]), atol=1e-6)
    assert max(h["gap_accuracy"]) > 0.1
    # stopped early, and the weights now are those recorded at the best epoch
    assert monitor.stopped_epoch == len(history.epoch) - 1 < 24
    assert monitor.best_value == pytest.approx(max(h["val_accuracy"]))
    assert monitor.best_epoch == int(np.argmax(h["val_accuracy"]))
    assert monitor.restored_epoch == monitor.best_epoch
    for now, best in zip(model.get_weights(), recorder.weights[monitor.best_epoch]):
        np.testing.assert_array_equal(now, best)
    if monitor.best_epoch != len(history.epoch) - 1:
        assert any(not np.array_equal(a, b) for a, b in zip(model.get_weights(), recorder.weights[-1]))


@pytest.mark.multibackend
def test_regularised_run_shows_no_overfitting_and_unbiased_gap(digits):
    x, y = digits.x_train[:640], digits.y_train[:640]
    model = _mlp(32, dropout=0.5, lr=0.01)
    subset = (x[:200], y[:200])
    # patience=1: a single epoch of rising validation loss or of a gap above 0.1 would count
    monitor = OverfittingGapMonitor(unbiased_subset=200, train_data=subset, patience=1, verbose=0)
    history = model.fit(x, y, validation_data=(digits.x_val, digits.y_val), epochs=3, batch_size=128,
                        validation_batch_size=256, verbose=0, callbacks=[monitor])
    h = history.history
    assert not monitor.overfitting
    assert monitor.verdict.startswith("no overfitting detected")
    assert all(gap < 0.1 for gap in h["gap_accuracy"])
    # the unbiased training figure is the inference-mode accuracy on the subset, computed apart
    predicted = np.argmax(model.predict(subset[0], verbose=0), axis=-1)
    assert h["train_eval_accuracy"][-1] == pytest.approx(np.mean(predicted == subset[1]), abs=1e-6)
    np.testing.assert_allclose(
        h["gap_accuracy"], np.subtract(h["train_eval_accuracy"], h["val_accuracy"]), atol=1e-6
    )
    # with dropout active the logged running accuracy is lower than the inference-mode one
    assert h["train_eval_accuracy"][-1] > h["accuracy"][-1]


def test_subset_is_fixed_and_sized():
    x = np.arange(100, dtype="float32").reshape(100, 1)
    y = np.arange(100)
    monitor = OverfittingGapMonitor(unbiased_subset=30, train_data=(x, y), verbose=0)
    monitor.on_train_begin()
    first = monitor._run.subset
    monitor.on_train_begin()
    second = monitor._run.subset
    assert len(first[0]) == 30 and len(set(first[1].tolist())) == 30
    np.testing.assert_array_equal(first[0][:, 0], first[1])  # x and y drawn together
    np.testing.assert_array_equal(first[1], second[1])


def test_gap_state_decides_without_a_model():
    # The decisions of the monitor, on epoch logs alone (keras_cnnlab.callbacks.gap_state).
    from keras_cnnlab.callbacks.gap_state import GapRun

    run = GapRun("accuracy", max_gap=0.05, patience=2)
    assert run.resolve({"loss": 1.0}, "auto", lambda key: "max").startswith("the epoch logs have no validation")
    run = GapRun("accuracy", max_gap=0.05, patience=2)
    script = [(0.9, 0.9, 0.6, 0.65), (0.7, 0.8, 0.8, 0.7), (0.5, 0.9, 0.9, 0.72)]  # loss, val_loss, acc, val_acc
    findings = []
    for epoch, (loss, val_loss, acc, val_acc) in enumerate(script):
        logs = {"loss": loss, "val_loss": val_loss, "accuracy": acc, "val_accuracy": val_acc}
        if not run.resolved:
            assert run.resolve(logs, "auto", lambda key: "max") is None
        gap, val_value = run.add_gaps(epoch, logs)
        assert logs["gap_accuracy"] == pytest.approx(acc - val_acc) and gap == logs["gap_accuracy"]
        assert logs["gap_loss"] == pytest.approx(val_loss - loss) and val_value == val_acc
        assert run.check_divergence(epoch, logs) is None
        run.track_best(epoch, val_value)
        findings += run.judge(epoch, gap)
    assert (run.best_epoch, run.best_value) == (2, 0.72)
    assert run.gap_exceeded_epoch == 1 and findings[-1].startswith("epoch 3: gap_accuracy 0.1800 above max_gap 0.05")
    assert run.verdict() == "gap_accuracy above max_gap 0.05 from epoch 2 for 2 epochs"
    assert run.check_divergence(3, {"loss": math.nan}) == "epoch 4: training diverged (loss = nan)"
    assert run.judge(4, 1.0) == []  # nothing is judged after divergence


def test_an_onset_that_passes_is_qualified_when_val_loss_beats_its_old_best():
    # val_loss rises for 3 epochs (onset at epoch 3, 1-based), then falls below 0.50, its best
    # before the rise: the finding says the rise was temporary and the verdict keeps both.
    losses = [(1.0, 0.60), (0.8, 0.50), (0.7, 0.55), (0.6, 0.56), (0.5, 0.58), (0.4, 0.52), (0.3, 0.47), (0.2, 0.45)]
    monitor = OverfittingGapMonitor(monitor="loss", max_gap=None, patience=3, verbose=0)
    _drive(monitor, _tiny_model(), epochs=len(losses),
           logs_fn=lambda e: {"loss": losses[e][0], "val_loss": losses[e][1]})
    findings = monitor._run.messages
    assert findings[0].startswith("epoch 5: overfitting from epoch 3")
    assert findings[1] == (
        "epoch 7: val_loss 0.4700 is below its best before the onset (0.5000, epoch 2): "
        "the rise from epoch 3 was temporary"
    )
    assert len(findings) == 2  # said once, not again at epoch 8's 0.45
    assert monitor.onset.epoch == 2 and monitor.recovered == (6, 0.47)
    assert monitor.verdict.endswith(
        "a rise that passed: val_loss fell to 0.4700 at epoch 7, below its best before the onset"
    )
