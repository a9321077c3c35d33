"""TensorFlow's strategies on CPU (docs/scaling.md): batch splits, a tuner search, two workers.

Each check runs in fresh processes with KERAS_BACKEND=tensorflow: logical devices
are fixed when TensorFlow starts, and MultiWorkerMirroredStrategy needs one
process per worker (here two on 127.0.0.1, with TF_CONFIG and free ports).
CPU "devices" and workers on one machine show correctness, not speed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _subprocess import ROOT, run_python

sys.path.insert(0, str(ROOT / "bench"))
from _common import free_ports  # noqa: E402 (the benchmarks' helper: distinct free ports on 127.0.0.1)

ENV = {"KERAS_BACKEND": "tensorflow", "CUDA_VISIBLE_DEVICES": "-1"}

TWO_CPUS = r"""
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
"""


def _run(code: str, timeout: int = 600) -> tuple[dict, str]:
    done = run_python(code, env_extra=ENV, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1]), done.stdout


# --- MirroredStrategy: which global batches split --------------------------------------

SPLITS = TWO_CPUS + r"""
import json
import keras, numpy as np
from keras_cnnlab.distribute import check_global_batch

rng = np.random.default_rng(0)
x = rng.random((257, 8, 8, 1), dtype=np.float32)
y = rng.integers(0, 10, 257)
cases = {}
for n, batch in [(256, 32), (256, 33), (257, 32), (33, 64), (32, 33), (256, 1)]:
    with strategy.scope():
        model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
        model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    try:
        check_global_batch(batch, num_examples=n, model=model)  # outside the scope: the model's strategy
        checked = None
    except ValueError as error:
        checked = str(error)
    try:
        model.fit(x[:n], y[:n], batch_size=batch, epochs=1, verbose=0)
        keras_error = None
    except Exception as error:
        keras_error = f"{type(error).__name__}: {error}"
    cases[f"{n}/{batch}"] = {"checked": checked, "keras": keras_error}
with strategy.scope():
    try:
        check_global_batch(33)
        in_scope = None
    except ValueError as error:
        in_scope = str(error)
print(json.dumps({"outside_scope": check_global_batch(33), "in_scope": in_scope, "cases": cases}))
"""


@pytest.mark.slow
def test_mirrored_strategy_batch_that_does_not_split_gets_a_clear_error():
    result, _ = _run(SPLITS)
    cases = result["cases"]
    for case, outcome in cases.items():
        assert (outcome["checked"] is None) == (outcome["keras"] is None), (case, outcome)
    # TensorFlow splits an odd last batch unevenly and carries on; only the first batch must split
    assert [c for c, o in cases.items() if o["keras"] is None] == ["256/32", "257/32", "32/33"]
    # what Keras says today: a shape mismatch deep in the first-batch reduction
    assert "AddN" in cases["256/33"]["keras"] and "[17,8,8,1] != input 1: [16,8,8,1]" in cases["256/33"]["keras"]
    assert cases["256/33"]["checked"] == (
        "Invalid value for argument `batch_size`: 33 images do not split over 2 replicas (the replicas "
        "of tf.distribute.MirroredStrategy), and every replica needs an equal slice. Use a multiple of "
        "2, e.g. 32 or 34. Received batch_size=33."
    )
    assert "all 33 examples" in cases["33/64"]["checked"] and "e.g. 32." in cases["33/64"]["checked"]
    # without the model, only inside the strategy's scope is the strategy known
    assert result["outside_scope"] == 1
    assert result["in_scope"].startswith("Invalid value for argument `batch_size`: 33 images do not split over 2")


# --- KerasTuner with distribution_strategy= ---------------------------------------------

TUNER = TWO_CPUS + r"""
import json, tempfile
import keras, keras_tuner as kt
from keras_cnnlab.data import load_dataset
from keras_cnnlab.tuning import CNNHyperModel, SearchSpace

data = load_dataset("digits", limit=400, seed=0)
space = SearchSpace(num_blocks=1, filters=[4, 8], kernel_size=3, downsample=["max", "strided"],
                    downsample_factor=2, head_units=0, batch_size=64, augmentation="digits")
