"""Regenerate the pictures of the documentation, made by keras_cnnlab itself.

    python docs/make_pictures.py                  # all of them, into docs/img/
    python docs/make_pictures.py trace curves     # some of them

Each picture comes from the public function a user would call: the shape trace
and the training report exported as SVG, the augmentation grid and the training
curves drawn with matplotlib. Training runs on the offline digits dataset with
fixed seeds, so the pictures only change when the code does. A picture whose
module is missing from this installation is skipped with a message.
"""

from __future__ import annotations

import argparse
import importlib
import io
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

IMG = Path(__file__).resolve().parent / "img"


def trace_svg() -> list[Path]:
    """The shape trace of tutorial B's Fashion-MNIST network."""
    from keras_cnnlab import build_architecture, trace_shapes

    model = build_architecture("simple", (28, 28, 1), 10)
    trace = trace_shapes(model, batch_size=32, optimizer="sgd")
    path = IMG / "trace.svg"
    trace.save_svg(path, title="print_shape_trace(build_architecture('simple', (28, 28, 1), 10))")
    return [path]


def _train_demo(epochs: int = 20):
    """What `cnnlab demo` trains, with its report and gap monitor; nothing printed."""
    import keras

    from keras_cnnlab import (
        OverfittingGapMonitor,
        RichTrainingReport,
        augmentation_preset,
        build_cnn,
        compile_for,
        load_dataset,
    )

    keras.utils.set_random_seed(0)
    data = load_dataset("digits", seed=0)
    model = build_cnn(data.input_shape, data.num_classes, seed=0,
                      augmentation=augmentation_preset("digits", seed=0))
    compile_for(model, data.y_train)
    report = RichTrainingReport(console=io.StringIO(), batch_size=32)
    monitor = OverfittingGapMonitor(console=io.StringIO())
    history = model.fit(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val),
                        epochs=epochs, batch_size=32, callbacks=[monitor, report], verbose=0)
    return history, report, monitor


def _train_overfitting(epochs: int = 30):
    """A network without dropout, batch norm or augmentation on 300 images: it overfits."""
    import keras

    from keras_cnnlab import (
        OverfittingGapMonitor,
        RichTrainingReport,
        build_cnn,
        compile_for,
        load_dataset,
    )

    keras.utils.set_random_seed(0)
    data = load_dataset("digits", seed=0, limit=300)
    model = build_cnn(data.input_shape, data.num_classes, filters=(32, 64), batch_norm=False,
                      dropout=0.0, head_units=(256,), head_dropout=0.0, seed=0)
    compile_for(model, data.y_train)
    report = RichTrainingReport(console=io.StringIO(), batch_size=16)
    monitor = OverfittingGapMonitor(patience=3, console=io.StringIO())
    history = model.fit(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val),
                        epochs=epochs, batch_size=16, callbacks=[monitor, report], verbose=0)
    return history, report, monitor


_cache: dict = {}


def _run(name, fn):
    if name not in _cache:
        _cache[name] = fn()
    return _cache[name]


def report_svg() -> list[Path]:
    """The training report of an overfitting run, with the gap monitor's verdict."""
    _, report, _ = _run("overfitting", _train_overfitting)
    path = IMG / "report.svg"
    report.save(path)
    return [path]


def curves_png() -> list[Path]:
    """The curves of `cnnlab demo`, and of the overfitting run with its onset marked."""
    from keras_cnnlab import plot_history

    history, _, monitor = _run("demo", _train_demo)
    demo = IMG / "curves.png"
    plot_history(history, demo, onset=monitor, title="cnnlab demo: digits, 'digits' augmentation")
    history, _, monitor = _run("overfitting", _train_overfitting)
    over = IMG / "curves-overfitting.png"
    plot_history(history, over, onset=monitor, title="no dropout, batch norm or augmentation, 300 images")
    return [demo, over]


def augmentation_png() -> list[Path]:
    """Nine augmented copies of one digit, for each preset that suits digits."""
    from keras_cnnlab import load_dataset, preview_augmentation

    data = load_dataset("digits", seed=0)
    paths = []
    for preset in ("digits", "standard"):
        path = IMG / f"augmentation-{preset}.png"
        preview_augmentation(preset, data.x_train[:1], n=9, path=path)
        paths.append(path)
    return paths


PICTURES = {
    "trace": (trace_svg, "keras_cnnlab.trace"),
    "report": (report_svg, "keras_cnnlab.callbacks.report"),
    "curves": (curves_png, "keras_cnnlab.plots"),
    "augmentation": (augmentation_png, "keras_cnnlab.augment"),
}


def _available(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name and error.name.startswith("keras_cnnlab"):
            return False
        raise
    return True


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"pictures to make: {', '.join(PICTURES)} (default: all)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(PICTURES))
    if unknown:
        parser.error(f"unknown picture {unknown[0]!r}; choose from {', '.join(PICTURES)}")
    IMG.mkdir(exist_ok=True)
    for name in args.names or PICTURES:
        make, module = PICTURES[name]
        if not _available(module):
            print(f"skipped {name}: {module} is not in this installation")
            continue
        for path in make():
            print(f"wrote {path.relative_to(IMG.parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
