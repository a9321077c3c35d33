"""Load -> Reshape -> Normalize -> Encode in one call.

``load_dataset`` returns float32 images in [0, 1] with a channel axis, labels
(integer ids or one-hot), class names and stratified train/validation/test
splits. ``"digits"`` (scikit-learn's 1,797 real 8x8 digits) and ``"lfw_subset"``
(scikit-image's 200 real 25x25 faces and non-faces, the ``skimage`` extra) work
offline; the
Keras datasets are read from Keras's cache (``$KERAS_HOME/datasets``, by default
``~/.keras/datasets``) when present, and downloaded through ``keras.datasets``
otherwise.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import pickle
from pathlib import Path

import numpy as np

__all__ = ["Dataset", "DATASETS", "load_dataset", "prepare_images", "keras_cache_dir"]

DATASETS = ("digits", "lfw_subset", "mnist", "fashion_mnist", "cifar10")
# Datasets that ship inside a package and split like digits (no test set of their own).
OFFLINE = ("digits", "lfw_subset")

_CLASS_NAMES = {
    "digits": [str(i) for i in range(10)],
    "lfw_subset": ["non-face", "face"],
    "mnist": [str(i) for i in range(10)],
    "fashion_mnist": [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ],
    "cifar10": [
        "airplane", "automobile", "bird", "cat", "deer",
        "dog", "frog", "horse", "ship", "truck",
    ],
}


@dataclasses.dataclass
class Dataset:
    """Train/validation/test splits ready for ``model.fit``.

    Images are float32 in [0, 1], shaped ``(N, height, width, channels)``.
    Labels are integer ids, or one-hot float32 rows with ``one_hot=True``.
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: list[str]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        """Shape of one image, for ``build_cnn``."""
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        """Number of classes."""
        return len(self.class_names)

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, train={len(self.x_train)}, val={len(self.x_val)}, "
            f"test={len(self.x_test)}, input_shape={self.input_shape}, "
            f"num_classes={self.num_classes})"
        )


def keras_cache_dir() -> Path:
    """Where Keras caches downloaded datasets (``$KERAS_HOME/datasets``)."""
    home = os.environ.get("KERAS_HOME", os.path.join(os.path.expanduser("~"), ".keras"))
    return Path(home) / "datasets"


def prepare_images(images, *, data_format: str = "channels_last") -> np.ndarray:
    """Reshape and normalize raw images: add a channel axis to grayscale, scale to [0, 1].

    Integer pixels (0..255) are divided by 255; float input already in [0, 1]
    is kept as it is.
    """
    x = np.asarray(images)
    if x.ndim == 3:
        x = x[..., None] if data_format == "channels_last" else x[:, None]
    if x.ndim != 4:
        raise ValueError(
            "Invalid value for argument `images`. Expected (N, height, width) grayscale or "
            f"(N, height, width, channels). Received shape {x.shape}."
        )
    if np.issubdtype(x.dtype, np.integer) or (x.size and x.max() > 1.0):
        return (x.astype("float32") / 255.0).astype("float32")
    return x.astype("float32")


# --- readers for Keras's cache formats (no hash check, no network) -----------------


def _read_mnist(cache: Path):
    path = cache / "mnist.npz"
    if not path.exists():
        return None
    with np.load(path, allow_pickle=False) as f:
        return (f["x_train"], f["y_train"]), (f["x_test"], f["y_test"])


def _read_idx(path: Path, offset: int) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), np.uint8, offset=offset)


