"""load_dataset: digits offline, and the Keras datasets from files in Keras's cache format."""

import gzip
import pickle

import numpy as np
import pytest

from keras_cnnlab import data as data_module
from keras_cnnlab import load_dataset, prepare_images

pytestmark = pytest.mark.multibackend


def test_digits_is_ready_for_a_cnn():
    ds = load_dataset("digits", seed=1)
    assert ds.input_shape == (8, 8, 1) and ds.num_classes == 10
    for x in (ds.x_train, ds.x_val, ds.x_test):
        assert x.dtype == np.float32 and x.min() >= 0.0 and x.max() <= 1.0
    total = len(ds.x_train) + len(ds.x_val) + len(ds.x_test)
    assert total == 1797
    assert len(ds.x_test) == pytest.approx(0.2 * 1797, abs=10)
    # Stratified: every class is in every split, in about the same proportion.
    for y in (ds.y_train, ds.y_val, ds.y_test):
        counts = np.bincount(y, minlength=10) / len(y)
        assert counts.min() > 0.07 and counts.max() < 0.13


def test_splits_are_disjoint_by_index():
    from sklearn.datasets import load_digits

    raw = load_digits().images.reshape(len(load_digits().images), -1)
    ds = load_dataset("digits", seed=3)
    def keys(x):
        return {tuple(np.round(v.ravel() * 16).astype(int)) for v in x}
    train, val, test = keys(ds.x_train), keys(ds.x_val), keys(ds.x_test)
    assert len(train | val | test) == len({tuple(r.astype(int)) for r in raw})
    # The digits set has a few duplicate images, so compare sizes rather than emptiness.
    assert len(train & test) <= 5


def test_same_seed_same_split_other_seed_other_split():
    a, b, c = load_dataset("digits", seed=5), load_dataset("digits", seed=5), load_dataset("digits", seed=6)
    np.testing.assert_array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.y_test, c.y_test)


def test_one_hot_and_limit():
    ds = load_dataset("digits", one_hot=True, limit=300, validation_split=0.2)
    assert ds.y_train.shape[1] == 10 and np.allclose(ds.y_train.sum(axis=1), 1)
    assert len(ds.x_train) + len(ds.x_val) == pytest.approx(300, abs=10)


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        (dict(name="imagenet"), r"`name`.*'digits', 'lfw_subset', 'mnist'"),
        (dict(validation_split=1.5), r"`validation_split`.*\[0, 1\)"),
        (dict(test_split=-0.1), r"`test_split`"),
        (dict(limit=0), r"`limit`"),
    ],
)
def test_bad_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        load_dataset(**kwargs)


def test_prepare_images_reshapes_and_scales():
    raw = np.array([[[0, 255], [128, 64]]], dtype=np.uint8)
    x = prepare_images(raw)
    assert x.shape == (1, 2, 2, 1) and x.dtype == np.float32
    np.testing.assert_allclose(x[0, :, :, 0], raw[0] / 255.0)
    assert prepare_images(np.zeros((1, 2, 2, 3), "float32")).shape == (1, 2, 2, 3)
    with pytest.raises(ValueError, match="`images`"):
        prepare_images(np.zeros((2, 2)))


# --- Keras datasets from local cache files ------------------------------------------


@pytest.fixture
def keras_home(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    return tmp_path / "datasets"


def _fake_images(n, shape, seed):
    return np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)


def test_mnist_from_cache(keras_home):
    keras_home.mkdir(parents=True)
    x_train, x_test = _fake_images(60, (28, 28), 0), _fake_images(20, (28, 28), 1)
    y_train, y_test = np.arange(60) % 10, np.arange(20) % 10
    np.savez(keras_home / "mnist.npz", x_train=x_train, y_train=y_train.astype(np.uint8),
             x_test=x_test, y_test=y_test.astype(np.uint8))
    ds = load_dataset("mnist", validation_split=0.1)
    assert ds.input_shape == (28, 28, 1)
    assert len(ds.x_train) == 54 and len(ds.x_val) == 6 and len(ds.x_test) == 20
    # Test images are the cached ones, scaled.
    np.testing.assert_allclose(np.sort(ds.x_test.ravel()), np.sort(x_test.ravel() / 255.0), rtol=1e-6)


