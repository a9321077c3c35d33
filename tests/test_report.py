"""RichTrainingReport: output per console kind, the table, the summary, exports, copies."""

import copy
import io
import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
import types
import warnings

import keras
import numpy as np
import pytest
from rich.console import Console

from keras_cnnlab import OverfittingGapMonitor, RichTrainingReport
from keras_cnnlab.data import load_dataset
from keras_cnnlab.display.live import THREAD_NAME

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


def _cells(line, columns):
    """The figures of a row by column key, read at the right edges of the header words."""
    return {columns[m.end()]: m.group() for m in re.finditer(r"\S+", line) if m.end() in columns}


def _table(text):
    """(column key by right edge, rows by epoch label) of the rows a report printed."""
    lines = text.splitlines()
    rule = next(i for i, line in enumerate(lines) if line.startswith("───"))
    tops = {m.end(): m.group() for m in re.finditer(r"\S+", lines[rule - 2])}
    columns = {}
    for m in re.finditer(r"\S+", lines[rule - 1]):
        top = tops.get(m.end(), "")
        columns[m.end()] = m.group() if top in ("", "train") else f"{top}_{m.group()}"
    rows = {line.split()[1]: _cells(line, columns) for line in lines
            if line.startswith("Epoch ") and "━" not in line}  # not a live progress frame
    return columns, rows


def _display_threads():
    return [t for t in threading.enumerate() if t.name == THREAD_NAME or type(t).__name__ == "_RefreshThread"]


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
    assert re.fullmatch(r" +train +train +val +val +gap +gap", lines[1])
    assert re.fullmatch(r" +loss +accuracy +loss +accuracy +loss +accuracy +lr +time +img/s", lines[2])
    _, rows = _table(text)
    assert list(rows) == ["1/2", "2/2"]  # one aligned row per epoch
    for i, row in enumerate(rows.values()):
        assert row["val_loss"] == f"{history.history['val_loss'][i]:.4f}"
        assert row["gap_accuracy"] == f"{history.history['gap_accuracy'][i]:.4f}"
        assert row["lr"] == "5.00e-03" and row["img/s"].replace(",", "").isdigit()
    assert "Best epoch" in text and "Gap monitor  no overfitting detected" in text
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
def test_a_file_shows_each_epoch_once_in_short_lines(digits):
    # 12 epochs gave 32 lines: a line per epoch, then the whole table again.
    console, buffer = _plain_console()
    report = RichTrainingReport(console)
    monitor = OverfittingGapMonitor(unbiased_subset=64, train_data=(digits.x_train, digits.y_train), verbose=0)
    _drive([report, monitor], script=[dict(SCRIPT[i % 3]) for i in range(12)])
    lines = buffer.getvalue().splitlines()
    assert [line.split()[1] for line in lines if line.startswith("Epoch ")] == [f"{i}/12" for i in range(1, 13)]
    assert sum(line.startswith("───") for line in lines) == 1  # one header
    assert len(lines) <= 1 + 4 + 12 + 1 + 7
    assert max(len(line) for line in lines) <= 120
    assert [line for line in lines if line != line.rstrip()] == []
    assert report.export_text().count("Epoch 12/12") == 1  # the export is the whole table, once


@pytest.mark.multibackend
def test_best_epoch_is_marked_in_rows_table_and_summary():
    console, buffer = _plain_console()
    report = RichTrainingReport(console, batch_size=32)
    _drive([report])
    text = buffer.getvalue()
    epoch_lines = [line for line in text.splitlines() if line.startswith("Epoch ")]
    # each row that improved on the best so far, as it was printed
    assert [line.split()[2] == "*" for line in epoch_lines] == [True, True, False]
    assert "* best val_loss so far" in text
    summary = report.summary()
    assert (summary.best_epoch, summary.best_value, summary.monitor) == (1, 0.70, "val_loss")
    table = report.export_text()
    assert re.search(r"^Epoch 2/3 \* +0\.8000 +0\.7500 +0\.7000 +0\.7800", table, re.M)
    assert re.search(r"^Epoch 1/3 +1\.2000", table, re.M)  # the export marks the best alone
    assert "* best val_loss" in table
    assert "Best epoch   2 of 3: val_loss 0.7000" in table
    assert summary.images == 3 * 4 * 32

    report = RichTrainingReport(io.StringIO(), monitor="val_accuracy")  # mode inferred: max
    _drive([report])
    assert report.summary().best_epoch == 2
    report = RichTrainingReport(io.StringIO(), monitor="val_loss", mode="max")
    _drive([report])
    assert report.summary().best_epoch == 0


