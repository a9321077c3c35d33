"""examples/quickstart.ipynb runs in a real kernel; the report is one output, and stops with its cell.

The notebook runs in an IPython kernel through nbclient, as Jupyter runs it,
followed by cells of the test's own: one whose callback raises
KeyboardInterrupt, one that nbclient interrupts as the stop button does, and
after each a cell that lists the report's threads still alive.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

nbclient = pytest.importorskip("nbclient")
nbformat = pytest.importorskip("nbformat")
pytest.importorskip("ipykernel")

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "quickstart.ipynb"

THREADS = """
import json, threading, time
from keras_cnnlab.display.live import THREAD_NAME
print(json.dumps([t.name for t in threading.enumerate() if t.name == THREAD_NAME]))
"""

RAISES = """
import keras

class Interrupt(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if batch == 5:
            raise KeyboardInterrupt

model.fit(data.x_train, data.y_train, epochs=3, batch_size=32,
          callbacks=[RichTrainingReport(), Interrupt()])
"""

# Far longer than the cell's timeout: nbclient interrupts the kernel (SIGINT) mid-fit.
LONG_FIT = """
model.fit(data.x_train, data.y_train, epochs=10_000, batch_size=32, callbacks=[RichTrainingReport()])
"""
INTERRUPT_AFTER = 8  # seconds


def _cell(source, *tags):
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = list(tags)
    return cell


def _text(output) -> str:
    if output["output_type"] == "stream":
        return output["text"]
    if output["output_type"] == "error":
        return output["ename"]
    return output.get("data", {}).get("text/plain", "")


def _reports(cell) -> list:
    """The outputs of a cell that show a training report."""
    return [o for o in cell.outputs if "Training: " in _text(o) or "Epoch " in _text(o)]


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    shipped = len(notebook.cells)
    notebook.cells += [
        _cell(THREADS),
        _cell(RAISES, "raises-exception"),
        _cell(THREADS),
        _cell(LONG_FIT, "raises-exception", "interrupt"),
        _cell(THREADS),
    ]
    client = nbclient.NotebookClient(
        notebook,
        kernel_name="python3",
        timeout_func=lambda cell: INTERRUPT_AFTER if "interrupt" in cell.metadata.get("tags", []) else 600,
        interrupt_on_timeout=True,
        resources={"metadata": {"path": str(tmp_path_factory.mktemp("notebook"))}},
    )
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # the kernel inherits the environment
    client.execute()
    return notebook.cells[:shipped], notebook.cells[shipped:]


def test_the_notebook_runs_and_the_report_is_one_final_output(executed):
    shipped, _ = executed
    code = [cell for cell in shipped if cell.cell_type == "code"]
    assert not [o for cell in code for o in cell.outputs if o["output_type"] == "error"]
    fit = next(cell for cell in code if "model.fit(" in cell.source)
    reports = _reports(fit)
    assert len(reports) == 1 and reports[0]["output_type"] == "display_data"  # no stack of outputs
    final = reports[0]["data"]
    assert "<pre" in final["text/html"]
    text = final["text/plain"]
    assert "Training: 4 epochs" in text and "Epoch 4/4" in text and "Best epoch" in text
    assert "Gap monitor" in text and "━" not in text  # the final state, not a progress frame
    assert "best epoch" in _text(code[-1].outputs[0])
    trace = next(cell for cell in code if "trace_shapes(" in cell.source)
    assert len(trace.outputs) == 1 and "Shape arithmetic" in trace.outputs[0]["data"]["text/html"]


def test_no_refresh_thread_outlives_a_cell_even_an_interrupted_one(executed):
    _, (after_fit, raised, after_raised, interrupted, after_interrupt) = executed
    for check in (after_fit, after_raised, after_interrupt):
        assert json.loads(check.outputs[0]["text"]) == []
    for cell in (raised, interrupted):
        assert [o["ename"] for o in cell.outputs if o["output_type"] == "error"] == ["KeyboardInterrupt"]
        reports = _reports(cell)
        assert len(reports) == 1  # the one output, showing where training stopped
        text = reports[0]["data"]["text/plain"]
        assert "Training interrupted in epoch" in text and "━" not in text
    assert "at step 6/41" in _reports(raised)[0]["data"]["text/plain"]
