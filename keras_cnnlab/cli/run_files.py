"""The run directory of ``cnnlab demo`` and ``train``: choosing it, writing it, and Ctrl-C.

A run writes :data:`RUN_FILES` into a directory that holds no earlier run (or
replaces one with ``--overwrite``). Ctrl-C during ``fit`` still leaves the
report, the curves and the model of the last completed epoch there.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from keras_cnnlab.cli.common import PROG, CLIError, need

RUN_FILES = ("model.keras", "curves.png", "report.txt", "metrics.json")


def run_dir(out: Path, overwrite: bool) -> Path:
    """``out``, or the first ``out-N`` holding no run, unless ``overwrite``."""
    if out.exists() and not out.is_dir():
        raise CLIError(f"--out {out} is a file; give a directory.")
    if overwrite:
        return out

    def taken(folder: Path) -> bool:
        return any((folder / name).exists() for name in RUN_FILES)

    candidate, n = out, 1
    while taken(candidate):
        n += 1
        candidate = out.with_name(f"{out.name}-{n}")
    if candidate != out:
        print(f"{out} already holds a run; writing to {candidate} (--overwrite replaces it)")
    return candidate


def history_dict(history) -> dict:
    """``history.history`` as plain floats, for metrics.json."""
    return {k: [float(v) for v in vs] for k, vs in history.history.items()}


def save_run(out: Path, model, history, report, title: str, metrics: dict) -> str:
    """Write the model, the curves, the report and ``metrics``; return where the curves went."""
    out.mkdir(parents=True, exist_ok=True)
    model.save(out / "model.keras")
    curves = _save_curves(history, out / "curves.png", title)
    (out / "report.txt").write_text(report.export_text(), encoding="utf-8")
    _write_metrics(out, metrics)
    return curves


def print_saved(out: Path, curves: str) -> None:
    """List the files :func:`save_run` wrote."""
    model_path = out / "model.keras"
    print(f"saved to {out}/:")
    print(f"  model    {model_path}   (keras_cnnlab.load_model; `cnnlab trace {model_path}`)")
    print(f"  curves   {curves}")
    print(f"  report   {out / 'report.txt'}")
    print(f"  metrics  {out / 'metrics.json'}")


def _save_curves(history, path: Path, title: str) -> str:
    try:
        plots = need("plots", "The curves picture")
        plots.plot_history(history, path, title=title)
    except ImportError as error:
        return f"skipped ({error})"
    return str(path)


def _write_metrics(out: Path, metrics: dict) -> None:
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")


class LastEpochWeights:
    """A Keras callback keeping a copy of the weights at the end of every epoch.

    What ``cnnlab train`` saves when Ctrl-C stops ``fit`` mid-epoch: the model as
    the last completed epoch left it. A plain class made a Callback lazily, so
    that importing the CLI does not import Keras.
    """

    def __new__(cls):
        import keras

        class LastEpochWeights(keras.callbacks.Callback):
            def __init__(self):
                super().__init__()
                self.weights, self.epochs = None, 0

            def on_epoch_end(self, epoch, logs=None):
                self.weights = [w.numpy() if hasattr(w, "numpy") else w for w in self.model.get_weights()]
                self.epochs = epoch + 1

        return LastEpochWeights()


def save_interrupted(out: Path, model, last_epoch, report, title: str) -> int:
    """Ctrl-C in ``fit``: save the report, the curves and the last completed epoch's model."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.txt").write_text(report.export_text(), encoding="utf-8")
    saved = [("report", out / "report.txt")]
    history = getattr(model, "history", None)
    if last_epoch.weights is not None:
        model.set_weights(last_epoch.weights)
        model.save(out / "model.keras")
        saved.insert(0, ("model", out / "model.keras"))
        if history is not None and history.history:
            curves = _save_curves(history, out / "curves.png", f"{title} (interrupted)")
            saved.insert(1, ("curves", curves))
    _write_metrics(out, {
        "interrupted": True,
        "epochs_completed": last_epoch.epochs,
        "history": history_dict(history) if history is not None else {},
    })
    saved.append(("metrics", out / "metrics.json"))
    done = last_epoch.epochs
    if done:
        print(f"{PROG}: interrupted; saved the model after epoch {done} (the last completed, not "
              f"evaluated on the test split) to {out}/:", file=sys.stderr)
    else:
        print(f"{PROG}: interrupted before the first epoch ended (no model to save); saved to {out}/:",
              file=sys.stderr)
    for name, path in saved:
        print(f"  {name:<8} {path}", file=sys.stderr)
    return 130
