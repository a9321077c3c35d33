"""What the ``cnnlab`` commands share: the error a user can fix, starting Keras, data, networks.

Nothing here imports a backend when the module loads: Keras, the datasets and
the networks load inside the functions, so that ``cnnlab --help`` stays quick.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys

PROG = "cnnlab"


class CLIError(Exception):
    """A failure the user can fix; printed as one line, exit status 1."""


def one_line(error: BaseException) -> str:
    """The first line of ``error``'s message, with its closing "Fix ..." line if it has one."""
    lines = [line.strip() for line in str(error).strip().splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    if len(lines) > 1 and lines[-1].startswith("Fix"):
        return f"{lines[0]} {lines[-1]}"
    return lines[0]


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


def import_keras(seed: int | None = None) -> None:
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


def need(module: str, what: str):
    """Import a keras_cnnlab module that a command needs, or fail with one line."""
    try:
        return importlib.import_module(f"keras_cnnlab.{module}")
    except ModuleNotFoundError as error:
        if error.name and error.name.startswith("keras_cnnlab"):
            raise CLIError(f"{what} needs keras_cnnlab.{module}, which this installation lacks.") from None
        raise


def load_data(name: str, *, seed: int, limit: int | None = None):
    """``load_dataset(name)``, its errors in the command line's words (--dataset, --limit)."""
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


def build_model(arch: str, input_shape, num_classes, *, network=None, **kwargs):
    """``arch`` by name; "default" is build_cnn with ``network`` (the recipe's changes)."""
    from keras_cnnlab.models import build_architecture, build_cnn

    if arch == "default":
        return build_cnn(input_shape, num_classes, name="cnn", **{**(network or {}), **kwargs})
    return build_architecture(arch, input_shape, num_classes, **kwargs)