def _idx(path, array, magic_offset):
    header = b"\x00" * magic_offset
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_fashion_mnist_from_cache(keras_home):
    folder = keras_home / "fashion-mnist"
    folder.mkdir(parents=True)
    x_train, x_test = _fake_images(30, (28, 28), 2), _fake_images(10, (28, 28), 3)
    _idx(folder / "train-labels-idx1-ubyte.gz", np.arange(30) % 10, 8)
    _idx(folder / "train-images-idx3-ubyte.gz", x_train, 16)
    _idx(folder / "t10k-labels-idx1-ubyte.gz", np.arange(10) % 10, 8)
    _idx(folder / "t10k-images-idx3-ubyte.gz", x_test, 16)
    ds = load_dataset("fashion_mnist", validation_split=0.0)
    assert ds.class_names[9] == "Ankle boot"
    assert len(ds.x_train) == 30 and len(ds.x_test) == 10
    np.testing.assert_array_equal(np.sort(ds.y_test), np.arange(10))


def test_cifar10_from_cache(keras_home):
    folder = keras_home / "cifar-10-batches-py-target" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    images = {}
    for i, name in enumerate([f"data_batch_{j}" for j in range(1, 6)] + ["test_batch"]):
        x = _fake_images(10, (3, 32, 32), 10 + i)
        images[name] = x
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": x.reshape(10, -1), b"labels": list(range(10))}, f)
    ds = load_dataset("cifar10", validation_split=0.2)
    assert ds.input_shape == (32, 32, 3)
    assert len(ds.x_train) == 40 and len(ds.x_val) == 10 and len(ds.x_test) == 10
    # Channels moved last: pixel (c, h, w) of the file is (h, w, c) of the dataset.
    test_sorted = ds.x_test[np.argsort(ds.y_test)]
    np.testing.assert_allclose(test_sorted[3, 5, 7, 2], images["test_batch"][3, 2, 5, 7] / 255.0, rtol=1e-6)


def test_cifar_batch_refuses_other_objects(keras_home):
    folder = keras_home / "cifar-10-batches-py-target" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for name in [f"data_batch_{j}" for j in range(1, 6)] + ["test_batch"]:
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": np.zeros((1, 3072), np.uint8), b"labels": [print]}, f)
    with pytest.raises(pickle.UnpicklingError, match="Refusing"):
        load_dataset("cifar10")


def test_offline_and_not_cached_names_the_cache_path(keras_home, monkeypatch):
    import keras

    def offline():
        raise OSError("network unreachable")

    monkeypatch.setattr(keras.datasets.mnist, "load_data", offline)
    with pytest.raises(RuntimeError) as info:
        load_dataset("mnist")
    message = str(info.value)
    assert str(keras_home / "mnist.npz") in message
    assert "load_dataset('digits')" in message


def test_cache_dir_follows_keras_home(keras_home):
    assert data_module.keras_cache_dir() == keras_home


def test_a_limit_too_small_for_the_splits_is_refused_with_the_smallest_that_works():
    with pytest.raises(ValueError, match=r"`limit`: limit=5 leaves 5 training, 0 validation and 1 test images for 10 classes.*Use limit=11 or more"):
        load_dataset("digits", limit=5)
    data = load_dataset("digits", limit=11)  # the smallest quoted works
    assert len(data.x_val) >= 1 and len(data.x_test) >= 1 and len(data.x_train) >= 10
    assert len(load_dataset("digits", limit=10, validation_split=0.0).x_val) == 0  # no validation asked
