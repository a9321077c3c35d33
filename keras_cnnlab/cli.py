"""The ``cnnlab`` command line: ``demo``, ``train``, ``tune`` and ``trace``.

Every command wires the library's parts together and nothing more: the data
comes from :func:`keras_cnnlab.data.load_dataset`, the networks from
:mod:`keras_cnnlab.models`, augmentation from :mod:`keras_cnnlab.augment`, the
printed shape trace from :mod:`keras_cnnlab.trace`, the report and the gap
monitor from :mod:`keras_cnnlab.callbacks`, the search from
:mod:`keras_cnnlab.tuning`.

Errors a user can fix (a bad argument, a dataset that is neither cached nor
downloadable, an input too small for the network, an output that already
exists) end with one line on standard error and a non-zero exit status:
2 for bad arguments, 1 for everything else. ``cnnlab --debug ...`` shows the
traceback instead.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib
import json
import os
import sys
import time
import warnings
import zipfile
from pathlib import Path

from keras_cnnlab.data import DATASETS  # numpy only: --help imports no backend

PROG = "cnnlab"
# Kept in step with keras_cnnlab.models.ARCHITECTURES (checked by the tests) so that
# building the parser imports no backend.
ARCHS = ("default", "simple", "two_conv", "two_conv_bn", "lenet", "deep_simple", "vgg_bn")
PRESETS = ("none", "light", "standard", "strong", "digits")
TUNERS = ("random", "bayesian", "hyperband", "grid")
RUN_FILES = ("model.keras", "curves.png", "report.txt", "metrics.json")


class CLIError(Exception):
    """A failure the user can fix; printed as one line, exit status 1."""


# -- argument types -------------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _input_shape(text: str) -> tuple[int, int, int]:
    parts = [p.strip() for p in text.replace("x", ",").split(",")]
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise argparse.ArgumentTypeError(
            f"expected height,width,channels such as 32,32,3 or 28,28,1, got {text!r}"
        )
    return shape


# -- parser ---------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """Bad arguments give one line (not the usage block) and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


_FORMATTER = argparse.RawDescriptionHelpFormatter


def _add_output_args(parser, default_out: str) -> None:
    parser.add_argument(
        "--out", type=Path, default=Path(default_out), metavar="DIR",
        help=f"where the model, curves, report and metrics go (default {default_out}); when it "
        "already holds a run, the next free DIR-2, DIR-3, ... is used",
    )
    parser.add_argument(
        "--overwrite", action="store_true", help="replace the files of a run already in --out"
    )


def _add_training_args(parser) -> None:
    parser.add_argument("--epochs", type=_positive_int, default=None,
                        help="training epochs (default: the recipe's, 60 for digits)")
    parser.add_argument("--batch-size", type=_positive_int, default=None,
                        help="batch size (default: the recipe's, 32 for digits)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the splits, layers and augmentation (default 0)")


def _add_recipe_args(parser) -> None:
    """The training recipe's fields (keras_cnnlab.Recipe); unset ones keep its defaults."""
    group = parser.add_argument_group("training recipe (default: keras_cnnlab.default_recipe for the dataset)")
    group.add_argument("--optimizer", default=None, help="a Keras optimizer name (default adam)")
    group.add_argument("--learning-rate", type=_positive_float, default=None, metavar="LR",
                       help="peak learning rate (default 0.001)")
    group.add_argument("--schedule", choices=("cosine", "constant"), default=None,
                       help="learning rate: cosine decay to 0 over the run (default), or constant")
    group.add_argument("--warmup-epochs", type=_non_negative_int, default=None, metavar="N",
                       help="epochs of linear learning-rate warmup (default 0)")
    group.add_argument("--weight-decay", type=_non_negative_float, default=None, metavar="WD",
                       help="decoupled weight decay, e.g. with --optimizer adamw (default 0)")
    group.add_argument("--label-smoothing", type=_non_negative_float, default=None, metavar="S",
                       help="label smoothing in [0, 1) (default 0.1)")
    group.add_argument("--ema", type=_positive_float, default=None, metavar="M",
                       help="keep an exponential moving average of the weights with momentum M, e.g. 0.99")
    group.add_argument("--flip-tta", action="store_true", default=None,
                       help="average each test image's prediction with its mirror image's (not for digits)")


