"""The training report's state and pure renderers, checked without a fit."""

import re

import pytest

from keras_cnnlab.callbacks import report_render as render
from keras_cnnlab.callbacks.report_state import (
    EpochRecord,
    ReportRun,
    batch_geometry,
    choose_monitor,
)
from keras_cnnlab.display import formatting


def _run(script, *, epochs=None, steps=4, batch_size=32, partial=None, direction="min", monitor="val_loss"):
    run = ReportRun()
    run.start = 0.0
    run.epochs, run.steps, run.batch_size = epochs or len(script), steps, batch_size
    run.num_batches, run.partial_batch = steps, partial
    for epoch, logs in enumerate(script):
        run.begin_epoch(epoch, now=10.0 * epoch)
        run.step = steps
        run.val_start = 10.0 * epoch + 2.0
        run.end_epoch(epoch, dict(logs, lr=0.01), 0.01, now=10.0 * epoch + 2.5)
        run.complete_epoch(lambda logs: (monitor, direction))
    return run


SCRIPT = [
    {"loss": 1.2, "accuracy": 0.6, "val_loss": 0.9, "val_accuracy": 0.7},
    {"loss": 0.8, "accuracy": 0.75, "val_loss": 0.7, "val_accuracy": 0.78},
    {"loss": 0.5, "accuracy": 0.85, "val_loss": 0.8, "val_accuracy": 0.8},
]


def test_records_count_images_and_mark_the_best_epoch():
    run = _run(SCRIPT, partial=8)  # 4 batches of 32, the last of 8
    assert [r.images for r in run.records] == [3 * 32 + 8] * 3
    assert run.best_index == 1 and run.monitor == "val_loss"
    record = run.records[0]
    assert (record.seconds, record.train_seconds, record.learning_rate) == (2.5, 2.0, 0.01)
    assert "lr" not in record.logs  # the learning rate is a column of its own
    assert record.images_per_second == pytest.approx(104 / 2.0)
    summary = run.summary(now=30.0)
    assert (summary.best_epoch, summary.best_value, summary.images) == (1, 0.7, 3 * 104)
    assert summary.images_per_second == pytest.approx(3 * 104 / 6.0)
    assert run.summary().final_logs == run.records[-1].logs
    assert _run(SCRIPT, direction="max", monitor="val_accuracy").best_index == 2


def test_the_table_puts_each_figure_under_its_header():
    run = _run(SCRIPT)
    text = render.table(run, 120).plain
    lines = text.splitlines()
    assert re.fullmatch(r" +train +train +val +val", lines[0])
    assert re.fullmatch(r" +loss +accuracy +loss +accuracy +lr +time +img/s", lines[1])
    assert lines[3].startswith("Epoch 1/3  ") and lines[4].startswith("Epoch 2/3 *")
    for line, logs in zip(lines[3:6], SCRIPT):
        figures = line.split()[2:] if "*" not in line else line.split()[3:]
        assert figures[:4] == [formatting.column_figure(logs[k]) for k in ("loss", "accuracy", "val_loss",
                                                                            "val_accuracy")]
        assert figures[4:] == ["1.00e-02", "2.5s", formatting.thousands(128 / 2.0)]
    assert lines[-1] == "* best val_loss"


def test_a_narrow_table_leaves_out_the_least_important_columns_and_says_which():
    run = _run([dict(logs, train_eval_accuracy=0.5, gap_accuracy=0.1) for logs in SCRIPT])
    layout = render.layout(run, 60)
    assert layout.total <= 60
    kept = {c.label for c in layout.columns}
    assert {"epoch", "loss", "val_loss"} <= kept and "train_eval_accuracy" in layout.left_out
    assert "(left out to fit 60 columns: " in " ".join(render.header_text(layout).plain.split())
    assert max(len(line) for line in render.table(run, 60).plain.splitlines()) <= 60


def test_summary_and_progress_lines():
    run = _run(SCRIPT)
    summary = render.summary_text(run, run.summary(now=30.0), 120).plain
    assert "Best epoch   2 of 3: val_loss 0.7000" in summary
    assert re.search(r"Time +30\.0s in all, 6\.0s in training steps; 64 images/s", summary), summary
    assert render.fit_header(run) == "Training: 3 epochs of 4 steps (batch 32, 128 images per epoch)"
    run.in_fit, run.epoch, run.phase, run.step, run.epoch_start, run.val_start = True, 2, "training", 2, 20.0, None
    run.batch_logs = {"loss": 0.25, "accuracy": 0.5}
    line = render.plain_progress(run, now=21.0).plain
    assert line.startswith("  ... epoch 3/3: step 2/4, 64 img/s, ") and line.endswith("loss 0.2500  accuracy 0.5000")
    assert "4/4" not in render.progress_line(run, now=21.0).plain and "2/4" in render.progress_line(run, 21.0).plain
    run.phase = "epoch done"
    assert render.plain_progress(run, now=21.0) is None


def test_batch_geometry_takes_the_given_batch_size_first():
    read = (32, 7, 8)  # what the data given to fit says
    assert batch_geometry(None, read) == read
    assert batch_geometry(32, read) == read  # the same size: its last batch is counted exactly
    assert batch_geometry(64, read) == (64, None, None)  # given wins, whole batches
    assert batch_geometry(16, (None, None, None)) == (16, None, None)


def test_an_unknown_monitor_warns_and_falls_back():
    logs = {"loss": 1.0, "val_loss": 1.0, "val_accuracy": 0.5}
    assert choose_monitor(logs, None, "auto", None, None) == ("val_loss", "min")
    assert choose_monitor(logs, None, "auto", ("val_accuracy", "max"), None) == ("val_accuracy", "max")
    assert choose_monitor(logs, "val_loss", "max", None, None) == ("val_loss", "max")
    with pytest.warns(UserWarning, match="monitor='val_auc' is not in the epoch logs"):
        assert choose_monitor(logs, "val_auc", "auto", None, None) == ("val_loss", "min")


def test_the_formatters_of_the_table():
    assert [formatting.column_figure(v) for v in (0.98123, 123.456, 2.5e-05, None)] == [
        "0.9812", "123.46", "2.50e-05", "-"]
    assert all(len(formatting.column_figure(v)) <= formatting.COLUMN_FIGURE_WIDTH for v in (-1.5e-30, 9.9e99))
    assert formatting.learning_rate(0.005) == "5.00e-03" and formatting.learning_rate(None) == "-"
    assert formatting.thousands(7202.4) == "7,202" and formatting.thousands(12.46, 1) == "12.5"
    record = EpochRecord(0, {}, 1.0, 0.0, 0, None, None)
    assert render.rate_text(record) == "no data"
