"""The argument parser of ``cnnlab``: one sub-parser per command, with its help and examples.

Building it imports no backend (``cnnlab --help`` answers at once): the
choices below are plain tuples, kept in step with the library by the tests.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from keras_cnnlab.cli.common import PROG
from keras_cnnlab.data import DATASETS  # numpy only: --help imports no backend

# Kept in step with keras_cnnlab.models.ARCHITECTURES (checked by the tests) so that
# building the parser imports no backend.
ARCHS = ("default", "simple", "two_conv", "two_conv_bn", "lenet", "deep_simple", "vgg_bn")
PRESETS = ("none", "light", "standard", "strong", "digits")
TUNERS = ("random", "bayesian", "hyperband", "grid")
#: The options that change a field of the training recipe (keras_cnnlab.Recipe).
RECIPE_OPTIONS = (
    "epochs", "batch_size", "optimizer", "learning_rate", "schedule", "warmup_epochs",
    "weight_decay", "label_smoothing", "ema", "flip_tta",
)

_FORMATTER = argparse.RawDescriptionHelpFormatter


# -- argument types -------------------------------------------------------------------


def _number(convert: type, *, zero: bool = False):
    """An argument type: the text as ``convert`` (int or float), above 0, or from 0 when ``zero``."""
    noun = "integer" if convert is int else "number"
    if zero:
        expected = f"{'an' if convert is int else 'a'} {noun} >= 0"
    else:
        expected = f"a positive {noun}"

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not (value >= 0 if zero else value > 0):  # NaN fails both
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


_positive_int = _number(int)
_non_negative_int = _number(int, zero=True)
_positive_float = _number(float)
_non_negative_float = _number(float, zero=True)


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


# -- the parser -----------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """Bad arguments give one line (not the usage block) and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``cnnlab``; ``args.command`` names the command to run."""
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
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add_command in (_add_demo, _add_train, _add_tune, _add_trace):
        add_command(commands)
    return parser


# -- options shared by demo and train -------------------------------------------------


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
                        help="batch size (default: the recipe's, 64 for digits)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the splits, layers and augmentation (default 0)")


def _add_recipe_args(parser) -> None:
    """The training recipe's fields (keras_cnnlab.Recipe); unset ones keep its defaults."""
    group = parser.add_argument_group("training recipe (default: keras_cnnlab.default_recipe for the dataset)")
    group.add_argument("--optimizer", default=None, help="a Keras optimizer name (default adam)")
    group.add_argument("--learning-rate", type=_positive_float, default=None, metavar="LR",
                       help="peak learning rate (default: the recipe's, 0.002 for digits)")
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


# -- one sub-parser per command -------------------------------------------------------


def _add_demo(commands) -> None:
    demo = commands.add_parser(
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


def _add_train(commands) -> None:
    train = commands.add_parser(
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
            "  cnnlab train --dataset fashion_mnist --arch simple --augmentation light --out runs/fmnist\n"
            "  cnnlab train --dataset cifar10 --arch vgg_bn --augmentation standard --limit 5000"
        ),
    )
    train.add_argument("--dataset", choices=DATASETS, default="digits", help="default digits (offline)")
    train.add_argument("--arch", choices=ARCHS, default="default", help="the network (default: the recipe's for the data)")
    train.add_argument(
        "--augmentation", "--augment", default="auto", metavar="PRESET",
        help=f"augmentation preset: {', '.join(PRESETS)}, a spec string such as "
        "flip-padcrop0.125, or auto (default: the recipe's for the dataset: none for "
        "digits; for the others the preset for the data, keras_cnnlab.augment.PRESET_FOR_DATA: "
        "digits for mnist, standard for lfw_subset and cifar10, light for fashion_mnist)",
    )
    train.add_argument(
        "--strength", type=_non_negative_float, default=None,
        help="multiplies every factor of the preset: 0 none, 1 the preset (default), 2 twice as strong",
    )
    train.add_argument("--limit", type=_positive_int, default=None, metavar="N", help="train on at most N images (stratified)")
    _add_training_args(train)
    _add_recipe_args(train)
    _add_output_args(train, "cnnlab-out")


def _add_tune(commands) -> None:
    tune = commands.add_parser(
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


def _add_trace(commands) -> None:
    trace = commands.add_parser(
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
