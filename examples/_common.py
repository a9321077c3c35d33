"""What the example scripts share: the command-line flags and the offline fallback.

Each example trains on its tutorial's dataset when Keras has it cached
(``~/.keras/datasets``) or can download it. ``--smoke`` runs a tiny subset for
one epoch, and when the dataset is not cached it uses scikit-learn's digits
(offline), resized to the tutorial's input shape so that the tutorial's own
network runs unchanged. ``--dataset digits`` does a full run on digits.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

import numpy as np

from keras_cnnlab import Dataset, load_dataset
from keras_cnnlab.data import keras_cache_dir

DATASETS = ("digits", "mnist", "fashion_mnist", "cifar10")
SMOKE_SIZES = {"train": 192, "val": 64, "test": 64}

# Where Keras's own loaders leave each dataset (see keras_cnnlab.data).
_CACHE_FILES = {
    "mnist": ["mnist.npz"],
    "fashion_mnist": [
        f"fashion-mnist/{name}-ubyte.gz"
        for name in ("train-labels-idx1", "train-images-idx3", "t10k-labels-idx1", "t10k-images-idx3")
    ],
    "cifar10": [
        f"cifar-10-batches-py-target/cifar-10-batches-py/{name}"
        for name in ("data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch")
    ],
}


def parser(doc: str, *, dataset: str, epochs: int, batch_size: int) -> argparse.ArgumentParser:
    """The flags every example takes: --smoke, --dataset, --epochs, --batch-size, --seed."""
    first = doc.strip().splitlines()[0]
    p = argparse.ArgumentParser(description=first, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--smoke", action="store_true",
                   help="a few seconds: a tiny subset, one epoch (digits when the dataset is not cached)")
    p.add_argument("--dataset", choices=DATASETS, default=dataset, help=f"default {dataset}, the tutorial's")
    p.add_argument("--epochs", type=int, default=epochs, help=f"default {epochs}, the tutorial's")
    p.add_argument("--batch-size", type=int, default=batch_size, help=f"default {batch_size}")
    p.add_argument("--seed", type=int, default=0)
    return p


def is_cached(name: str) -> bool:
    """Whether Keras's cache holds ``name`` (so no download is needed)."""
    if name == "digits":
        return True
    cache = keras_cache_dir()
    return all((cache / f).exists() for f in _CACHE_FILES[name])


def resize_images(x: np.ndarray, input_shape) -> np.ndarray:
    """Resize (N, h, w, c) images to ``input_shape`` (bilinear; gray -> RGB by copying)."""
    import keras

    height, width, channels = input_shape
    if x.shape[1:3] != (height, width):
        x = keras.ops.convert_to_numpy(
            keras.ops.image.resize(x, (height, width), interpolation="bilinear", antialias=False)
        )
    if x.shape[-1] != channels:
        x = np.repeat(x[..., :1], channels, axis=-1)
    return np.clip(x, 0.0, 1.0).astype("float32")


def _subset(x, y, n, rng):
    keep = rng.permutation(len(x))[:n]
    return x[keep], y[keep]


def load(name: str, *, input_shape, smoke: bool, one_hot: bool = False, seed: int = 0,
         validation_split: float = 0.1) -> Dataset:
    """The tutorial's dataset, or the offline fallback; tiny with ``smoke``.

    Exits with one clear line when a full run's dataset can be neither read nor
    downloaded.
    """
    if smoke and not is_cached(name):
        print(f"[smoke] {name} is not in Keras's cache ({keras_cache_dir()}): using digits resized "
              f"to {tuple(input_shape)}")
        name = "digits"
    try:
        data = load_dataset(name, one_hot=one_hot, seed=seed, validation_split=validation_split,
                            limit=4 * SMOKE_SIZES["train"] if smoke and name != "digits" else None)
    except RuntimeError as error:
        sys.exit(f"{error}\nFor a run that needs no download: --dataset digits (or --smoke).")
    if smoke:
        rng = np.random.default_rng(seed)
        x_train, y_train = _subset(data.x_train, data.y_train, SMOKE_SIZES["train"], rng)
        x_val, y_val = _subset(data.x_val, data.y_val, SMOKE_SIZES["val"], rng)
        x_test, y_test = _subset(data.x_test, data.y_test, SMOKE_SIZES["test"], rng)
        data = dataclasses.replace(data, x_train=x_train, y_train=y_train, x_val=x_val,
                                   y_val=y_val, x_test=x_test, y_test=y_test)
    if data.input_shape != tuple(input_shape):
        data = dataclasses.replace(
            data,
            x_train=resize_images(data.x_train, input_shape),
            x_val=resize_images(data.x_val, input_shape),
            x_test=resize_images(data.x_test, input_shape),
        )
    print(data)
    return data


def heading(text: str) -> None:
    """Print a step of the workflow."""
    print(f"\n== {text} " + "=" * max(0, 76 - len(text)))