def _read_fashion_mnist(cache: Path):
    folder = cache / "fashion-mnist"
    names = [
        "train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
    ]
    if not all((folder / n).exists() for n in names):
        return None
    y_train = _read_idx(folder / names[0], 8)
    x_train = _read_idx(folder / names[1], 16).reshape(len(y_train), 28, 28)
    y_test = _read_idx(folder / names[2], 8)
    x_test = _read_idx(folder / names[3], 16).reshape(len(y_test), 28, 28)
    return (x_train, y_train), (x_test, y_test)


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickle CIFAR batches, allowing numpy arrays and nothing else."""

    _allowed = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
        ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    }

    def find_class(self, module, name):
        if (module, name) in self._allowed:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"Refusing to load {module}.{name} from a CIFAR batch.")


def _read_cifar_batch(path: Path):
    with open(path, "rb") as f:
        d = _ArrayUnpickler(f, encoding="bytes").load()
    d = {k.decode() if isinstance(k, bytes) else k: v for k, v in d.items()}
    data = np.asarray(d["data"], dtype=np.uint8).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return data, np.asarray(d["labels"], dtype=np.uint8)


def _read_cifar10(cache: Path):
    folder = cache / "cifar-10-batches-py-target" / "cifar-10-batches-py"
    files = [folder / f"data_batch_{i}" for i in range(1, 6)] + [folder / "test_batch"]
    if not all(p.exists() for p in files):
        return None
    parts = [_read_cifar_batch(p) for p in files]
    x_train = np.concatenate([p[0] for p in parts[:5]])
    y_train = np.concatenate([p[1] for p in parts[:5]])
    return (x_train, y_train), parts[5]


_CACHE_READERS = {
    "mnist": (_read_mnist, "mnist.npz"),
    "fashion_mnist": (_read_fashion_mnist, "fashion-mnist/"),
    "cifar10": (_read_cifar10, "cifar-10-batches-py-target/cifar-10-batches-py/"),
}


def _load_keras_dataset(name: str):
    reader, relative = _CACHE_READERS[name]
    cache = keras_cache_dir()
    cached = reader(cache)
    if cached is not None:
        return cached
    import keras

    loader = getattr(keras.datasets, name)
    try:
        (x_train, y_train), (x_test, y_test) = loader.load_data()
    except Exception as error:  # network errors come in many types
        raise RuntimeError(
            f"Could not download the {name!r} dataset ({type(error).__name__}: {error}). "
            f"Without a network, place Keras's cache files at {cache / relative} "
            "(copy them from a machine where keras.datasets."
            f"{name}.load_data() worked), or use load_dataset('digits'), which works offline."
        ) from None
    if x_train.ndim == 4 and x_train.shape[1] == 3:  # channels_first Keras config
        x_train, x_test = x_train.transpose(0, 2, 3, 1), x_test.transpose(0, 2, 3, 1)
    return (x_train, np.ravel(y_train)), (x_test, np.ravel(y_test))


def _load_digits():
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError(
            "The 'digits' dataset needs scikit-learn, a dependency of keras-cnnlab that "
            "is missing here: pip install scikit-learn."
        ) from None
    bunch = load_digits()
    # Digits are 0..16 intensities; scale to 0..255 so every dataset takes one path.
    images = (bunch.images * (255.0 / 16.0)).round().astype(np.uint8)
    return images, bunch.target.astype(np.int64)


def _load_lfw_subset():
    try:
        from skimage.data import lfw_subset
    except ImportError:
        raise ImportError(
            "The 'lfw_subset' dataset needs scikit-image, which is not installed: "
            'pip install "keras-cnnlab[skimage]" (or pip install scikit-image).'
        ) from None
    images = np.asarray(lfw_subset())
    # The first 100 images are faces, the other 100 background patches.
    labels = (np.arange(len(images)) < len(images) // 2).astype(np.int64)
    return (np.clip(images, 0.0, 1.0) * 255.0).round().astype(np.uint8), labels


_OFFLINE_LOADERS = {"digits": _load_digits, "lfw_subset": _load_lfw_subset}


def _stratified_split(y: np.ndarray, fraction: float, rng: np.random.Generator):
    """Indices (kept, held_out): ``round(fraction * len(y))`` held out, every class in proportion."""
    classes, counts = np.unique(y, return_counts=True)
    exact = fraction * counts
    take = np.floor(exact).astype(int)
    # Largest remainders get the leftover images, so the total is as asked.
    leftover = int(round(fraction * len(y))) - take.sum()
    take[np.argsort(take - exact)[:leftover]] += 1
    held = []
    for cls, n in zip(classes, take):
        idx = np.flatnonzero(y == cls)
        rng.shuffle(idx)
        held.append(idx[:n])
    held_out = np.sort(np.concatenate(held)) if held else np.array([], dtype=int)
    kept = np.setdiff1d(np.arange(len(y)), held_out)
    return rng.permutation(kept), rng.permutation(held_out)


def _split_sizes(limit: int, n_train: int, n_test: int, validation_split: float) -> tuple[int, int, int]:
    """(train, validation, test) image counts that ``limit`` leaves (as load_dataset splits)."""
    limit = min(limit, n_train)
    test = int(round(limit / n_train * n_test)) if limit < n_train else n_test
    val = int(round(validation_split * limit))
    return limit - val, val, test


def _check_limit(limit: int, n_train: int, n_test: int, validation_split: float, classes: int) -> None:
    """Refuse a ``limit`` that leaves a split empty or fewer training images than classes."""

    def enough(candidate):
        train, val, test = _split_sizes(candidate, n_train, n_test, validation_split)
        return train >= classes and test >= 1 and (val >= 1 or validation_split == 0)

    if enough(limit):
        return
    train, val, test = _split_sizes(limit, n_train, n_test, validation_split)
    smallest = next((n for n in range(limit + 1, n_train + 1) if enough(n)), n_train)
    raise ValueError(
        f"Invalid value for argument `limit`: limit={limit} leaves {train} training, {val} "
        f"validation and {test} test images for {classes} classes (validation_split="
        f"{validation_split:g}). Use limit={smallest} or more."
    )


def _check_fraction(value, name):
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value < 1:
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected a fraction in [0, 1). "
            f"Received {name}={value!r}."
        )


def load_dataset(
    name: str = "digits",
    *,
    validation_split: float = 0.1,
    test_split: float = 0.2,
    one_hot: bool = False,
    seed: int = 0,
    limit: int | None = None,
) -> Dataset:
    """Load a dataset, ready for a CNN.

    Args:
        name: one of ``"digits"`` (offline: 1,797 8x8 digits, 10 classes),
            ``"lfw_subset"`` (offline with scikit-image: 200 25x25 grayscale
            images, faces and non-faces, 2 classes; flips keep their class),
            ``"mnist"``, ``"fashion_mnist"``, ``"cifar10"``.
        validation_split: fraction of the training images held out for
            validation, stratified by class.
        test_split: fraction held out for testing, for ``"digits"`` and
            ``"lfw_subset"`` only (the Keras datasets come with their own test set).
        one_hot: return one-hot float32 label rows instead of integer ids.
        seed: seed of the stratified shuffles.
        limit: keep at most this many training images, the validation images
            included (stratified), for quick experiments; the test set is scaled
            down alike. A limit that leaves a split empty, or fewer training
            images than classes, raises a ValueError naming the smallest that works.

    Returns:
        A :class:`Dataset`.

    Raises:
        ValueError: for an unknown ``name`` or bad fractions.
        RuntimeError: when a Keras dataset is neither cached nor downloadable;
            the message names the cache path to fill.
        ImportError: ``"lfw_subset"`` without scikit-image (the message names
            the extra to install).
    """
    if name not in DATASETS:
        raise ValueError(
            f"Invalid value for argument `name`. Expected one of {DATASETS}. Received name={name!r}."
        )
    _check_fraction(validation_split, "validation_split")
    _check_fraction(test_split, "test_split")
    rng = np.random.default_rng(seed)
    if name in OFFLINE:
        images, labels = _OFFLINE_LOADERS[name]()
        train_idx, test_idx = _stratified_split(labels, test_split, rng)
        x_train, y_train = images[train_idx], labels[train_idx]
        x_test, y_test = images[test_idx], labels[test_idx]
    else:
        (x_train, y_train), (x_test, y_test) = _load_keras_dataset(name)
        y_train, y_test = np.ravel(y_train).astype(np.int64), np.ravel(y_test).astype(np.int64)
    if limit is not None:
        if not isinstance(limit, int) or limit < 1:
            raise ValueError(f"Invalid value for argument `limit`. Expected a positive int. Received limit={limit!r}.")
        _check_limit(limit, len(x_train), len(x_test), validation_split, len(_CLASS_NAMES[name]))
        if limit < len(x_train):
            frac = limit / len(x_train)
            _, keep = _stratified_split(y_train, frac, rng)
            _, keep_test = _stratified_split(y_test, min(frac, 1.0), rng)
            x_train, y_train = x_train[keep], y_train[keep]
            x_test, y_test = x_test[keep_test], y_test[keep_test]
    train_idx, val_idx = _stratified_split(y_train, validation_split, rng)
    x_val, y_val = x_train[val_idx], y_train[val_idx]
    x_train, y_train = x_train[train_idx], y_train[train_idx]

    class_names = _CLASS_NAMES[name]

    def encode(y):
        if not one_hot:
            return y
        return np.eye(len(class_names), dtype="float32")[y]

    return Dataset(
        name=name,
        x_train=prepare_images(x_train),
        y_train=encode(y_train),
        x_val=prepare_images(x_val),
        y_val=encode(y_val),
        x_test=prepare_images(x_test),
        y_test=encode(y_test),
        class_names=class_names,
    )