_RECIPE_ARGS = (
    "epochs", "batch_size", "optimizer", "learning_rate", "schedule", "warmup_epochs",
    "weight_decay", "label_smoothing", "ema", "flip_tta",
)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``cnnlab``."""
    parser = _Parser(
        prog=PROG,
        formatter_class=_FORMATTER,
        description="Build, trace, train and tune CNN image classifiers with Keras 3.",
        epilog=(
            "examples:\n"
            "  cnnlab demo                                   # digits, offline, under a minute\n"
            "  cnnlab train --dataset fashion_mnist --arch simple --epochs 20\n"
            "  cnnlab tune --dataset digits --tuner bayesian --max-trials 10\n"
            "  cnnlab trace --arch vgg_bn --input-shape 32,32,3 --svg trace.svg\n"
            "  cnnlab trace cnnlab-out/model.keras\n\n"
            "`cnnlab COMMAND --help` shows each command's options."
        ),
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks instead of one-line errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    demo = sub.add_parser(
        "demo",
        formatter_class=_FORMATTER,
        help="trace, train, report and save a CNN on the offline digits dataset",
        description=(
            "Train a CNN on scikit-learn's 8x8 digits (offline) with the default recipe for\n"
            "them (keras_cnnlab.default_recipe: conv 64-128, label smoothing, cosine\n"
            "learning-rate decay, no augmentation): print the shape trace, the training\n"
            "report and the overfitting-gap monitor, evaluate on the test split, and save the\n"
            "model (model.keras), the curves (curves.png), the report (report.txt) and the\n"
            "figures (metrics.json)."
        ),
        epilog=(
            "examples:\n"
            "  cnnlab demo\n"
            "  cnnlab demo --epochs 40 --seed 1 --out runs/digits\n"
            "  cnnlab demo --out runs/digits --overwrite"
        ),
    )
    _add_training_args(demo)
    _add_output_args(demo, "cnnlab-out")
    demo.set_defaults(func=_demo)

    train = sub.add_parser(
        "train",
        formatter_class=_FORMATTER,
        help="the demo with your choice of dataset, network and augmentation",
        description=(
            "Train a network on a dataset with the default recipe for that data (augmentation\n"
            "preset, optimizer, schedule, label smoothing; each can be changed below), the\n"
            "training report and the overfitting-gap monitor; evaluate on the test split and\n"
            "save the results. 'digits' and 'lfw_subset' (needs scikit-image) work offline;\n"
            "the Keras datasets are read from Keras's cache (~/.keras/datasets) or downloaded."
        ),
        epilog=(
            "architectures (keras_cnnlab.models.ARCHITECTURES):\n"
            "  default      the recipe's network for the data: build_cnn's defaults (conv\n"
            "               32-64-128 with batch norm, Dense 128), digits: conv 64-128\n"
            "  simple       tutorial B, Fashion-MNIST (167,114 parameters at 28x28x1)\n"
            "  two_conv     tutorial A; two_conv_bn adds batch norm and dropout\n"
            "  lenet        tutorial C, 5x5 'valid' convolutions (needs 16x16 or larger)\n"
            "  deep_simple  tutorial B, CIFAR-10 (needs 16x16 or larger)\n"
            "  vgg_bn       tutorial D, [conv-BN]x2-pool-dropout at 32, 64, 128\n\n"
            "examples:\n"
            "  cnnlab train --arch vgg_bn --epochs 30\n"
            "  cnnlab train --dataset fashion_mnist --arch simple --augment light --out runs/fmnist\n"
            "  cnnlab train --dataset cifar10 --arch vgg_bn --augment standard --limit 5000"
        ),
    )
    train.add_argument("--dataset", choices=DATASETS, default="digits", help="default digits (offline)")
    train.add_argument("--arch", choices=ARCHS, default="default", help="the network (default: the recipe's for the data)")
    train.add_argument(
        "--augment", default="auto", metavar="PRESET",
        help=f"augmentation preset: {', '.join(PRESETS)}, a spec string such as "
        "flip-padcrop0.125, or auto (default: the preset for the dataset, "
        "keras_cnnlab.augment.PRESET_FOR_DATA: digits for digits and mnist, standard for "
        "lfw_subset and cifar10, light for fashion_mnist)",
    )
    train.add_argument(
        "--strength", type=_non_negative_float, default=None,
        help="multiplies every factor of the preset: 0 none, 1 the preset (default), 2 twice as strong",
    )
    train.add_argument("--limit", type=_positive_int, default=None, metavar="N", help="train on at most N images (stratified)")
    _add_training_args(train)
    _add_recipe_args(train)
    _add_output_args(train, "cnnlab-out")
    train.set_defaults(func=_train)

    tune = sub.add_parser(
        "tune",
        formatter_class=_FORMATTER,
        help="search CNN hyperparameters with KerasTuner and show the results table",
        description=(
            "Run a KerasTuner search over keras_cnnlab's CNNHyperModel (blocks, filters,\n"
            "kernel size, pooling, dropout, batch norm, head, optimizer, augmentation), print\n"
            "the results table and save the best model. Trials are kept in\n"
            "DIRECTORY/PROJECT; --resume continues an interrupted search."
        ),
        epilog=(
            "examples:\n"
            "  cnnlab tune --max-trials 10\n"
            "  cnnlab tune --dataset fashion_mnist --tuner hyperband --epochs 9 --directory runs\n"
            "  cnnlab tune --directory runs --resume        # continue where it stopped"
        ),
    )
    tune.add_argument("--dataset", choices=DATASETS, default="digits", help="default digits (offline)")
    tune.add_argument(
        "--tuner", choices=TUNERS, default="random",
        help="search algorithm (default random; grid: keras_tuner.GridSearch, in order, up to --max-trials)",
    )
    tune.add_argument(
        "--max-trials", type=_positive_int, default=None, metavar="N",
        help="trials to run, random, bayesian and grid (default 10); hyperband's follow from --epochs",
    )
    tune.add_argument("--epochs", type=_positive_int, default=10, help="epochs per trial (hyperband: the most per trial; default 10)")
    tune.add_argument("--limit", type=_positive_int, default=None, metavar="N", help="train on at most N images (stratified)")
    tune.add_argument("--seed", type=int, default=0, help="seed of the splits, the search and the layers (default 0)")
    tune.add_argument("--directory", type=Path, default=Path("cnnlab-tune"), metavar="DIR", help="where trials are kept (default cnnlab-tune)")
    tune.add_argument("--project-name", default=None, metavar="NAME", help="sub-directory of the search (default: the dataset name)")
    group = tune.add_mutually_exclusive_group()
    group.add_argument("--resume", action="store_true", help="continue the search found in DIR/NAME")
    group.add_argument("--overwrite", action="store_true", help="delete the search found in DIR/NAME and start again")
    tune.set_defaults(func=_tune)

    trace = sub.add_parser(
        "trace",
        formatter_class=_FORMATTER,
        help="print every layer's shapes, parameters, FLOPs and receptive field",
        description=(
            "Print the shape trace of a saved model (.keras) or of a named architecture:\n"
            "input and output shape of every layer, parameters, FLOPs, receptive field, and\n"
            "the arithmetic of every convolution and pooling step."
        ),
        epilog=(
            "examples:\n"
            "  cnnlab trace --arch simple --input-shape 28,28,1\n"
            "  cnnlab trace --arch vgg_bn --input-shape 32,32,3 --svg vgg.svg --json vgg.json\n"
            "  cnnlab trace cnnlab-out/model.keras --depth 0 --columns layer,output,params"
        ),
    )
    trace.add_argument("model", nargs="?", type=Path, help="a saved model (.keras)")
    trace.add_argument("--arch", choices=ARCHS, default=None, help="trace a named architecture instead")
    trace.add_argument("--input-shape", type=_input_shape, default=None, metavar="H,W,C", help="input of --arch (default 32,32,3), or of a model saved without one")
    trace.add_argument("--num-classes", type=_positive_int, default=10, metavar="N", help="outputs of --arch (default 10)")
    trace.add_argument("--depth", type=_non_negative_int, default=None, help="0: the model's layers only; 1 adds their parts, ...")
    trace.add_argument("--batch-size", type=_positive_int, default=1, help="batch size of the memory figures (default 1)")
    trace.add_argument("--columns", default=None, metavar="A,B,...", help="columns to show, or 'all'")
    trace.add_argument("--html", type=Path, default=None, metavar="PATH", help="also save the table as HTML")
    trace.add_argument("--svg", type=Path, default=None, metavar="PATH", help="also save the table as SVG")
    trace.add_argument("--json", type=Path, default=None, metavar="PATH", help="also save the figures as JSON")
    trace.add_argument("--overwrite", action="store_true", help="replace existing export files")
    trace.set_defaults(func=_trace)
    return parser


# -- helpers --------------------------------------------------------------------------


@contextlib.contextmanager
def _quiet_stderr():
    """Send file descriptor 2 to /dev/null (unless ``--debug``)."""
    if os.environ.get("CNNLAB_DEBUG"):
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _import_keras(seed: int | None = None) -> None:
    """Import Keras, start its backend and seed it, with the start-up chatter kept off stderr.

    TensorFlow's C++ side writes CUDA probes and absl notices straight to file
    descriptor 2 when it loads and when it first creates a device, whatever
    ``TF_CPP_MIN_LOG_LEVEL`` says; they would bury a one-line error. Seeding
    loads TensorFlow too, when it is installed, whatever the backend.
    """
    with _quiet_stderr():
        import keras

        keras.ops.convert_to_tensor(0)  # creates the devices
        if seed is not None:
            keras.utils.set_random_seed(seed)


def _need(module: str, what: str):
    """Import a keras_cnnlab module that a command needs, or fail with one line."""
    try:
        return importlib.import_module(f"keras_cnnlab.{module}")
    except ModuleNotFoundError as error:
        if error.name and error.name.startswith("keras_cnnlab"):
            raise CLIError(f"{what} needs keras_cnnlab.{module}, which this installation lacks.") from None
        raise


def _load_data(name: str, *, seed: int, limit: int | None = None):
    from keras_cnnlab.data import load_dataset

    try:
        return load_dataset(name, seed=seed, limit=limit)
    except RuntimeError as error:
        message = str(error).replace("load_dataset('digits')", "--dataset digits")
        raise CLIError(message) from None
    except ValueError as error:
        message = str(error)
        if "`limit`: limit=" not in message:
            raise
        message = message.replace("Invalid value for argument `limit`: limit=", "--limit ")
        raise CLIError(message.replace("Use limit=", "Use --limit ")) from None


def _run_dir(out: Path, overwrite: bool) -> Path:
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


def _free_name(path: Path) -> Path:
    """The first of ``path``'s ``STEM-N.SUFFIX`` siblings that does not exist yet."""
    n = 2
    while (candidate := path.with_name(f"{path.stem}-{n}{path.suffix}")).exists():
        n += 1
    return candidate


