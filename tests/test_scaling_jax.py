"""keras.distribution.DataParallel over two simulated CPU devices under JAX (docs/scaling.md).

XLA_FLAGS=--xla_force_host_platform_device_count=2 must be set before jax is
imported, so each check runs in a fresh interpreter with KERAS_BACKEND=jax,
whatever backend runs the suite. Two CPU "devices" share the same cores: these
tests show correctness (same losses as one device, same random draws, the
callbacks, save and reload), not speed.
"""

from __future__ import annotations

import importlib.util
import json
import os

import pytest
from _subprocess import run_python

pytestmark = pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")

# Two CPU devices; and XLA's CPU compiler without its optimisation passes, which cuts each
# compilation from about 1.3 s to 0.1 s here (both runs compared use the same flags).
FLAGS = ("--xla_force_host_platform_device_count=2", "--xla_backend_optimization_level=0")
ENV = {
    "KERAS_BACKEND": "jax",
    "JAX_PLATFORMS": "cpu",
    "XLA_FLAGS": " ".join(filter(None, [os.environ.get("XLA_FLAGS"), *FLAGS])),
}


def _run(code: str, timeout: int = 600) -> dict:
    done = run_python(code, env_extra=ENV, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


SPLITS = r"""
import json
import jax, keras, numpy as np
from keras_cnnlab.distribute import check_global_batch

keras.distribution.set_distribution(keras.distribution.DataParallel(devices=jax.devices()))
rng = np.random.default_rng(0)
x = rng.random((257, 8, 8, 1), dtype=np.float32)
y = rng.integers(0, 10, 257)
cases = {}
for n, batch in [(256, 32), (256, 33), (257, 32), (33, 64), (32, 33), (256, 1)]:
    try:
        check_global_batch(batch, num_examples=n)
        checked = None
    except ValueError as error:
        checked = str(error)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    try:
        model.fit(x[:n], y[:n], batch_size=batch, epochs=1, verbose=0)
        keras_error = None
    except Exception as error:
        keras_error = f"{type(error).__name__}: {error}"
    cases[f"{n}/{batch}"] = {"checked": checked, "keras": keras_error}

# the gap monitor's unbiased subset and evaluation batch, trimmed to split: 63 -> 62, 31 -> 30
import warnings
from keras_cnnlab import OverfittingGapMonitor, Recipe
from keras_cnnlab.tuning import CNNHyperModel, SearchSpace
import keras_tuner as kt, tempfile

model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
monitor = OverfittingGapMonitor("loss", unbiased_subset=63, eval_batch_size=31, train_data=(x, y), verbose=0)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    history = model.fit(x[:256], y[:256], batch_size=32, epochs=1, callbacks=[monitor], verbose=0)
subset = {"train_eval_loss": "train_eval_loss" in history.history, "size": len(monitor._run.subset[0]),
          "warnings": [str(w.message) for w in caught if "subset" in str(w.message)]}

# Recipe.fit and a search refuse a batch size that does not split, before training
try:
    Recipe(batch_size=33, epochs=1).fit(model, x[:256], y[:256], verbose=0)
    recipe_error = None
except ValueError as error:
    recipe_error = str(error)
# Recipe.predict on 75 images (no batch size splits them all): padded, then trimmed
predicted = Recipe().predict(model, x[:75])
reference = np.asarray(model.predict(x[:74], batch_size=74, verbose=0))
recipe_predict = {"shape": list(predicted.shape), "same": bool(np.allclose(predicted[:74], reference, atol=1e-5))}


def search_error(batch_size, examples, name):  # what a search raises, and how many trials it made
    space = SearchSpace(num_blocks=1, filters=4, kernel_size=3, head_units=0, batch_size=batch_size,
                        augmentation="none")
    tuner = kt.RandomSearch(CNNHyperModel((8, 8, 1), 10, search_space=space, report=False, gap_monitor=False),
                            objective="val_accuracy", max_trials=3, directory=tempfile.mkdtemp(), project_name=name)
    try:
        tuner.search(x[:examples], y[:examples], validation_data=(x[:64], y[:64]), epochs=1, verbose=0)
        return None, len(tuner.oracle.trials)
    except Exception as error:
        return f"{type(error).__name__}: {error}", len(tuner.oracle.trials)


search_error_, failed_trials = search_error(33, 256, "odd")  # the same batch size in every trial
# a tuned batch size, but 255 examples: no batch size splits them under JAX, so the first trial stops it too
data_error, _ = search_error([32, 64], 255, "data")

# KerasTuner clears the Keras session before each trial, which drops the distribution: the
# hypermodel sets it again, so every trial trains on the mesh
seen = []


class Probe(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        seen.append({"distribution": type(keras.distribution.distribution()).__name__,
                     "sharding": str(getattr(self.model.weights[0].value, "sharding", ""))[:30]})


even = SearchSpace(num_blocks=1, filters=4, kernel_size=3, head_units=0, batch_size=32, augmentation="none")
tuner = kt.RandomSearch(CNNHyperModel((8, 8, 1), 10, search_space=even, report=False, gap_monitor=False),
                        objective="val_accuracy", max_trials=2, directory=tempfile.mkdtemp(), project_name="even")
tuner.search(x[:256], y[:256], validation_data=(x[:64], y[:64]), epochs=1, verbose=0, callbacks=[Probe()])
print(json.dumps({"devices": len(jax.devices()), "replicas": check_global_batch(32), "cases": cases,
                  "subset": subset, "recipe_error": recipe_error, "search_error": search_error_,
                  "recipe_predict": recipe_predict, "data_error": data_error,
                  "trials": failed_trials, "seen": seen}))
"""


@pytest.mark.slow
def test_batch_that_does_not_split_gets_a_clear_error():
    result = _run(SPLITS)
    assert result["devices"] == result["replicas"] == 2
    cases = result["cases"]
    # check_global_batch refuses exactly the runs Keras cannot do, every batch included
    for case, outcome in cases.items():
        assert (outcome["checked"] is None) == (outcome["keras"] is None), (case, outcome)
    assert [c for c, o in cases.items() if o["keras"] is None] == ["256/32", "32/33"]
    # what Keras says today: jax's sharding error, which names neither batch_size nor replicas
    assert "IndivisibleError" in cases["256/33"]["keras"] and "batch_size" not in cases["256/33"]["keras"]
    assert cases["256/33"]["checked"].startswith(
        "Invalid value for argument `batch_size`: 33 images do not split over 2 replicas ("
    )
    assert "Use a multiple of 2, e.g. 32 or 34." in cases["256/33"]["checked"]
    # the last batch of 1 of 257 examples: no batch size helps, the data must change
    assert "last batch of 1 image" in cases["257/32"]["checked"] and "x[:256]" in cases["257/32"]["checked"]
    assert "all 33 examples" in cases["33/64"]["checked"]
    assert "e.g. 2." in cases["256/1"]["checked"]
    # the gap monitor trims its subset (63 -> 62) and batch (31 -> 30) instead of failing in evaluate
    assert result["subset"] == {"train_eval_loss": True, "size": 62, "warnings": []}
    # Recipe.fit and a search with one batch size for every trial say it before training
    assert result["recipe_error"].startswith("Invalid value for argument `batch_size`: 33 images do not split over 2")
    assert result["search_error"].startswith("FatalValueError: Invalid value for argument `batch_size`: 33 images")
    assert result["trials"] == 1  # the first trial stopped the search
    assert result["recipe_predict"] == {"shape": [75, 10], "same": True}
    assert result["data_error"].startswith("FatalValueError: Invalid value for argument `batch_size`: 255 examples")
    # both trials of a search under DataParallel train on the mesh, whatever KerasTuner clears
    assert result["seen"] == [{"distribution": "DataParallel", "sharding": "NamedSharding(mesh=Mesh('batch"}] * 2


TRAIN = r"""
import io, json, os, tempfile
import jax, keras, numpy as np, tensorflow as tf
from rich.console import Console
from keras_cnnlab import (CutMix, MixUp, OverfittingGapMonitor, RichTrainingReport,
                          augmentation_preset, build_cnn, compile_for, load_dataset)

data = load_dataset("digits", one_hot=True)
x, y = data.x_train[:256], data.y_train[:256]
xv, yv = data.x_val[:64], data.y_val[:64]
probe = data.x_train[:32]


class Weights(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.per_epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.per_epoch.append(self.model.get_weights())


def sharded(array, distribution):
    if distribution is None:
        return keras.ops.convert_to_tensor(array)
    return keras.distribution.distribute_tensor(array, distribution.get_data_layout(array.shape))


def run(devices):
    distribution = keras.distribution.DataParallel(devices=jax.devices()[:devices]) if devices > 1 else None
    keras.distribution.set_distribution(distribution)
    out = {}
    # random layers on a batch split over the devices: the same draws as on one device
    images = sharded(probe, distribution)
    out["digits"] = np.asarray(augmentation_preset("digits", seed=3)(images, training=True))
    out["input_spec"] = str(getattr(getattr(images, "sharding", None), "spec", None))

    keras.utils.set_random_seed(0)
    model = build_cnn(data.input_shape, 10, filters=(8, 16), seed=0,
                      augmentation=augmentation_preset("digits", seed=0))
    compile_for(model, y)
    # MixUp and CutMix in the input pipeline, as their docs show; fit splits the mixed batches
    train = (tf.data.Dataset.from_tensor_slices((x, y)).batch(32)
             .map(CutMix(seed=2)).map(MixUp(alpha=0.2, seed=1)))
    text = io.StringIO()
    report = RichTrainingReport(Console(file=text, width=120))
    monitor = OverfittingGapMonitor("loss", max_gap=0.0, patience=1, start_from_epoch=1, action="stop",
                                    restore_best_weights=True, unbiased_subset=64, train_data=(x, y),
                                    eval_batch_size=32, verbose=0)
    weights = Weights()
    history = model.fit(train, validation_data=(xv, yv), epochs=3, callbacks=[weights, report, monitor], verbose=0)
    out["history"] = {k: [float(v) for v in vs] for k, vs in history.history.items()}
    out["report"] = {"records": len(report.records), "images": [r.images for r in report.records],
                     "lines": sum(line.startswith("Epoch ") for line in text.getvalue().splitlines()),
                     "summary": "Gap monitor" in text.getvalue()}
    restored = monitor.restored_epoch
    out["monitor"] = {"stopped": monitor.stopped_epoch, "restored": restored,
                      "restored_equal": restored is not None and all(
                          np.array_equal(a, b) for a, b in zip(model.get_weights(), weights.per_epoch[restored]))}
    if distribution is not None:  # saved under DataParallel, reloaded onto the mesh
        path = os.path.join(tempfile.mkdtemp(), "model.keras")
        model.save(path)
        again = keras.models.load_model(path)
        out["weights_equal"] = all(np.array_equal(a, b) for a, b in zip(model.get_weights(), again.get_weights()))
        out["reloaded_val_loss"] = float(again.evaluate(xv, yv, batch_size=32, verbose=0, return_dict=True)["loss"])
        out["reloaded_sharding"] = str(getattr(again.weights[0].value, "sharding", ""))
    return out


one, two = run(1), run(2)
close = lambda a, b: bool(np.allclose(a, b, atol=1e-5))
print(json.dumps({
    "devices": len(jax.devices()),
    "same_draws": close(one["digits"], two["digits"]),
    "augments": not np.allclose(one["digits"], probe),
    "input_spec": two["input_spec"],
    "one": {k: one[k] for k in ("history", "report", "monitor")},
    "two": {k: two[k] for k in ("history", "report", "monitor", "weights_equal", "reloaded_val_loss",
                                "reloaded_sharding")},
}))
"""


@pytest.mark.slow
def test_data_parallel_training_matches_one_device():
    result = _run(TRAIN)
    assert result["devices"] == 2
    # random layers and their SeedGenerator: the same draws on a sharded batch as on one device
    assert result["same_draws"] is True and result["augments"] is True
    assert result["input_spec"] == "P('batch', None, None, None)"  # split over the devices
    one, two = result["one"], result["two"]
    # CutMix and MixUp in tf.data, the digits preset in the model: the loss curve of one device
    assert len(two["history"]["loss"]) == len(one["history"]["loss"]) >= 2
    for key in ("loss", "val_loss", "train_eval_loss", "gap_loss"):
        assert two["history"][key] == pytest.approx(one["history"][key], rel=1e-3, abs=1e-4), key
    # the report counts global batches; the monitor decides as on one device and restores
    n = len(two["history"]["loss"])
    assert two["report"] == {"records": n, "images": [256] * n, "lines": n, "summary": True}
    assert two["monitor"] == one["monitor"]
    assert two["monitor"]["stopped"] == n - 1 and two["monitor"]["restored_equal"] is True
    # saved under DataParallel, reloaded onto the mesh: the restored epoch's weights and val_loss
    assert two["weights_equal"] is True and "Mesh('batch': 2" in two["reloaded_sharding"]
    restored = two["monitor"]["restored"]
    assert two["reloaded_val_loss"] == pytest.approx(two["history"]["val_loss"][restored], rel=1e-5)


# --- jax.distributed: two processes, one CPU device each ---------------------------------

PROCESS = r"""
import json, os, sys
import keras

process, processes, port = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
if processes > 1:  # the JAX runtime over every process (jax.distributed), through Keras
    keras.distribution.initialize(f"127.0.0.1:{port}", num_processes=processes, process_id=process)
import jax, numpy as np, tensorflow as tf
from keras_cnnlab import (OverfittingGapMonitor, RichTrainingReport, augmentation_preset, build_cnn,
                          compile_for, load_dataset)
from keras_cnnlab.distribute import is_chief, replica_count

keras.distribution.set_distribution(keras.distribution.DataParallel())  # every device of every process
data = load_dataset("digits")
x, y = data.x_train[:256], data.y_train[:256]
keras.utils.set_random_seed(0)
model = build_cnn(data.input_shape, 10, filters=(8, 16), seed=0, augmentation=augmentation_preset("digits", seed=0))
compile_for(model, y)
# a tf.data input of global batches: Keras gives each process its share
train = tf.data.Dataset.from_tensor_slices((x, y)).batch(64)
val = tf.data.Dataset.from_tensor_slices((data.x_val[:64], data.y_val[:64])).batch(64)
monitor = OverfittingGapMonitor("loss", max_gap=0.0, patience=1, start_from_epoch=1, action="stop",
                                restore_best_weights=True, unbiased_subset=64, train_data=(x, y), eval_batch_size=32)
history = model.fit(train, validation_data=val, epochs=4, callbacks=[RichTrainingReport(width=100), monitor],
                    verbose=0)
print("RESULT " + json.dumps({
    "devices": len(jax.devices()), "local": len(jax.local_devices()), "replicas": replica_count(),
    "chief": is_chief(), "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
    "stopped": monitor.stopped_epoch, "restored": monitor.restored_epoch,
}), flush=True)
"""


def _processes(tmp_path, count: int, extra_flags: str = "") -> list[tuple[int, str]]:
    """(exit code, output) of ``count`` processes running PROCESS together."""
    import socket
    import subprocess
    import sys

    from _subprocess import ROOT

    script = tmp_path / "process.py"
    script.write_text(PROCESS)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, **ENV, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "-1"}
    env["XLA_FLAGS"] = " ".join(filter(None, [os.environ.get("XLA_FLAGS"), "--xla_backend_optimization_level=0",
                                              extra_flags]))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    runs = [subprocess.Popen([sys.executable, str(script), str(i), str(count), str(port)], env=env, cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in range(count)]
    results = []
    for run in runs:
        try:
            out, _ = run.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            run.kill()
            out, _ = run.communicate()
        results.append((run.returncode, out))
    return results


def _result(out: str) -> dict:
    return json.loads([line for line in out.splitlines() if line.startswith("RESULT ")][-1][len("RESULT "):])


@pytest.mark.slow
def test_two_processes_train_as_one_process_with_two_devices(tmp_path):
    (code, out), = _processes(tmp_path, 1, "--xla_force_host_platform_device_count=2")
    assert code == 0, out[-3000:]
    one = _result(out)
    runs = _processes(tmp_path, 2)
    for code, out in runs:
        assert code == 0, out[-3000:]
    first, second = (_result(out) for _, out in runs)
    assert (one["devices"], one["local"]) == (2, 2)
    assert [(r["devices"], r["local"], r["replicas"]) for r in (first, second)] == [(2, 1, 2)] * 2
    # the same global batches, augmentation draws and gradients: the curves of one process
    for result in (first, second):
        for key in ("loss", "val_loss", "train_eval_loss", "gap_loss"):
            assert result["history"][key] == pytest.approx(one["history"][key], rel=1e-4, abs=1e-5), key
        # the gap monitor decides alike in every process: none waits in a collective the other left
        assert (result["stopped"], result["restored"]) == (one["stopped"], one["restored"]) != (None, None)
    # process 0 prints the report and the monitor; process 1 keeps them to itself
    assert (first["chief"], second["chief"]) == (True, False)
    chief, other = runs[0][1], runs[1][1]
    assert "Training: 4 epochs" in chief and "Gap monitor" in chief
    assert "Training:" not in other and "Epoch 1/4" not in other and "OverfittingGapMonitor" not in other
