"""A fit that resumes (``keras.callbacks.BackupAndRestore``): the report and the gap monitor.

The multi-worker case, a worker killed and the cluster restarted, is in
tests/test_scaling_tf.py.
"""

import io

import keras
import numpy as np
import pytest
from rich.console import Console

from keras_cnnlab import OverfittingGapMonitor, RichTrainingReport
from keras_cnnlab.data import load_dataset


class Interrupt(keras.callbacks.Callback):
    """Raises at the start of ``epoch``: a process killed between epochs."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("interrupted")


def _model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, activation="relu"),
                              keras.layers.Flatten(), keras.layers.Dense(10, activation="softmax")])
    model.compile(keras.optimizers.Adam(0.005), "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@pytest.mark.multibackend
def test_a_resumed_fit_says_so_and_numbers_its_epochs_from_the_backup(tmp_path):
    data = load_dataset("digits", limit=400, seed=0)
    x, y, xv, yv = data.x_train, data.y_train, data.x_val, data.y_val
    backup = str(tmp_path / "backup")
    model = _model()
    with pytest.raises(RuntimeError, match="interrupted"):
        model.fit(x, y, validation_data=(xv, yv), epochs=5, batch_size=64, verbose=0,
                  callbacks=[keras.callbacks.BackupAndRestore(backup), Interrupt(3)])
    saved = [w.copy() for w in model.get_weights()]  # the weights after epoch 3, backed up

    resumed = _model()  # a fresh process would build it again
    text = io.StringIO()
    report = RichTrainingReport(Console(file=text, width=120))
    seen = []

    class FirstEpoch(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if not seen:
                seen.append(all(np.array_equal(a, b) for a, b in zip(self.model.get_weights(), saved)))
            seen.append(epoch)

    monitor = OverfittingGapMonitor("loss", max_gap=None, unbiased_subset=64, train_data=(x, y), verbose=0)
    history = resumed.fit(x, y, validation_data=(xv, yv), epochs=5, batch_size=64, verbose=0,
                          callbacks=[keras.callbacks.BackupAndRestore(backup), FirstEpoch(), report, monitor])
    # restored the backed-up weights and went on from epoch 4 (index 3): nothing redone, nothing lost
    assert seen == [True, 3, 4]
    assert history.epoch == [3, 4]
    assert [r.epoch for r in report.records] == [3, 4]
    assert len(history.history["gap_loss"]) == 2
    out = text.getvalue()
    assert "Resumed at epoch 4/5: epochs 1-3 ran in an earlier fit, not in this report." in out
    assert out.index("Resumed at epoch 4/5") < out.index("Epoch 4/5")  # said before the first row
    assert [line.split()[1] for line in out.splitlines() if line.startswith("Epoch ")] == ["4/5", "5/5"]
    best = report.summary().best_epoch
    assert best in (3, 4)
    assert f"Best epoch   {best + 1} of epochs 4-5 (resumed): val_loss" in out