seen = []


class Probe(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        seen.append({"strategy": type(self.model.distribute_strategy).__name__,
                     "replicas": self.model.distribute_strategy.num_replicas_in_sync,
                     "variable": type(self.model.trainable_variables[0].value).__name__})


hypermodel = CNNHyperModel(data.input_shape, data.num_classes, search_space=space, report=True,
                           gap_monitor=True)
tuner = kt.RandomSearch(hypermodel, objective="val_accuracy", max_trials=2, seed=7,
                        distribution_strategy=strategy, directory=tempfile.mkdtemp(), project_name="ms")
tuner.search(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val), epochs=2, verbose=0,
             callbacks=[Probe()])
trials = list(tuner.oracle.trials.values())
best_trial = tuner.oracle.get_best_trials(1)[0]
best = tuner.get_best_models(1)[0]
print(json.dumps({
    "seen": seen, "statuses": [t.status for t in trials],
    "filters": sorted(t.hyperparameters.values["block1_filters"] for t in trials),
    "best_score": best_trial.score,
    "best_reloaded": best.evaluate(data.x_val, data.y_val, verbose=0, return_dict=True)["accuracy"],
}))
"""


@pytest.mark.slow
def test_tuner_search_under_mirrored_strategy():
    result, stdout = _run(TUNER)
    # every trial built and trained under the strategy, over both logical CPUs
    assert result["seen"] == [{"strategy": "MirroredStrategy", "replicas": 2, "variable": "MirroredVariable"}] * 2
    assert result["statuses"] == ["COMPLETED", "COMPLETED"]
    assert result["best_reloaded"] == pytest.approx(result["best_score"], abs=1e-6)
    # the report of each trial: its header, and the global batch of 64 over 2 replicas
    assert stdout.count("Trial #") == 2
    assert stdout.count("Training: 2 epochs of 6 steps (batch 64, 360 images per epoch)") == 2


# --- MultiWorkerMirroredStrategy: two worker processes ----------------------------------

# What every worker script starts with, after it has made `strategy`: the data and the model.
WORKER_MODEL = r'''
import keras, numpy as np
from keras_cnnlab import OverfittingGapMonitor, RichTrainingReport, build_cnn, compile_for, load_dataset

task = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
data = load_dataset("digits")
x, y = data.x_train[:256], data.y_train[:256]
keras.utils.set_random_seed(0)
with strategy.scope():
    model = build_cnn(data.input_shape, 10, filters=(8, 16), seed=0)
    compile_for(model, y)
'''

WORKER = r'''
import json, os, sys
import tensorflow as tf

strategy = tf.distribute.MultiWorkerMirroredStrategy()  # from TF_CONFIG, before any other op
''' + WORKER_MODEL + r'''
report = RichTrainingReport(width=100)  # standard output, as a user would leave it
monitor = OverfittingGapMonitor(max_gap=0.0, patience=1, start_from_epoch=1, action="stop",
                                restore_best_weights=True, unbiased_subset=64, train_data=(x, y))


def fit():
    return model.fit(x, y, validation_data=(data.x_val[:64], data.y_val[:64]), epochs=4, batch_size=32,
                     callbacks=[report, monitor], verbose=0)


# Keras 3.15's fit fails under MultiWorkerMirroredStrategy (keras-team/keras#20585). Record
# how, then patch its two faults for this process and train.
try:
    fit()
    unpatched = None
except Exception as error:
    unpatched = f"{type(error).__name__}: {str(error)[:200]}"
from keras_cnnlab.distribute import patch_multi_worker_fit

patched = [patch_multi_worker_fit(), patch_multi_worker_fit()]  # once: the second call does nothing
history = fit()
print("RESULT " + json.dumps({
    "task": task, "replicas": strategy.num_replicas_in_sync, "unpatched": unpatched, "patched": patched,
    "should_checkpoint": strategy.extended.should_checkpoint,
    "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
    "stopped": monitor.stopped_epoch, "restored": monitor.restored_epoch,
    "trainable": [float(np.sum(v.numpy())) for v in model.trainable_variables],
}), flush=True)
'''

CLUSTER_TIMEOUT = 240


def _start_workers(folder: Path, script: str, ports: list[int], env_extra=None) -> list:
    """One process per port running ``script`` with its TF_CONFIG (a chief-less cluster), output to a file."""
    path = folder / "worker.py"
    path.write_text(script)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    env = {**os.environ, **ENV, "TF_CPP_MIN_LOG_LEVEL": "3", **(env_extra or {})}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    workers = []
    for index in range(len(ports)):
        config = {"cluster": cluster, "task": {"type": "worker", "index": index}}
        output = open(folder / f"worker{index}-{time.monotonic_ns()}.out", "w+")  # noqa: SIM115 (closed in _wait)
        process = subprocess.Popen([sys.executable, str(path)], env={**env, "TF_CONFIG": json.dumps(config)},
                                   stdout=output, stderr=subprocess.STDOUT, cwd=ROOT)
        workers.append((process, output))
    return workers


def _wait(workers, timeout: float = CLUSTER_TIMEOUT) -> tuple[list[int | None], list[str]]:
    """(exit codes, outputs) of ``workers``; ``None`` for one still running after ``timeout`` (then killed)."""
    started = time.monotonic()
    for process, _ in workers:
        try:
            process.wait(timeout=max(1.0, timeout - (time.monotonic() - started)))
        except subprocess.TimeoutExpired:
            pass
    codes = [process.poll() for process, _ in workers]
    texts = []
    for process, output in workers:
        if process.poll() is None:
            process.kill()
            process.wait()
        output.seek(0)
        texts.append(output.read())
        output.close()
    return codes, texts


def _two_workers(folder: Path) -> dict:
    """Both workers' RESULT and output: a chief-less cluster, worker 0 acting as chief."""
    codes, texts = _wait(_start_workers(folder, WORKER, free_ports(2)))
    hung = [i for i, code in enumerate(codes) if code is None]
    assert not hung, f"workers {hung} hung:\n{texts[hung[0]][-3000:]}"
    for code, text in zip(codes, texts):
        assert code == 0, text[-3000:]
    return {"outputs": texts, "results": [_result(text) for text in texts]}