def _check_new(path: Path | None, overwrite: bool) -> None:
    if path is not None and path.exists() and not overwrite:
        raise CLIError(f"{path} exists; pass --overwrite to replace it.")


def _augmentation(recipe, preset: str, data, *, strength, seed):
    """The augmentation layer of the run and the name it is shown by."""
    name = recipe.augmentation if preset == "auto" else preset
    if name == "none":
        if strength is not None:
            raise ValueError(
                f"--strength {strength:g} scales an augmentation preset, but this run has none "
                "(--augment none, or the recipe for the data trains without one). Add "
                "--augment PRESET, e.g. --augment digits."
            )
        return None, name
    augment = _need("augment", f"--augment {name}")
    if name == "auto":
        name = augment.preset_for(data)
    kwargs = {"seed": seed, "data": data}  # checks the preset against the data (no flips on digits)
    if strength is not None:
        kwargs["strength"] = strength
    return augment.augmentation_preset(name, **kwargs), name


def _build(arch: str, input_shape, num_classes, *, network=None, **kwargs):
    """``arch`` by name; "default" is build_cnn with ``network`` (the recipe's changes)."""
    from keras_cnnlab.models import build_architecture, build_cnn

    if arch == "default":
        return build_cnn(input_shape, num_classes, name="cnn", **{**(network or {}), **kwargs})
    return build_architecture(arch, input_shape, num_classes, **kwargs)


