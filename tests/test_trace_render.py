"""Rendering a ShapeTrace: text, file, terminal, Jupyter, JSON, HTML, SVG, columns."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import keras
import pytest
from rich.console import Console
from rich.table import Table
from rich.text import Text

from keras_cnnlab import ConvBlock, print_shape_trace, trace_shapes
from keras_cnnlab.trace import COLUMNS, DEFAULT_COLUMNS, render

pytestmark = pytest.mark.multibackend

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # anything but \t and \n
Z = dict(kernel_initializer="zeros")


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """The suite's fixture without its garbage-collection pass, which costs a second
    per test here and frees nothing these tiny models need."""
    keras.utils.set_random_seed(0)
    yield
    keras.backend.clear_session(free_memory=False)


def tutorial_b_like():
    """Tutorial B's layer stack at 28x28x1 (zero weights: JAX builds it fast)."""
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            ConvBlock(32, batch_norm=False, name="block1", **Z),
            ConvBlock(64, batch_norm=False, name="block2", **Z),
            ConvBlock(128, batch_norm=False, name="block3", **Z),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(64, activation="relu", name="dense", **Z),
            keras.layers.Dense(10, activation="softmax", name="output", **Z),
        ],
        name="fashion",
    )


@pytest.fixture(scope="module")
def trace():
    return trace_shapes(tutorial_b_like(), batch_size=32, optimizer="sgd")


def test_text_has_no_control_characters_and_the_figures(trace):
    text = trace.to_text()
    assert not CONTROL.search(text)
    assert "Layer (type)" in text and "Shape arithmetic" in text
    assert "(None, 3, 3, 128)" in text and "3 x 3 x 128 = 1152" in text
    assert "167,114" in text
    assert "floor drops 1 row and 1 column" in text
    assert "Receptive field of the last feature map: 22x22 of the 28x28 input" in text
    assert str(trace) == text


def test_print_to_a_file_is_plain_text(tmp_path):
    path = tmp_path / "trace.txt"
    print_shape_trace(tutorial_b_like(), console=str(path))
    print_shape_trace(tutorial_b_like(), console=path)  # appends
    text = path.read_text(encoding="utf-8")
    assert not CONTROL.search(text)
    lines = text.splitlines()
    # what rich leaves when it wraps (the arithmetic column, the findings) is stripped
    assert [line for line in lines if line != line.rstrip()] == []
    assert max(len(line) for line in lines) <= 120 and "floor drops 1" in text
    assert text.count("Shape trace of 'fashion'") == 2
    stream = io.StringIO()
    print_shape_trace(tutorial_b_like(), console=stream)
    assert not CONTROL.search(stream.getvalue()) and "(None, 1152)" in stream.getvalue()


def test_terminal_output_is_a_styled_table_that_fits_the_width(trace):
    table = render.renderable(trace).renderables[0]
    assert isinstance(table, render.TraceTable)
    stream = io.StringIO()
    console = Console(file=stream, force_terminal=True, color_system="standard", width=140)
    print_shape_trace(tutorial_b_like(), console=console)
    out = stream.getvalue()
    assert "\x1b[" in out  # styled
    assert "Layer (type)" in out and "─" in out
    for width in (140, 90, 60):
        text = trace.to_text(width=width)
        assert max(len(line) for line in text.splitlines()) <= width
        assert [line for line in text.splitlines() if line != line.rstrip()] == []
        assert "167,114" in text
        if width == 140:  # laid out by hand: no shape is folded
            assert "(None, 3, 3, 128)" in text and "floor drops 1" in text
    # laid out by hand while the arithmetic column keeps 20 characters; else rich wraps every column
    wide, narrow = (Console(file=io.StringIO(), width=w) for w in (140, 60))
    assert isinstance(next(iter(table.__rich_console__(wide, wide.options))), Text)
    assert isinstance(next(iter(table.__rich_console__(narrow, narrow.options))), Table)


def test_jupyter_renders_once(monkeypatch):
    import rich.jupyter

    shown = []
    monkeypatch.setattr(rich.jupyter, "display", lambda segments, text: shown.append(text))
    console = Console(file=io.StringIO(), force_jupyter=True, width=120)
    result = print_shape_trace(tutorial_b_like(), console=console)
    assert result is None  # nothing for the notebook to display a second time
    assert len(shown) == 1 and "Shape trace of 'fashion'" in shown[0]


def test_dict_and_json(trace):
    data = json.loads(trace.to_json())
    assert data["model"] == "fashion"
    assert data["totals"]["params"] == 167_114
    assert data["totals"]["optimizer"] == "SGD" and data["totals"]["optimizer_state_bytes"] == 0
    flatten = next(r for r in data["rows"] if r["path"] == "flatten")
    assert flatten["input_shape"] == [None, 3, 3, 128] and flatten["output_shape"] == [None, 1152]
    assert {f["kind"] for f in data["findings"]} >= {"floor_drop", "receptive_field"}
    assert data == trace.to_dict()


def test_html_and_svg_exports(trace, tmp_path):
    html = Path(trace.save_html(tmp_path / "t.html")).read_text(encoding="utf-8")
    assert "<html" in html.lower() and "block3" in html
    svg = Path(trace.save_svg(tmp_path / "img" / "t.svg")).read_text(encoding="utf-8")
    assert svg.lstrip().startswith("<svg") and "block3" in svg
    assert "<pre" in trace._repr_html_()
    assert Path(trace.save(tmp_path / "t.json")).read_text().startswith("{")
    assert "Layer (type)" in Path(trace.save(tmp_path / "t.log")).read_text(encoding="utf-8")
    with pytest.raises(ValueError, match=r"`path`.*one of \('.txt', '.log', '.json', '.html', '.htm', '.svg'\)"):
        trace.save(tmp_path / "t.pdf")
    assert not (tmp_path / "t.pdf").exists()
    assert repr(trace).startswith("ShapeTrace(model='fashion', rows=")


def test_columns_are_selectable(trace):
    assert set(COLUMNS) == set(render.COLUMNS) and DEFAULT_COLUMNS == render.DEFAULT_COLUMNS
    text = trace.to_text(columns=["layer", "output", "macs", "memory", "stride", "kernel"])
    header = next(line for line in text.splitlines() if "Layer (type)" in line)
    assert "MACs" in header and "Activations" in header and "Stride" in header and "Window" in header
    assert "Params" not in header and "Input shape" not in header
    assert "3x3 s1 same" in text
    everything = trace.to_text(columns="all", width=600)
    assert all(render.COLUMNS[c][0] in everything for c in COLUMNS)
    with pytest.raises(ValueError, match="`columns`"):
        trace.to_text(columns=["layer", "colour"])
    with pytest.raises(ValueError, match="`columns`"):
        print_shape_trace(tutorial_b_like(), columns="nope")
