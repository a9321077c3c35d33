"""RichTrainingReport: output per console kind, the table, the summary, exports, copies."""

import copy
import io
import os
import re
import subprocess
import sys
import textwrap
import threading
import time
import types

import keras
import numpy as np
import pytest
from rich.console import Console

from keras_cnnlab import OverfittingGapMonitor, RichTrainingReport
from keras_cnnlab.data import load_dataset

# What a log file must not contain: C0 control characters other than tab and newline, DEL.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    # as conftest's, without the full gc.collect() (about 1.5 s per test with TensorFlow loaded)
    keras.utils.set_random_seed(0)
    yield
    keras.backend.clear_session(free_memory=False)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _model(lr=0.005):
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def _plain_console(width=120):
    buffer = io.StringIO()
    return Console(file=buffer, width=width), buffer


SCRIPT = [  # epoch logs of a scripted fit
    {"loss": 1.20, "accuracy": 0.60, "val_loss": 0.90, "val_accuracy": 0.70},
    {"loss": 0.80, "accuracy": 0.75, "val_loss": 0.70, "val_accuracy": 0.78},
    {"loss": 0.50, "accuracy": 0.85, "val_loss": 0.80, "val_accuracy": 0.80},
]


def _drive(callbacks, model=None, script=SCRIPT, steps=4, pause=0.0):
    """Run the hooks through Keras's CallbackList, as fit does."""
    model = model or _model()
    cbs = keras.callbacks.CallbackList(callbacks, model=model, epochs=len(script), steps=steps, verbose=0)
    cbs.on_train_begin()
    for epoch, logs in enumerate(script):
        cbs.on_epoch_begin(epoch)
        for step in range(steps):
            cbs.on_train_batch_begin(step)
            cbs.on_train_batch_end(step, {"loss": logs["loss"], "accuracy": logs["accuracy"]})
            time.sleep(pause)
        cbs.on_epoch_end(epoch, dict(logs))
    cbs.on_train_end()
    return model


@pytest.mark.multibackend
def test_file_output_is_plain_and_has_the_table_in_place_of_keras_bar(digits, capsys):
    console, buffer = _plain_console()
    report = RichTrainingReport(console)
    model = _model(lr=0.005)
    x, y = digits.x_train[:200], digits.y_train[:200]
    history = model.fit(x, y, validation_data=(digits.x_val, digits.y_val), epochs=2, batch_size=32,
                        callbacks=[report, OverfittingGapMonitor(verbose=0)])  # verbose left at "auto"
    assert capsys.readouterr().out == ""  # Keras added no progress bar of its own
    text = buffer.getvalue()
    assert not CONTROL.search(text)
    lines = text.splitlines()
    assert lines[0] == "Training: 2 epochs of 7 steps (batch 32, 200 images per epoch)"
    epoch_lines = [line for line in lines if line.startswith("Epoch ")]
    assert [line.split()[1] for line in epoch_lines] == ["1/2", "2/2"]
    for i, line in enumerate(epoch_lines):  # one line per epoch with its figures
        assert f"val_loss {history.history['val_loss'][i]:.4f}" in line
        assert f"gap_accuracy {history.history['gap_accuracy'][i]:.4f}" in line
    table = text[text.index(epoch_lines[-1]) + len(epoch_lines[-1]):]
    assert re.search(r"epoch +loss +accuracy +loss +accuracy +loss +accuracy +lr +time +img/s", table)
    for i, val_loss in enumerate(history.history["val_loss"]):
        assert re.search(rf"^ *{i + 1}( \*)? .* {val_loss:.4f} ", table, re.M)
    assert "Best epoch" in table and "Gap monitor  no overfitting detected" in table
    summary = report.summary()
    assert summary.images == 2 * 200  # the last batch of 200 / 32 is partial: counted exactly
    assert [r.images for r in report.records] == [200, 200]
    assert summary.best_epoch == int(np.argmin(history.history["val_loss"]))
    assert [r.learning_rate for r in report.records] == pytest.approx([0.005, 0.005])
    assert summary.final_gaps["gap_accuracy"] == pytest.approx(history.history["gap_accuracy"][-1])

    # Reused for another fit, with verbose=0: a fresh table with that fit's epoch only.
    model.fit(x, y, epochs=1, batch_size=64, verbose=0, callbacks=[report])
    assert capsys.readouterr().out == ""
    second = buffer.getvalue()[len(text):]
    assert "Training: 1 epoch of 4 steps (batch 64" in second
    assert len(report.records) == 1 and report.summary().monitor == "loss"
    assert not CONTROL.search(second)


