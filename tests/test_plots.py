"""plot_history: panels, gap shading, onset marker, saved picture, clear errors."""

import sys

import pytest

pytest.importorskip("matplotlib")

from matplotlib.collections import PolyCollection  # noqa: E402

from keras_cnnlab import OverfittingGapMonitor, plot_history  # noqa: E402

HISTORY = {
    "loss": [1.00, 0.80, 0.65, 0.55, 0.45, 0.40, 0.35, 0.30],
    "val_loss": [1.00, 0.85, 0.75, 0.78, 0.74, 0.80, 0.86, 0.90],
    "accuracy": [0.50, 0.60, 0.70, 0.76, 0.82, 0.88, 0.92, 0.95],
    "val_accuracy": [0.50, 0.58, 0.66, 0.67, 0.68, 0.67, 0.66, 0.65],
    "gap_accuracy": [0.0] * 8,
}


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    # no Keras state to clear here; skips conftest's full gc.collect() per test
    yield


class _History:  # what fit returns: the logs under .history
    history = HISTORY


def _onset_lines(ax):
    return [line for line in ax.get_lines() if line.get_linestyle() == "--"]


def test_unbiased_training_curve_is_preferred():
    history = dict(HISTORY, train_eval_accuracy=[0.55, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0, 1.0])
    ax = plot_history(history, None, metrics=["accuracy"]).axes[0]
    solid = [list(line.get_ydata()) for line in ax.get_lines() if line.get_linestyle() == "-"]
    dotted = [list(line.get_ydata()) for line in ax.get_lines() if line.get_linestyle() == ":"]
    assert solid == [history["train_eval_accuracy"], HISTORY["val_accuracy"]]
    assert dotted == [HISTORY["accuracy"]]


@pytest.mark.multibackend
def test_curves_gap_and_onset(tmp_path):
    path = tmp_path / "curves.png"
    fig = plot_history(_History(), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == ["accuracy", "loss"]
    for ax in axes:
        curves = [line for line in ax.get_lines() if line.get_linestyle() == "-"]
        assert [list(c.get_ydata()) for c in curves] == [
            HISTORY[ax.get_title()], HISTORY[f"val_{ax.get_title()}"]
        ]
        assert list(curves[0].get_xdata()) == list(range(1, 9))  # epochs 1-based
        # gap shaded: a filled region between the curves
        assert any(isinstance(c, PolyCollection) and len(c.get_paths()) for c in ax.collections)
        # onset found by the criterion: epoch 5 (0-based), drawn at x = 6
        (marker,) = _onset_lines(ax)
        assert list(marker.get_xdata()) == [6, 6]


def test_onset_sources_and_no_onset(tmp_path):
    fig = plot_history(HISTORY, None, metrics=["loss"], onset=2)
    assert list(_onset_lines(fig.axes[0])[0].get_xdata()) == [3, 3]
    assert not _onset_lines(plot_history(HISTORY, None, onset=None).axes[0])
    monitor = OverfittingGapMonitor()  # a monitor that saw nothing has no onset to mark
    assert not _onset_lines(plot_history(HISTORY, None, onset=monitor).axes[0])
    # training history without validation: one curve, no shading, no onset
    fig = plot_history({"loss": [1.0, 0.5], "accuracy": [0.5, 0.7]}, tmp_path / "c.svg")
    assert len(fig.axes[0].get_lines()) == 1
    assert (tmp_path / "c.svg").read_text().lstrip().startswith("<?xml")


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="`history`.*History"):
        plot_history([1, 2, 3], None)
    with pytest.raises(ValueError, match="`history`.*no per-epoch numbers"):
        plot_history({"loss": []}, None)
    with pytest.raises(ValueError, match="`metrics`.*Available: \\['accuracy', 'loss'\\]"):
        plot_history(HISTORY, None, metrics=["auc"])
    with pytest.raises(ValueError, match="`onset`"):
        plot_history(HISTORY, None, onset="soon")


def test_missing_matplotlib_names_the_extra(monkeypatch):
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install 'keras-cnnlab\[plot\]'"):
        plot_history(HISTORY, None)
