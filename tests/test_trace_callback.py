"""ShapeTraceCallback: once at the start of fit, before the first batch; deep-copyable."""

from __future__ import annotations

import copy
import io
import json

import keras
import numpy as np
import pytest

from keras_cnnlab import ConvBlock, ShapeTraceCallback

pytestmark = pytest.mark.multibackend

Z = dict(kernel_initializer="zeros")


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """The suite's fixture without its garbage-collection pass, which costs a second
    per test here and frees nothing these tiny models need."""
    keras.utils.set_random_seed(0)
    yield
    keras.backend.clear_session(free_memory=False)


def tiny_model():
    model = keras.Sequential(
        [keras.Input((8, 8, 1)), ConvBlock(2, name="block", **Z), keras.layers.Flatten(),
         keras.layers.Dense(3, activation="softmax", **Z)],
        name="tiny",
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model


def data():
    rng = np.random.default_rng(0)
    return rng.random((8, 8, 8, 1), dtype="float32"), rng.integers(0, 3, 8)


class FirstBatchProbe(keras.callbacks.Callback):
    """Records what the trace callback had produced when the first batch began."""

    def __init__(self, check):
        super().__init__()
        self.check = check
        self.seen = []

    def on_train_batch_begin(self, batch, logs=None):
        if not self.seen:
            self.seen.append(self.check())


def test_writes_the_trace_before_the_first_batch(tmp_path):
    path = tmp_path / "trace.txt"
    trace_cb = ShapeTraceCallback(path=path)
    probe = FirstBatchProbe(lambda: path.exists() and "Shape trace of 'tiny'" in path.read_text("utf-8"))
    x, y = data()
    tiny_model().fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[trace_cb, probe])
    assert probe.seen == [True]
    assert trace_cb.trace.totals.optimizer == "Adam"
    assert trace_cb.trace.row("block/conv1").output_shape == (None, 8, 8, 2)


def test_prints_once_per_fit_to_its_console():
    stream = io.StringIO()
    callback = ShapeTraceCallback(console=stream, batch_size=4, columns=["layer", "output"])
    model = tiny_model()
    x, y = data()
    model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[callback])
    text = stream.getvalue()
    assert text.count("Shape trace of 'tiny'") == 1
    assert "Activations for a batch of 4" in text
    header = next(line for line in text.splitlines() if "Layer (type)" in line)
    assert "Output shape" in header and "Params" not in header
    model.fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[callback])
    assert stream.getvalue().count("Shape trace of 'tiny'") == 2


def test_json_file_and_deepcopy(tmp_path):
    stream = io.StringIO()
    callback = ShapeTraceCallback(path=tmp_path / "trace.json", console=stream)
    callback.set_model(tiny_model())
    callback.on_train_begin()
    data_ = json.loads((tmp_path / "trace.json").read_text())
    assert data_["model"] == "tiny"
    assert "Shape trace of 'tiny'" in stream.getvalue()  # printed too, as a console was given

    clone = copy.deepcopy(callback)
    assert clone.console is stream and clone.path == callback.path
    assert clone.trace is None and clone._model is None
    clone.set_model(tiny_model())
    clone.on_train_begin()
    assert stream.getvalue().count("Shape trace") == 2


def test_a_text_file_has_short_lines_without_trailing_blanks(tmp_path):
    path = tmp_path / "trace.txt"
    callback = ShapeTraceCallback(path=path)
    model = keras.Sequential(
        [keras.Input((28, 28, 1)), *[ConvBlock(16 * 2**i, name=f"block{i + 1}", **Z) for i in range(3)],
         keras.layers.Flatten(), keras.layers.Dense(10, **Z)], name="wide")
    callback.set_model(model)
    callback.on_train_begin()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert "Shape arithmetic" in lines[1] and "floor drops 1" in "\n".join(lines)
    assert max(len(line) for line in lines) <= 120
    assert [line for line in lines if line != line.rstrip()] == []


def test_bad_arguments():
    with pytest.raises(ValueError, match="`path`"):
        ShapeTraceCallback(path=3)
    # a suffix save() has no format for is refused before training, with the list
    with pytest.raises(ValueError, match=r"`path`.*'.txt', '.log', '.json', '.html', '.htm', '.svg'.*trace.pdf"):
        ShapeTraceCallback(path="trace.pdf")
    with pytest.raises(ValueError, match=r"`path`.*Received path='trace'"):
        ShapeTraceCallback(path="trace")
    with pytest.raises(ValueError, match="`batch_size`"):
        ShapeTraceCallback(batch_size=0)
    with pytest.raises(ValueError, match="`columns`"):
        ShapeTraceCallback(columns=["shape"])