@pytest.mark.parametrize("width", [60, 80, 100, 150])
@pytest.mark.parametrize("terminal", [False, True])
def test_rows_fit_the_width_leaving_out_the_least_important_columns(width, terminal, digits):
    # A 150-column terminal wrapped the epoch lines mid-word; files got 420-character lines.
    buffer = io.StringIO()
    console = Console(file=buffer, width=width, force_terminal=terminal, color_system="standard" if terminal else None)
    report = RichTrainingReport(console, refresh_per_second=50, batch_size=32)
    monitor = OverfittingGapMonitor(unbiased_subset=64, train_data=(digits.x_train, digits.y_train), verbose=0)
    _drive([report, monitor], pause=0.01)
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", buffer.getvalue()).replace("\r", "\n")
    printed = [line for line in plain.splitlines() if line.strip()]
    assert max(len(line) for line in printed) <= width
    columns, rows = _table(plain)
    assert list(rows) == ["1/3", "2/3", "3/3"]
    shown = set(columns.values())
    assert {"loss", "val_loss"} <= shown  # what is kept first
    if width >= 150:
        assert "(left out" not in plain
        assert {"train_eval_accuracy", "gap_accuracy", "lr", "img/s"} <= shown
    else:
        left_out = re.search(r"\(left out to fit \d+ columns: ([^;]+);", " ".join(plain.split()))
        assert left_out and "train_eval_accuracy" in left_out.group(1) and "train_eval_accuracy" not in shown
    if width >= 80:
        assert {"accuracy", "val_accuracy", "gap_accuracy", "time"} <= shown
    for label, row in rows.items():  # every row's figures under their header words
        assert row["loss"] == f"{SCRIPT[int(label[0]) - 1]['loss']:.4f}"
    for piece in ("Final epoch", "Gap monitor", "Time"):
        assert piece in plain


def test_a_file_gets_a_progress_line_during_a_long_epoch():
    console, buffer = _plain_console()
    report = RichTrainingReport(console, batch_size=8, progress_interval=0.05)
    _drive([report], steps=6, pause=0.03)
    lines = buffer.getvalue().splitlines()
    progress = [line for line in lines if line.startswith("  ... epoch ")]
    assert progress, lines
    assert re.fullmatch(r"  \.\.\. epoch [123]/3: step [1-6]/6, [\d,]+ img/s, [\d.]+s elapsed, ~[\d.]+s left"
                        r"  loss [\d.]+  accuracy [\d.]+", progress[0])
    # never right after a row, nor after the last epoch
    assert not CONTROL.search(buffer.getvalue()) and not lines[-1].startswith("  ...")
    # the default waits 30 s from the last line: a short fit prints none; None prints none at all
    for interval in (30.0, None):
        console, buffer = _plain_console()
        _drive([RichTrainingReport(console, progress_interval=interval)], steps=6, pause=0.03)
        assert "  ... epoch" not in buffer.getvalue()
    with pytest.raises(ValueError, match="`progress_interval`. Expected None or a positive number"):
        RichTrainingReport(progress_interval=0)


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
    _, rows = _table(text)
    assert (rows["1/3"]["gap_accuracy"], rows["1/3"]["gap_loss"]) == ("-0.1000", "-0.3000")
    assert (rows["3/3"]["gap_accuracy"], rows["3/3"]["gap_loss"]) == ("0.0500", "0.3000")
    assert "Gap monitor  no overfitting detected (final gap_accuracy 0.0500, within max_gap 0.05)" in text
    assert report.summary().final_gaps == pytest.approx({"gap_loss": 0.3, "gap_accuracy": 0.05})
    # the next fit of the same model without the monitor shows no stale verdict
    _drive([report], model=model)
    assert report.summary().verdict is None and "Gap monitor" not in report.export_text()


@pytest.mark.multibackend
@pytest.mark.parametrize("report_first", [True, False])
def test_monitor_findings_follow_the_row_of_their_epoch(report_first, capsys):
    console, buffer = _plain_console()
    report = RichTrainingReport(console)
    monitor = OverfittingGapMonitor(max_gap=0.0, patience=1)  # prints through the report
    _drive([report, monitor] if report_first else [monitor, report])
    lines = buffer.getvalue().splitlines()
    findings = [i for i, line in enumerate(lines) if line.startswith("OverfittingGapMonitor:")]
    # both criteria fire at epoch 3; their lines come right after that epoch's row,
    # wrapped to the width
    assert len(findings) == 2 and lines[findings[0] - 1].startswith("Epoch 3/3")
    assert max(len(line) for line in lines) <= 120
    first = " ".join(lines[findings[0]:findings[1]])
    assert "epoch 3: overfitting from epoch 3: val_loss rose from 0.7000" in first
    assert "gap_accuracy 0.0500 above max_gap 0 for 1 epoch (since" in lines[findings[1]]
    assert lines[findings[1] + 1].startswith("* best val_loss so far")
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
    # "8.0s < 2.0s" was hard to read
    assert re.search(r"img/s  [\d.]+s elapsed, ~[\d.]+s left  loss", plain) and " < " not in plain
    assert "Best epoch   2 of 3: val_loss 0.7000" in plain
    assert report._run.display is None
    assert not _display_threads()


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