def _print_trace(model) -> None:
    trace = _need("trace", "The shape trace")
    trace.print_shape_trace(model, depth=0)


def _save_curves(history, path: Path, title: str) -> str:
    try:
        plots = _need("plots", "The curves picture")
        plots.plot_history(history, path, title=title)
    except ImportError as error:
        return f"skipped ({error})"
    return str(path)


def _as_options(message: str) -> str:
    """A library message with the command line's names: `label_smoothing` -> --label-smoothing."""
    import re

    message = re.sub(r"Invalid value for argument `(\w+)`[.:] ?", lambda m: f"{_option(m[1])}: ", message)
    message = re.sub(r"\b(\w+)=(?=\S)", lambda m: f"{_option(m[1])} " if m[1] in _OPTION_NAMES else m[0], message)
    return re.sub(r"`(\w+)`", lambda m: _option(m[1]) if m[1] in _OPTION_NAMES else m[0], message)


_OPTION_NAMES = {"strength", "label_smoothing", "learning_rate", "weight_decay", "warmup_epochs",
                 "epochs", "batch_size", "ema", "schedule", "optimizer"}


def _option(name: str) -> str:
    return f"--{name.replace('_', '-')}" if name in _OPTION_NAMES else f"`{name}`"


def _recipe(args, dataset: str):
    """The dataset's default recipe with the command line's changes."""
    from keras_cnnlab.recipe import default_recipe

    changes = {name: getattr(args, name, None) for name in _RECIPE_ARGS}
    changes = {name: value for name, value in changes.items() if value is not None}
    recipe = default_recipe(dataset, **changes)
    import keras

    try:
        keras.optimizers.get(recipe.optimizer)
    except ValueError:
        raise CLIError(
            f"--optimizer {recipe.optimizer!r} is not a Keras optimizer; try adam, adamw, sgd or rmsprop."
        ) from None
    return recipe


