"""Both callbacks under tf.distribute.MirroredStrategy with two logical CPU devices.

Logical devices must be configured before TensorFlow initialises, so the run
happens in a fresh process.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import pytest

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="tf.distribute needs the TensorFlow backend"
)

SCRIPT = r"""
import io, json, re
import tensorflow as tf

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    cpu, [tf.config.LogicalDeviceConfiguration(), tf.config.LogicalDeviceConfiguration()]
)
import keras
import numpy as np
from rich.console import Console

from keras_cnnlab import OverfittingGapMonitor, RichTrainingReport
from keras_cnnlab.data import load_dataset

keras.utils.set_random_seed(0)
data = load_dataset("digits")
x, y = data.x_train[:96], data.y_train[:96]
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with strategy.scope():
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])


class Weights(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.per_epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.per_epoch.append(self.model.get_weights())


buffer = io.StringIO()
report = RichTrainingReport(Console(file=buffer, width=120))
monitor = OverfittingGapMonitor(max_gap=0.0, patience=1, start_from_epoch=1, action="stop",
                                restore_best_weights=True, unbiased_subset=48, train_data=(x, y), verbose=0)
weights = Weights()
history = model.fit(x, y, validation_data=(data.x_val, data.y_val), epochs=4, batch_size=32,
                    callbacks=[weights, report, monitor], verbose=0)
h = history.history
text = buffer.getvalue()
restored = monitor.restored_epoch
print(json.dumps({
    "replicas": strategy.num_replicas_in_sync,
    "epochs_run": len(history.epoch),
    "gap": h["gap_accuracy"],
    "expected_gap": (np.subtract(h["train_eval_accuracy"], h["val_accuracy"])).tolist(),
    "records": len(report.records),
    "images": [r.images for r in report.records],
    "control": bool(re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text)),
    "epoch_lines": sum(line.startswith("Epoch ") for line in text.splitlines()),
    "has_summary": "Gap monitor" in text and "Best epoch" in text,
    "stopped": monitor.stopped_epoch,
    "restored": restored,
    "restored_equal": None if restored is None else all(
        np.array_equal(a, b) for a, b in zip(model.get_weights(), weights.per_epoch[restored])
    ),
}))
"""


def test_mirrored_strategy_two_logical_cpus():
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3",
               PYTHONPATH=os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True,
                          timeout=900, cwd=root)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["replicas"] == 2
    n = result["epochs_run"]
    assert result["records"] == result["epoch_lines"] == n
    assert result["images"] == [96] * n  # global batches of 32: 3 steps of 96 images
    assert result["gap"] == pytest.approx(result["expected_gap"], abs=1e-6)
    assert not result["control"] and result["has_summary"]
    # max_gap=0 from epoch 1 on: the first positive gap (seeded: epoch 1's) stops training,
    # and the best epoch's weights come back
    assert result["stopped"] is not None and n == result["stopped"] + 1
    assert result["restored"] is not None and result["restored_equal"] is True