# --- fit raising: Keras calls no hook, the display stops itself ------------------------


class Interrupt(keras.callbacks.Callback):
    """Raises, as Ctrl-C does, in the middle of an epoch."""

    def __init__(self, at_batch=3, epoch=1, error=KeyboardInterrupt):
        super().__init__()
        self.at, self.error = (epoch, at_batch), error

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            raise self.error("stop")


def _wait_for(condition, seconds=2.0):
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


@pytest.mark.multibackend
@pytest.mark.parametrize("error", [KeyboardInterrupt, ValueError])
def test_a_fit_that_raises_in_a_terminal_gives_the_streams_back(error, digits, capsys):
    stdout, stderr = sys.stdout, sys.stderr
    console = Console(force_terminal=True, width=100)  # writes to sys.stdout, as a terminal would
    report = RichTrainingReport(console, refresh_per_second=20)
    model = _model()
    x, y = digits.x_train[:256], digits.y_train[:256]
    with pytest.raises(error):
        model.fit(x, y, epochs=3, batch_size=32, callbacks=[report, Interrupt(error=error)])
    # Whatever is written next goes to the real stream, not into the live display...
    print("after the interrupt")
    assert sys.stdout is stdout and sys.stderr is stderr
    assert not _display_threads() and not report._run.display.running
    out = capsys.readouterr().out
    tail = out[out.rindex("Training interrupted"):]
    assert re.match(r"Training interrupted in epoch 2/3 at step 4/8: fit raised \(Ctrl-C or an error\)", tail)
    assert tail.endswith("after the interrupt\n") and "━" not in tail  # no progress redrawn below it
    time.sleep(0.2)
    assert capsys.readouterr().out == ""  # and nothing redraws later

    # ... and a second fit works as the first did.
    model.fit(x, y, epochs=1, batch_size=32, callbacks=[report])
    out = capsys.readouterr().out
    assert "Epoch 1/1" in out and "Best epoch" in out and "Training interrupted" not in out
    assert sys.stdout is stdout and not _display_threads()


class CtrlC(keras.callbacks.Callback):
    """Sends the process SIGINT mid-epoch, as Ctrl-C in a terminal does."""

    def on_train_batch_end(self, batch, logs=None):
        if batch == 2:
            signal.raise_signal(signal.SIGINT)


def test_ctrl_c_gives_the_streams_back_before_keyboard_interrupt_is_raised(digits, capsys):
    if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        pytest.skip("the test runner handles SIGINT itself")
    stdout, stderr = sys.stdout, sys.stderr
    report = RichTrainingReport(Console(force_terminal=True, width=100))
    model = _model()
    with pytest.raises(KeyboardInterrupt):
        model.fit(digits.x_train[:128], digits.y_train[:128], epochs=2, batch_size=32, callbacks=[report, CtrlC()])
    # at once, without waiting for the display's thread
    assert sys.stdout is stdout and sys.stderr is stderr
    assert not _display_threads()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert "Training interrupted in epoch 1/2 at step 3/4: Ctrl-C stopped fit before it ended." in capsys.readouterr().out
    assert "Stopped  Ctrl-C in epoch 1/2 at step 3/4" in report.summary_renderable(100).plain
    model.fit(digits.x_train[:128], digits.y_train[:128], epochs=1, batch_size=32, callbacks=[report])
    assert "Best epoch" in capsys.readouterr().out and sys.stdout is stdout


def test_the_streams_come_back_even_when_nothing_is_printed_after_the_fit(digits, capsys):
    stdout, stderr = sys.stdout, sys.stderr
    report = RichTrainingReport(Console(force_terminal=True, width=100))
    with pytest.raises(KeyboardInterrupt):
        _model().fit(digits.x_train[:128], digits.y_train[:128], epochs=2, batch_size=32,
                     callbacks=[report, Interrupt(epoch=0, at_batch=1)])
    # the display's own thread sees that fit has gone within its 50 ms check
    assert _wait_for(lambda: sys.stdout is stdout and sys.stderr is stderr)
    assert _wait_for(lambda: not _display_threads())
    assert "Training interrupted in epoch 1/2 at step 2/4" in capsys.readouterr().out