def _fit_and_save(args, *, dataset: str, arch: str, preset: str, strength=None, limit=None,
                  patience=5) -> int:
    start = time.perf_counter()
    _import_keras(seed=args.seed)
    data = _load_data(dataset, seed=args.seed, limit=limit)
    out = _run_dir(args.out, args.overwrite)
    try:
        recipe = _recipe(args, dataset)
        augmentation, preset = _augmentation(recipe, preset, data, strength=strength, seed=args.seed)
    except ValueError as error:  # a recipe field or the strength: say it with the option's name
        raise CLIError(_as_options(_one_line(error))) from None
    from keras_cnnlab.shapes import ShapeError

    try:
        model = _build(arch, data.input_shape, data.num_classes, network=recipe.network,
                       augmentation=augmentation, seed=args.seed)
    except ShapeError as error:
        shape = ",".join(str(n) for n in data.input_shape)
        raise CLIError(f"{_one_line(error)} Every step: cnnlab trace --arch {arch} --input-shape {shape}") from None
    described = preset if strength is None else f"{preset}, strength {strength:g}"
    print(data)
    network = f" ({recipe.describe_network()})" if arch == "default" else ""
    print(f"network {arch!r}{network} with augmentation {described!r}")
    print(f"recipe: {recipe.describe()}")
    _print_trace(model)

    callbacks = _need("callbacks", "The training report")
    report = callbacks.RichTrainingReport(batch_size=recipe.batch_size)
    monitor = callbacks.OverfittingGapMonitor(monitor="accuracy", patience=patience)
    last_epoch = _LastEpochWeights()
    recipe.compile(model, data.y_train, images=data.x_train)
    title = f"{dataset}: network {arch!r}, augmentation {described!r}"
    try:
        history = model.fit(
            data.x_train, data.y_train,
            validation_data=(data.x_val, data.y_val),
            epochs=recipe.epochs, batch_size=recipe.batch_size,
            callbacks=[monitor, report, last_epoch], verbose=0,
        )
    except KeyboardInterrupt:
        return _save_interrupted(out, model, last_epoch, report, title)
    test_loss, _ = model.evaluate(data.x_test, data.y_test, batch_size=256, verbose=0)
    test_accuracy = recipe.evaluate(model, data.x_test, data.y_test)
    seconds = time.perf_counter() - start

    out.mkdir(parents=True, exist_ok=True)
    model_path = out / "model.keras"
    model.save(model_path)
    curves = _save_curves(history, out / "curves.png", title)
    (out / "report.txt").write_text(report.export_text(), encoding="utf-8")
    metrics = {
        "dataset": dataset,
        "arch": arch,
        "augment": preset,
        "strength": strength,
        "recipe": dataclasses.asdict(recipe),
        "seed": args.seed,
        "train_images": int(len(data.x_train)),
        "test_images": int(len(data.x_test)),
        "test_loss": float(test_loss),
        "test_accuracy": float(test_accuracy),
        "params": int(model.count_params()),
        "seconds": round(seconds, 1),
        "history": _history(history),
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    print(
        f"test accuracy {test_accuracy:.4f} (loss {test_loss:.4f}) on {len(data.x_test)} "
        f"held-out {dataset} images; {seconds:.0f}s in all"
    )
    print(f"saved to {out}/:")
    print(f"  model    {model_path}   (keras.saving.load_model; `cnnlab trace {model_path}`)")
    print(f"  curves   {curves}")
    print(f"  report   {out / 'report.txt'}")
    print(f"  metrics  {out / 'metrics.json'}")
    return 0


def _history(history) -> dict:
    return {k: [float(v) for v in vs] for k, vs in history.history.items()}


class _LastEpochWeights:
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


def _save_interrupted(out: Path, model, last_epoch, report, title: str) -> int:
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
    metrics = {
        "interrupted": True,
        "epochs_completed": last_epoch.epochs,
        "history": _history(history) if history is not None else {},
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
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


# -- commands -------------------------------------------------------------------------


def _demo(args: argparse.Namespace) -> int:
    # With 144 validation images val_loss is noisy, so the gap monitor waits 5 epochs
    # (its patience in _fit_and_save) before it calls a rise overfitting.
    return _fit_and_save(args, dataset="digits", arch="default", preset="auto")


def _train(args: argparse.Namespace) -> int:
    return _fit_and_save(
        args, dataset=args.dataset, arch=args.arch, preset=args.augment, strength=args.strength,
        limit=args.limit,
    )


def _tune(args: argparse.Namespace) -> int:
    if args.tuner == "hyperband" and args.max_trials is not None:
        raise CLIError(
            "--max-trials does not apply to --tuner hyperband: its trials follow from --epochs "
            "(the most epochs one trial gets) and its factor of 3."
        )
    project = args.project_name or args.dataset
    folder = args.directory / project
    exists = folder.exists() and any(folder.iterdir())
    if exists and not (args.resume or args.overwrite):
        raise CLIError(
            f"{folder} holds a search; pass --resume to continue it or --overwrite to start again."
        )
    if args.resume and not exists:
        raise CLIError(f"--resume: no search in {folder} to continue.")
    best_path = folder / "best.keras"
    _import_keras(seed=args.seed)
    data = _load_data(args.dataset, seed=args.seed, limit=args.limit)
    tuning = _need("tuning", "cnnlab tune")
    import keras_tuner

    space = None
    augment = _need("augment", "cnnlab tune") if tuning.search_space.augmentation_available() else None
    if augment is not None and args.dataset in augment.FLIP_SENSITIVE:
        # A flipped digit is another digit (or none): search only flip-free augmentation.
        space = tuning.SearchSpace(augmentation=["none", "digits"])
    hypermodel = tuning.CNNHyperModel(
        data.input_shape, data.num_classes, search_space=space, labels=data.y_train,
        report=True, gap_monitor=True, seed=args.seed,
        freeze_gc=True,  # the command owns its process: keep KerasTuner's collections short
    )
    common = dict(
        objective="val_accuracy", directory=str(args.directory), project_name=project,
        overwrite=args.overwrite, seed=args.seed,
    )
    max_trials = args.max_trials or 10
    if args.tuner == "hyperband":
        tuner = keras_tuner.Hyperband(hypermodel, max_epochs=args.epochs, factor=3, **common)
    elif args.tuner == "bayesian":
        tuner = keras_tuner.BayesianOptimization(hypermodel, max_trials=max_trials, **common)
    elif args.tuner == "grid":
        # Every combination in order, the last hyperparameter changing first, until max_trials.
        tuner = keras_tuner.GridSearch(hypermodel, max_trials=max_trials, **common)
    else:
        tuner = keras_tuner.RandomSearch(hypermodel, max_trials=max_trials, **common)
    print(f"{data}; {args.tuner} search in {folder}")
    search = dict(validation_data=(data.x_val, data.y_val), verbose=0)
    if args.tuner != "hyperband":
        search["epochs"] = args.epochs
    tuner.search(data.x_train, data.y_train, **search)
    tuning.results_table(tuner)

    with warnings.catch_warnings():
        # The best model is reloaded for evaluation only: its optimizer state is not needed.
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        best = tuner.get_best_models(1)[0]
    loss, accuracy = best.evaluate(data.x_test, data.y_test, batch_size=256, verbose=0)
    if best_path.exists() and not args.overwrite:
        # a resumed search keeps the model saved before: best-2.keras, best-3.keras, ...
        best_path = _free_name(best_path)
    best.save(best_path)
    print(f"best model: test accuracy {accuracy:.4f} (loss {loss:.4f}); saved to {best_path}")
    return 0


def _load_model(path: Path):
    if not path.exists():
        raise CLIError(f"{path}: no such file.")
    if path.suffix not in (".keras", ".h5", ".hdf5"):
        raise CLIError(f"{path}: expected a model saved as .keras.")
    if path.is_dir():
        raise CLIError(f"{path} is a directory; give the .keras file a model was saved to.")
    if path.suffix == ".keras" and not zipfile.is_zipfile(path):
        raise CLIError(
            f"{path} is not a Keras model file: a .keras file is the zip archive `model.save(path)` "
            "writes, and this one is not a zip archive."
        )
    import keras

    import keras_cnnlab.blocks  # noqa: F401  (registers ConvBlock and ClassifierHead)

    with contextlib.suppress(ImportError):
        importlib.import_module("keras_cnnlab.augment")  # registers the augmentation layers
    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as error:  # Keras raises many types for a file it cannot read
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CLIError(f"{path}: could not load it as a Keras model ({first})") from None


def _trace(args: argparse.Namespace) -> int:
    if (args.model is None) == (args.arch is None):
        raise CLIError("give either a saved model (cnnlab trace model.keras) or --arch NAME, not both.")
    for path in (args.html, args.svg, args.json):
        _check_new(path, args.overwrite)
    _import_keras()
    trace_module = _need("trace", "cnnlab trace")
    if args.model is not None:
        model = _load_model(args.model)
        input_shape = args.input_shape
    else:
        input_shape = args.input_shape or (32, 32, 3)
        try:
            model = _build(args.arch, input_shape, args.num_classes)
        except ValueError as error:
            # The arithmetic is the point of this command: show all of it.
            print(f"{PROG}: error: {error}", file=sys.stderr)
            return 1
        input_shape = None
    columns = None
    if args.columns:
        columns = "all" if args.columns == "all" else [c.strip() for c in args.columns.split(",") if c.strip()]
    options = {"batch_size": args.batch_size}
    if args.depth is not None:
        options["depth"] = args.depth
    trace_module.print_shape_trace(model, input_shape, columns=columns, **options)
    if args.html or args.svg or args.json:
        trace = trace_module.trace_shapes(model, input_shape, **options)
    written = []
    if args.html is not None:
        trace.save_html(args.html, columns)
        written.append(args.html)
    if args.svg is not None:
        trace.save_svg(args.svg, columns)
        written.append(args.svg)
    if args.json is not None:
        args.json.write_text(trace.to_json() + "\n", encoding="utf-8")
        written.append(args.json)
    for path in written:
        print(f"saved {path}")
    return 0


# -- entry point ----------------------------------------------------------------------


def _one_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    if len(lines) > 1 and lines[-1].startswith("Fix"):
        return f"{lines[0]} {lines[-1]}"
    return lines[0]


def _format_warning(message, category, filename, lineno, line=None) -> str:
    return f"{PROG}: warning: {message}\n"


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``cnnlab``; returns the exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # --help, or a bad argument (already reported)
        return exit_.code if isinstance(exit_.code, int) else 2
    if args.debug:
        os.environ["CNNLAB_DEBUG"] = "1"
    formatwarning = warnings.formatwarning
    if not args.debug:
        warnings.formatwarning = _format_warning  # one line, not the source line that warned
    try:
        return _run(args)
    finally:
        warnings.formatwarning = formatwarning


def _run(args: argparse.Namespace) -> int:
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except CLIError as error:
        if args.debug:
            raise
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    except (ValueError, RuntimeError, OSError, ImportError) as error:
        if args.debug:
            raise
        print(f"{PROG}: error: {_one_line(error)} (--debug shows the traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