def _result(text: str) -> dict | None:
    lines = [line for line in text.splitlines() if line.startswith("RESULT ")]
    return json.loads(lines[-1][len("RESULT "):]) if lines else None


@pytest.mark.slow
def test_two_workers_with_the_report_and_the_gap_monitor(tmp_path):
    cluster = _two_workers(tmp_path)  # both exited 0: neither hung in a collective
    first, second = cluster["results"]
    for result in (first, second):
        assert result["replicas"] == 2
        # keras-team/keras#20585: when this fails, Keras fixed it; patch_multi_worker_fit can go
        assert result["unpatched"].startswith("ValueError: Attempt to convert a value (PerReplica:")
        assert result["patched"] == [True, False]

    # the logs are all-reduced, so every worker judges the same figures
    assert first["history"] == second["history"]
    history = first["history"]
    assert history["gap_accuracy"] == pytest.approx(
        [t - v for t, v in zip(history["train_eval_accuracy"], history["val_accuracy"])], abs=1e-6
    )
    # max_gap=0 from epoch 1: both stop at the same epoch and restore the same one
    assert first["stopped"] == second["stopped"] is not None
    assert first["restored"] == second["restored"] is not None
    assert len(history["loss"]) == first["stopped"] + 1
    assert first["trainable"] == second["trainable"]

    # the chief's report; what tells the chief from the others: worker 0 of a chief-less cluster
    chief, other = cluster["outputs"]
    assert "Training: 4 epochs of 8 steps (batch 32, 256 images per epoch)" in chief and "Gap monitor" in chief
    assert (first["should_checkpoint"], second["should_checkpoint"]) == (True, False)
    # the other worker keeps its report in memory and its monitor quiet: nothing printed twice
    assert "Training:" not in other and "Epoch 1/4" not in other and "OverfittingGapMonitor" not in other


# --- BackupAndRestore: a worker killed mid-epoch, the cluster restarted ------------------