@pytest.mark.multibackend
def test_best_epoch_is_marked_in_line_table_and_summary():
    console, buffer = _plain_console()
    report = RichTrainingReport(console, batch_size=32)
    _drive([report])
    lines = buffer.getvalue().splitlines()
    epoch_lines = [line for line in lines if line.startswith("Epoch ")]
    assert [line.endswith("* best val_loss") for line in epoch_lines] == [True, True, False]
    summary = report.summary()
    assert (summary.best_epoch, summary.best_value, summary.monitor) == (1, 0.70, "val_loss")
    table = report.export_text()
    assert re.search(r"^ +2 \* +0\.8000 +0\.7500 +0\.7000 +0\.7800", table, re.M)
    assert "* best val_loss" in table
    assert "Best epoch   2 of 3: val_loss 0.7000" in table
    assert summary.images == 3 * 4 * 32

    report = RichTrainingReport(io.StringIO(), monitor="val_accuracy")  # mode inferred: max
    _drive([report])
    assert report.summary().best_epoch == 2
    report = RichTrainingReport(io.StringIO(), monitor="val_loss", mode="max")
    _drive([report])
    assert report.summary().best_epoch == 0


def test_stdout_sent_to_a_file_and_a_log_path_get_plain_lines(tmp_path):
    # What a user's shell does with `python train.py > train.log`, and console="path".
    log = tmp_path / "report.log"
    code = textwrap.dedent(f"""
        import keras, numpy as np
        from keras_cnnlab import RichTrainingReport
        x = np.random.default_rng(0).random((64, 8, 8, 1), dtype="float32")
        y = np.arange(64) % 10
        model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(),
                                  keras.layers.Dense(10, activation="softmax")])
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(x, y, validation_split=0.25, epochs=2, batch_size=16,
                  callbacks=[RichTrainingReport(), RichTrainingReport({str(log)!r})])
    """)
    stdout = tmp_path / "stdout.log"
    env = {**os.environ, "TERM": "xterm-256color", "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("FORCE_COLOR", None)
    with open(stdout, "w") as out:
        done = subprocess.run([sys.executable, "-c", code], stdout=out, stderr=subprocess.PIPE,
                              text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    for path in (stdout, log):
        text = path.read_text()
        assert text.count("Epoch 2/2") == 1 and "Best epoch" in text, text
        assert not CONTROL.search(text), repr(CONTROL.search(text))


def test_batch_hooks_finishing_out_of_order_still_count_every_step():
    # Keras runs batch-end hooks on a thread pool (JAX, PyTorch): the last batch's hook
    # may finish before the one before it.
    report = RichTrainingReport(io.StringIO(), batch_size=32)
    model = _model()
    cbs = keras.callbacks.CallbackList([report], model=model, epochs=1, steps=4, verbose=0)
    cbs.on_train_begin()
    cbs.on_epoch_begin(0)
    for step in (0, 1, 3, 2):
        report.on_train_batch_end(step, {"loss": 1.0, "accuracy": 0.5})
    report.on_epoch_end(0, {"loss": 1.0, "accuracy": 0.5})
    report.on_train_end()
    assert report.records[0].steps == 4 and report.summary().images == 4 * 32


def test_summary_ends_its_line_so_the_next_print_starts_a_new_one():
    console, buffer = _plain_console()
    report = RichTrainingReport(console, batch_size=32)
    _drive([report])
    console.print("test accuracy 0.98")
    lines = buffer.getvalue().splitlines()
    assert lines[-1] == "test accuracy 0.98"
    assert lines[-2].startswith("Time ") and lines[-2].endswith("images/s")


@pytest.mark.multibackend
@pytest.mark.parametrize("report_first", [True, False])
def test_gap_columns_and_verdict_whatever_the_order(report_first):
    console, buffer = _plain_console()
    report = RichTrainingReport(console)
    monitor = OverfittingGapMonitor(max_gap=0.05, patience=2, verbose=0)
    model = _drive([report, monitor] if report_first else [monitor, report])
    text = buffer.getvalue()
    epoch_lines = [line for line in text.splitlines() if line.startswith("Epoch ")]
    assert "gap_accuracy -0.1000" in epoch_lines[0] and "gap_loss -0.3000" in epoch_lines[0]
    assert "gap_accuracy 0.0500" in epoch_lines[2] and "gap_loss 0.3000" in epoch_lines[2]
    assert "Gap monitor  no overfitting detected (final gap_accuracy 0.0500, within max_gap 0.05)" in text
    assert report.summary().final_gaps == pytest.approx({"gap_loss": 0.3, "gap_accuracy": 0.05})
    # the next fit of the same model without the monitor shows no stale verdict
    _drive([report], model=model)
    assert report.summary().verdict is None and "Gap monitor" not in report.export_text()


@pytest.mark.multibackend
@pytest.mark.parametrize("report_first", [True, False])
def test_monitor_findings_follow_the_line_of_their_epoch(report_first, capsys):
    console, buffer = _plain_console()
    report = RichTrainingReport(console)
    monitor = OverfittingGapMonitor(max_gap=0.0, patience=1)  # prints through the report
    _drive([report, monitor] if report_first else [monitor, report])
    lines = buffer.getvalue().splitlines()
    findings = [i for i, line in enumerate(lines) if line.startswith("OverfittingGapMonitor:")]
    # both criteria fire at epoch 3; their lines come right after that epoch's line
    assert len(findings) == 2 and lines[findings[0] - 1].startswith("Epoch 3/3")
    assert findings[1] == findings[0] + 1
    assert "epoch 3: overfitting from epoch 3: val_loss rose from 0.7000" in lines[findings[0]]
    assert "gap_accuracy 0.0500 above max_gap 0 for 1 epochs" in lines[findings[1]]
    assert capsys.readouterr().out == ""


@pytest.mark.multibackend
def test_batch_hook_reads_only_the_counter():
    class Untouchable(dict):
        def _fail(self, *args, **kwargs):
            raise AssertionError("the batch logs were read")

        __getitem__ = get = items = keys = values = __iter__ = __len__ = _fail

    report = RichTrainingReport(io.StringIO())
    report.on_train_begin()
    report.on_epoch_begin(0)
    report.on_train_batch_end(6, Untouchable())
    assert report._run.step == 7
    # Neither callback stops Keras from dispatching batch hooks on its background thread.
    assert report.async_safe
    cbs = keras.callbacks.CallbackList([report, OverfittingGapMonitor()], model=_model())
    assert cbs._async_train == keras.src.backend.IS_THREAD_SAFE


@pytest.mark.multibackend
def test_terminal_gets_live_progress_then_the_table():
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=110, color_system="standard")
    report = RichTrainingReport(console, refresh_per_second=50, batch_size=16)
    _drive([report], pause=0.02)
    text = buffer.getvalue()
    assert "\r" in text or "\x1b[" in text  # redrawn in place
    assert re.search(r"Epoch 1/3.*\d+/4.*img/s", text)  # a live progress frame
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
    assert "Best epoch   2 of 3: val_loss 0.7000" in plain
    assert report._run.display is None
    assert not [t for t in threading.enumerate() if type(t).__name__ == "_RefreshThread"]


@pytest.mark.multibackend
def test_jupyter_gets_one_display_updated_in_place(monkeypatch):
    shown = []

    class Handle:
        def __init__(self):
            self.updates = []

        def update(self, obj):
            self.updates.append(obj)

    def display(obj, display_id=False):
        assert display_id is True
        handle = Handle()
        shown.append((obj, handle))
        return handle

    ipython = types.ModuleType("IPython")
    ipython.display = types.ModuleType("IPython.display")
    ipython.display.display = display
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", ipython.display)

    buffer = io.StringIO()
    console = Console(file=buffer, force_jupyter=True, width=110)
    report = RichTrainingReport(console, refresh_per_second=50)
    _drive([report], pause=0.02)
    assert len(shown) == 1  # one output, never a second one
    handle = shown[0][1]
    assert len(handle.updates) >= 2  # refreshed during the fit, then the final state
    final = handle.updates[-1]._repr_mimebundle_(include=None, exclude=None)
    assert "Best epoch" in final["text/plain"] and "<pre" in final["text/html"]
    assert "Training: 3 epochs of 4 steps" in final["text/plain"]
    assert buffer.getvalue() == ""  # nothing printed outside the display


@pytest.mark.multibackend
def test_exports(tmp_path):
    report = RichTrainingReport(io.StringIO(), batch_size=8)
    _drive([report])
    text = report.export_text()
    assert not CONTROL.search(text) and "Best epoch" in text and "img/s" in text
    html = report.export_html()
    assert html.lstrip().startswith("<!DOCTYPE html>") and "Best epoch" in html
    svg = report.export_svg()
    assert svg.lstrip().startswith("<svg") and "Best" in svg
    for suffix in (".txt", ".html", ".svg"):
        path = report.save(tmp_path / f"report{suffix}")
        assert path.read_text(encoding="utf-8").strip()
    with pytest.raises(ValueError, match="`path`.*'.txt', '.html', '.svg'"):
        report.save(tmp_path / "report.pdf")


@pytest.mark.multibackend
def test_deepcopy_before_and_after_use_shares_the_console():
    console, buffer = _plain_console()
    report = RichTrainingReport(console, monitor="val_accuracy", refresh_per_second=2)
    fresh = copy.deepcopy(report)
    _drive([report])
    used = copy.deepcopy(report)  # holds a model and a finished run: the copy holds neither
    for clone in (fresh, used):
        assert clone.console is console
        assert clone.model is None and clone.records == []
        assert (clone.monitor, clone.refresh_per_second) == ("val_accuracy", 2.0)
    before = buffer.getvalue()
    _drive([used])
    assert len(report.records) == 3 and len(used.records) == 3
    assert buffer.getvalue().startswith(before) and buffer.getvalue().count("Best epoch") == 2


@pytest.mark.multibackend
def test_outside_fit_evaluate_keeps_keras_bar(capsys, digits):
    model = _model()
    report = RichTrainingReport(io.StringIO())
    model.evaluate(digits.x_val, digits.y_val, verbose=0, callbacks=[report])
    assert capsys.readouterr().out == ""
    model.evaluate(digits.x_val, digits.y_val, verbose=1, callbacks=[report])
    assert "step" in capsys.readouterr().out  # Keras's own bar, as verbose=1 asks


def test_unknown_monitor_warns_and_falls_back():
    report = RichTrainingReport(io.StringIO(), monitor="val_auc")
    with pytest.warns(UserWarning, match="monitor='val_auc' is not in the epoch logs"):
        _drive([report])
    assert report.summary().monitor == "val_loss"


def test_invalid_arguments_name_the_argument():
    cases = [
        ({"console": 42}, "`console`"),
        ({"refresh_per_second": 0}, "`refresh_per_second`"),
        ({"refresh_per_second": "fast"}, "`refresh_per_second`"),
        ({"monitor": ""}, "`monitor`"),
        ({"mode": "lowest"}, "`mode`"),
        ({"metrics": [1]}, "`metrics`"),
        ({"batch_size": 0}, "`batch_size`"),
        ({"width": 10}, "`width`"),
    ]
    for kwargs, match in cases:
        with pytest.raises(ValueError, match=match):
            RichTrainingReport(**kwargs)
