"""The columns of the trace: parameter share, forward and backward memory, records and CSV."""

from __future__ import annotations

import csv
import io

import keras
import numpy as np
import pytest

from keras_cnnlab import build_architecture, trace_shapes
from keras_cnnlab.trace import COLUMN_ALIASES, COLUMNS, DEFAULT_COLUMNS


@pytest.fixture
def model():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Flatten(name="flat")(x)
    outputs = keras.layers.Dense(5, name="dense")(x)
    return keras.Model(inputs, outputs)


def test_param_share_and_memory_columns(model):
    trace = trace_shapes(model, batch_size=4)
    counted = {v.path.split("/")[0]: 0 for v in model.weights}
    for v in model.weights:
        counted[v.path.split("/")[0]] += int(np.prod(v.shape))
    total = model.count_params()
    for name in ("conv", "bn", "dense"):
        assert trace.row(name).param_share == pytest.approx(counted[name] / total)
    assert sum(r.param_share for r in trace.rows) == pytest.approx(1.0)
    # Forward: 4 samples x 8 x 8 x 4 float32; Flatten is a view, kept for backward as nothing.
    assert trace.row("conv").activation_bytes == trace.row("conv").saved_bytes == 4 * 8 * 8 * 4 * 4
    assert trace.row("flat").activation_bytes == 4 * 256 * 4 and trace.row("flat").saved_bytes == 0
    kept = trace.totals.input_bytes + sum(r.saved_bytes for r in trace.rows)
    assert trace.totals.activation_bytes == kept == 4 * 4 * (8 * 8 * 3 + 2 * 256 + 5)
    text = trace.to_text(columns=["layer", "param_share", "memory", "saved", "effective_padding"])
    assert "Params %" in text and "Kept for backward" in text and "Eff. pad" in text
    dense_share = f"{100 * counted['dense'] / total:.1f}%"
    assert dense_share in text
    assert {"param_share", "saved_bytes", "effective_padding"} <= set(COLUMNS)


def test_parts_sum_their_saved_memory():
    model = build_architecture("simple", (28, 28, 1), 10)
    trace = trace_shapes(model, batch_size=2)
    for row in trace.rows:
        if row.has_children:
            parts = [r for r in trace.rows if r.parent == row.path]
            assert row.saved_bytes == sum(r.saved_bytes for r in parts)
    top = [r for r in trace.rows if r.depth == 0]
    assert trace.totals.activation_bytes == trace.totals.input_bytes + sum(r.saved_bytes for r in top)


def test_records_and_csv(model, tmp_path):
    trace = trace_shapes(model)
    records = trace.to_records()
    assert [r["path"] for r in records] == [r.path for r in trace.rows]
    assert records[0]["output_shape"] == (None, 8, 8, 4) and records[0]["params"] == 112
    assert {"param_share", "saved_bytes", "effective_padding", "activation_bytes"} <= set(records[0])
    text = trace.to_csv(tmp_path / "t.csv", columns=["path", "output_shape", "params", "effective_padding"])
    assert (tmp_path / "t.csv").read_text() == text
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["path", "output_shape", "params", "effective_padding"]
    assert rows[1] == ["conv", "(None, 8, 8, 4)", "112", "1x1"]
    assert rows[3][3] == ""  # Flatten: not spatial
    full = list(csv.DictReader(io.StringIO(trace.to_csv())))
    assert len(full) == len(trace.rows) and float(full[-1]["param_share"]) == pytest.approx(
        trace.rows[-1].param_share
    )
    with pytest.raises(ValueError, match="columns"):
        trace.to_csv(columns=["nope"])


def _header(text):
    return text.splitlines()[1]  # under the title


def test_text_and_csv_take_one_vocabulary(model):
    trace = trace_shapes(model, batch_size=4)
    conv = trace.row("conv")
    # Every name, and every short alias, works in both and names the same column.
    for name in (*COLUMNS, *COLUMN_ALIASES):
        column = COLUMN_ALIASES.get(name, name)
        assert trace.to_text(columns=[name]) == trace.to_text(columns=[column]), name
        csv_rows = list(csv.reader(io.StringIO(trace.to_csv(columns=[name]))))
        assert csv_rows[0] == [column] and len(csv_rows) == len(trace.rows) + 1, name
    # The same meaning: `padding` is the layer's argument, `effective_padding` the grid's.
    assert "Padding" in _header(trace.to_text(columns=["padding"]))
    assert "same" in trace.to_text(columns=["padding"])
    assert "Eff. pad" in _header(trace.to_text(columns=["effective_padding"]))
    rows = list(csv.DictReader(io.StringIO(
        trace.to_csv(columns=["path", "padding", "effective_padding", "saved", "rf", "layer", "kernel"])
    )))
    assert rows[0] == {
        "path": "conv", "padding": "same", "effective_padding": "1x1",
        "saved_bytes": str(conv.saved_bytes), "receptive_field": "3x3",
        "layer": "conv (Conv2D)", "kernel": "3x3 s1 same",
    }
    # The table's default and "all" read the same names; "all" in CSV is every column.
    assert all(c in COLUMNS for c in DEFAULT_COLUMNS)
    assert next(csv.reader(io.StringIO(trace.to_csv(columns="all")))) == list(COLUMNS)
    assert set(trace.to_records()[0]) == set(COLUMNS) - {"layer", "kernel"}


@pytest.mark.parametrize("bad", [["saved", "colour"], ["effective_pad"], [], "nope", [3]])
def test_unknown_columns_list_the_valid_names(model, bad):
    trace = trace_shapes(model)
    for render in (trace.to_text, trace.to_csv):
        with pytest.raises(ValueError, match="`columns`") as caught:
            render(columns=bad)
        message = str(caught.value)
        assert "'effective_padding'" in message and "rf=receptive_field" in message