def test_an_interrupted_fit_says_so_in_a_file(digits):
    console, buffer = _plain_console()
    report = RichTrainingReport(console)
    with pytest.raises(KeyboardInterrupt):
        _model().fit(digits.x_train[:128], digits.y_train[:128], epochs=3, batch_size=32,
                     callbacks=[report, Interrupt(epoch=1, at_batch=0)])
    assert _wait_for(lambda: "Training interrupted" in buffer.getvalue())
    lines = buffer.getvalue().splitlines()
    assert lines[-2].startswith("Epoch 1/3")  # the finished epoch's row, then what happened
    assert lines[-1] == "Training interrupted in epoch 2/3 at step 1/4: fit raised (Ctrl-C or an error) before it ended."
    assert not report._run.in_fit and not _display_threads()


@pytest.mark.multibackend
def test_images_per_epoch_count_the_last_smaller_batch(digits):
    # batch_size=32 given to the report counted 41 x 32 = 1,312 of 1,294 images.
    import tensorflow as tf

    x, y = digits.x_train[:200], digits.y_train[:200]
    datasets = {
        "arrays": dict(x=x, y=y, batch_size=32),
        "tf.data": dict(x=tf.data.Dataset.from_tensor_slices((x, y)).shuffle(200).batch(32).prefetch(2)),
    }
    for name, data in datasets.items():
        console, buffer = _plain_console()
        report = RichTrainingReport(console, batch_size=32)
        _model().fit(**data, epochs=2, verbose=0, callbacks=[report])
        assert [r.images for r in report.records] == [200, 200], name
        assert "(batch 32, 200 images per epoch)" in buffer.getvalue(), name
    # dropped remainders are counted as dropped; without batch_size= the data says it
    report = RichTrainingReport(io.StringIO())
    _model().fit(tf.data.Dataset.from_tensor_slices((x, y)).batch(32, drop_remainder=True), epochs=1,
                 verbose=0, callbacks=[report])
    assert report.records[0].images == 192


def test_the_batch_size_given_comes_before_the_one_the_data_says(digits):
    # batch_size= is the public way in: it wins over what fit's data adapter says.
    x, y = digits.x_train[:200], digits.y_train[:200]
    console, buffer = _plain_console()
    report = RichTrainingReport(console, batch_size=50)
    _model().fit(x, y, epochs=1, batch_size=32, verbose=0, callbacks=[report])
    assert "(batch 50, 350 images per epoch)" in buffer.getvalue()  # 7 whole batches of 50
    assert report.records[0].images == 7 * 50


def test_an_empty_dataset_says_there_was_no_data():
    import tensorflow as tf

    console, buffer = _plain_console()
    empty = tf.data.Dataset.from_tensor_slices((np.zeros((0, 8, 8, 1), "float32"), np.zeros((0,), "int64")))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras's "Your input ran out of data"
        _model().fit(empty.batch(8), epochs=2, verbose=0, callbacks=[RichTrainingReport(console)])
    text = buffer.getvalue()
    assert "0 img/s" not in text and "0.0 steps/s" not in text
    assert "Epoch 1 ran no training step: the data given to fit is empty." in text
    assert re.search(r"^Epoch 1/2 .* no data$", text, re.M)
    assert "no training batches: the data given to fit was empty" in text


def test_derived_objective_columns_are_shown_only_when_they_pick_the_best_epoch():
    # GapPenalizedAccuracy's val_accuracy_minus_gap filled every trial's table.
    script = [dict(logs, val_accuracy_minus_gap=logs["val_accuracy"] - 0.1) for logs in SCRIPT]
    report = RichTrainingReport(io.StringIO())
    _drive([report], script=script)
    assert "minus_gap" not in report.export_text()
    report = RichTrainingReport(io.StringIO(), monitor="val_accuracy_minus_gap")
    _drive([report], script=script)
    assert "accuracy_minus_gap" in report.export_text() and report.summary().best_epoch == 2


@pytest.mark.skipif(keras.backend.backend() != "jax", reason="JAX dispatches steps before the device runs them")
def test_jax_training_time_waits_for_the_device():
    import jax

    rng = np.random.default_rng(0)
    x, y = rng.random((2048, 1024), dtype="float32"), rng.integers(0, 10, 2048)
    # steps the device needs a while for
    model = keras.Sequential([keras.Input((1024,)), *[keras.layers.Dense(1024, activation="tanh") for _ in range(4)],
                              keras.layers.Dense(10, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    report = RichTrainingReport(io.StringIO())
    model.fit(x, y, validation_data=(x[:8], y[:8]), epochs=2, batch_size=512, verbose=0, callbacks=[report])
    record = report.records[-1]
    # validation of 8 samples is next to nothing: the device's training work is in train_seconds
    assert record.train_seconds > 0.8 * record.seconds, (record.train_seconds, record.seconds, jax.devices())