RESUMING_WORKER = r'''
import json, os, signal
import numpy as np
import tensorflow as tf
from tensorflow.python.distribute import collective_all_reduce_strategy

# A worker that loses a peer notices it at the next health check (every 30 s by default):
# every 2 s here, so that the test does not wait.
collective_all_reduce_strategy.CollectiveAllReduceExtended._check_health_interval = 2
strategy = tf.distribute.MultiWorkerMirroredStrategy()
from keras_cnnlab.distribute import patch_multi_worker_fit

patch_multi_worker_fit()
''' + WORKER_MODEL + r'''
kill_epoch = int(os.environ.get("KILL_EPOCH", "-1")) if task == 1 else -1


def sums():
    return [float(np.sum(v.numpy())) for v in model.trainable_variables]


class Trace(keras.callbacks.Callback):
    """Prints the weights when training starts (after the restore) and after every epoch."""

    def on_train_begin(self, logs=None):
        print("BEGIN " + json.dumps(sums()), flush=True)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.epoch == kill_epoch and batch == 2:
            os.kill(os.getpid(), signal.SIGKILL)  # as the machine dying: no hook, no clean-up

    def on_epoch_end(self, epoch, logs=None):
        print("EPOCH " + json.dumps({"epoch": epoch, "weights": sums()}), flush=True)


# Keras 3's BackupAndRestore is not multi-worker aware: every worker writes its own backup
backup = keras.callbacks.BackupAndRestore(os.path.join(os.environ["BACKUP"], f"worker{task}"))
monitor = OverfittingGapMonitor(max_gap=None, unbiased_subset=64, train_data=(x, y))
history = model.fit(x, y, validation_data=(data.x_val[:64], data.y_val[:64]), epochs=6, batch_size=32,
                    callbacks=[backup, Trace(), RichTrainingReport(width=100), monitor], verbose=0)
print("RESULT " + json.dumps({"epochs": history.epoch, "weights": sums()}), flush=True)
'''


def _lines(text: str, tag: str) -> list:
    return [json.loads(line[len(tag) + 1:]) for line in text.splitlines() if line.startswith(tag + " ")]


@pytest.mark.slow
def test_backup_and_restore_resumes_a_killed_worker_without_losing_epochs(tmp_path):
    ports = free_ports(2)
    env = {"BACKUP": str(tmp_path / "backup")}
    # worker 1 dies at step 3 of epoch 4; worker 0 finds its peer gone and stops with an error
    codes, (first, second) = _wait(_start_workers(tmp_path, RESUMING_WORKER, ports, {**env, "KILL_EPOCH": "3"}))
    assert codes[1] == -signal.SIGKILL, second[-3000:]
    assert codes[0] not in (None, 0), first[-3000:]  # not hung in a collective: it failed, and said why
    assert "UnavailableError" in first or "is down" in first, first[-3000:]
    done = {index: [e["epoch"] for e in _lines(text, "EPOCH")] for index, text in enumerate((first, second))}
    assert done == {0: [0, 1, 2], 1: [0, 1, 2]}
    before = {index: _lines(text, "EPOCH")[-1]["weights"] for index, text in enumerate((first, second))}

    # both restarted, as a cluster manager would: each restores its backup and goes on from epoch 4
    codes, (first, second) = _wait(_start_workers(tmp_path, RESUMING_WORKER, ports, env))
    assert codes == [0, 0], (first + second)[-3000:]
    for index, text in enumerate((first, second)):
        assert _lines(text, "BEGIN")[0] == before[index]  # the weights of the last completed epoch
        assert _lines(text, "RESULT")[0]["epochs"] == [3, 4, 5]  # nothing redone, nothing lost
    assert _lines(first, "RESULT")[0]["weights"] == _lines(second, "RESULT")[0]["weights"]
    # the chief's report says where it resumed and numbers the epochs of the whole run
    assert "Resumed at epoch 4/6: epochs 1-3 ran in an earlier fit, not in this report." in first
    assert [line.split()[1] for line in first.splitlines() if line.startswith("Epoch ")] == ["4/6", "5/6", "6/6"]
    assert "Resumed" not in second and "Epoch 4/6" not in second
