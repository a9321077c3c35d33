"""MixUp, CutMix and RandomErasing, checked pixel by pixel against numpy."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_cnnlab.augment import CutMix, MixUp, RandomErasing


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _batch(n=12, size=(6, 7), channels=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, *size, channels), dtype="float32"), np.arange(n) % n


def _partners(labels_out, n):
    """For each image: (self weight, partner index) read from its mixed label row."""
    out = []
    for i, row in enumerate(labels_out):
        others = [j for j in np.flatnonzero(row > 1e-6) if j != i]
        assert len(others) <= 1 and row.sum() == pytest.approx(1.0, abs=1e-5)
        out.append((row[i], others[0] if others else i))
    return out


# --- MixUp -----------------------------------------------------------------------------


@pytest.mark.multibackend
def test_mixup_blends_each_image_with_its_label_partner():
    x, y = _batch()
    images, labels = MixUp(alpha=0.4, num_classes=12, seed=1)(x, y)
    images, labels = _np(images), _np(labels)
    assert images.shape == x.shape and labels.shape == (12, 12)
    mixed = 0
    for i, (weight, j) in enumerate(_partners(labels, 12)):
        np.testing.assert_allclose(images[i], weight * x[i] + (1 - weight) * x[j], atol=1e-5)
        mixed += j != i
    assert mixed >= 6  # a random permutation of 12 has few fixed points


@pytest.mark.multibackend
def test_mixup_in_tf_data_trains_with_categorical_crossentropy():
    x, y = _batch(16, size=(8, 8), channels=1)
    y = y % 4
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8).map(MixUp(num_classes=4, seed=0))
    images, labels = next(iter(ds))
    assert images.shape == (8, 8, 8, 1) and labels.shape == (8, 4)
    np.testing.assert_allclose(labels.numpy().sum(axis=1), 1.0, atol=1e-5)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(4, activation="softmax")])
    model.compile("adam", "categorical_crossentropy")
    history = model.fit(ds, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()


def test_mixup_takes_one_hot_labels_and_dicts():
    x, y = _batch(6)
    one_hot = np.eye(6, dtype="float32")[y]
    out = MixUp(seed=3)({"images": x, "labels": one_hot})
    assert set(out) == {"images", "labels"}
    assert _np(out["labels"]).shape == (6, 6)
    # Same seed, same draws.
    a = MixUp(seed=3)(x, one_hot)
    np.testing.assert_array_equal(_np(a[0]), _np(out["images"]))


def test_mixing_is_off_at_inference_but_labels_are_still_one_hot():
    x, y = _batch(5)
    for layer in (MixUp(num_classes=5), CutMix(num_classes=5)):
        images, labels = layer(x, y, training=False)
        np.testing.assert_array_equal(_np(images), x)
        np.testing.assert_array_equal(_np(labels), np.eye(5)[y])


# --- CutMix ----------------------------------------------------------------------------


@pytest.mark.multibackend
def test_cutmix_pastes_one_rectangle_and_labels_count_its_pixels():
    x, y = _batch(16, size=(8, 9))
    images, labels = CutMix(alpha=1.0, num_classes=16, seed=4)(x, y)
    images, labels = _np(images), _np(labels)
    pasted_any = False
    for i, (weight, j) in enumerate(_partners(labels, 16)):
        if j == i:  # its own partner: nothing visible changes
            np.testing.assert_array_equal(images[i], x[i])
            continue
        from_partner = np.all(images[i] == x[j], axis=-1)
        from_self = np.all(images[i] == x[i], axis=-1)
        assert (from_partner | from_self).all()  # every pixel comes from one of the two
        rows, cols = np.nonzero(from_partner)
        if rows.size:
            pasted_any = True
            box = from_partner[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
            assert box.all()  # a filled rectangle
        # The label weight is exactly the share of pixels the image kept.
        assert 1 - weight == pytest.approx(from_partner.mean(), abs=1e-6)
    assert pasted_any


@pytest.mark.multibackend
@pytest.mark.parametrize("layer", [MixUp, CutMix])
def test_a_pair_given_as_one_argument_is_images_and_labels(layer):
    # layer((images, labels)) used to be read as images alone.
    x, y = _batch(8)
    one_hot = np.eye(8, dtype="float32")[y]
    for pair in ((x, one_hot), [x, one_hot]):
        images, labels = layer(alpha=0.2, seed=3)(pair)
        expected_images, expected_labels = layer(alpha=0.2, seed=3)(x, one_hot)
        np.testing.assert_allclose(_np(images), _np(expected_images))
        np.testing.assert_allclose(_np(labels), _np(expected_labels))
        assert _np(labels).shape == (8, 8)


def test_cutmix_on_a_tf_data_dict_pipeline():
    x, y = _batch(8, size=(8, 8), channels=1)
    one_hot = np.eye(8, dtype="float32")[y]
    ds = tf.data.Dataset.from_tensor_slices({"images": x, "labels": one_hot}).batch(4).map(CutMix(seed=0))
    batch = next(iter(ds))
    assert batch["images"].shape == (4, 8, 8, 1) and batch["labels"].shape == (4, 8)


# --- errors ----------------------------------------------------------------------------


def test_mixing_errors_name_the_fix():
    x, y = _batch(4)
    for layer in (MixUp, CutMix):
        _check_errors(layer, x, y)


def _check_errors(layer, x, y):
    with pytest.raises(ValueError, match=r"integer class ids .*Pass num_classes=.*categorical_crossentropy"):
        layer()(x, y)
    with pytest.raises(ValueError, match=r"mixes labels as well as images, and received images only"):
        layer()(x)
    with pytest.raises(ValueError, match=r"expects a pair \(images, labels\). Received a tuple of 3 items"):
        layer(num_classes=4)((x, y, y))
    with pytest.raises(ValueError, match=r"expects one-hot labels of shape \(batch, 4\)"):
        layer(num_classes=4)(x, np.zeros((4, 3), "float32"))
    with pytest.raises(ValueError, match=r"expects a batch of images \(rank 4\).*after .batch\(\)"):
        layer(num_classes=4)(x[0], y[:1])
    with pytest.raises(ValueError, match=r"`alpha`. Expected a positive number"):
        layer(alpha=0)
    with pytest.raises(ValueError, match=r"`num_classes`. Expected an integer >= 2"):
        layer(num_classes=1)


def test_mixing_layers_serialize():
    for layer in (MixUp(alpha=0.3, num_classes=10, seed=2), CutMix(alpha=0.5, seed=1)):
        config = keras.saving.serialize_keras_object(layer)
        clone = keras.saving.deserialize_keras_object(config)
        assert type(clone) is type(layer) and clone.get_config() == layer.get_config()


# --- RandomErasing ---------------------------------------------------------------------


@pytest.mark.multibackend
def test_erasing_replaces_one_rectangle_in_about_probability_of_the_images():
    x = np.full((64, 8, 8, 3), 0.5, "float32")
    y = _np(RandomErasing(0.5, value_range=(0, 1), fill_value="random", seed=6)(x, training=True))
    erased = 0
    for image in y:
        changed = np.any(image != 0.5, axis=-1)
        if not changed.any():
            continue
        erased += 1
        rows, cols = np.nonzero(changed)
        assert changed[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1].all()
        area = changed.mean()
        assert 1 / 64 <= area <= 0.5  # scale (0.02, 0.33) after rounding to whole pixels
    assert 0 <= y.min() and y.max() <= 1
    assert 18 <= erased <= 46  # Binomial(64, 0.5): outside this range has p < 1e-3


def test_erasing_probability_is_exact_at_the_ends_and_fill_is_clipped():
    x = np.full((16, 6, 6, 1), 100.0, "float32")
    kept = _np(RandomErasing(0.0, value_range=(0, 255), seed=0)(x, training=True))
    np.testing.assert_array_equal(kept, x)
    filled = _np(RandomErasing(1.0, fill_value=999, value_range=(0, 255), seed=0)(x, training=True))
    assert ((filled == 100) | (filled == 255)).all()
    assert (filled == 255).any(axis=(1, 2, 3)).all()  # every image erased
    np.testing.assert_array_equal(_np(RandomErasing(1.0, seed=0)(x, training=False)), x)


def test_erasing_arguments_are_checked():
    cases = [
        (dict(probability=1.5), r"`probability`. Expected a number in \[0, 1\]"),
        (dict(scale=(0.5, 0.1)), r"`scale`. Expected \(min, max\) area fractions"),
        (dict(ratio=(0, 2)), r"`ratio`. Expected \(min, max\) height/width ratios"),
        (dict(fill_value="noise"), r"`fill_value`. Expected 'random' or a number"),
        (dict(value_range=(1, 1)), r"`value_range`"),
    ]
    for kwargs, match in cases:
        with pytest.raises(ValueError, match=match):
            RandomErasing(**kwargs)
