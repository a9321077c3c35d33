"""RandomPadCrop: whole-pixel shifts, checked against numpy's np.pad and a slice."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import given
from hypothesis import strategies as st

from keras_cnnlab.augment import AugmentationPipeline, RandomPadCrop, parse_augment_spec
from keras_cnnlab.augment.random_pad_crop import pad_pixels

# keras fill_mode -> numpy pad mode ("reflect" is Keras's d c b a | a b c d).
NUMPY_MODE = {"constant": "constant", "reflect": "symmetric", "nearest": "edge", "wrap": "wrap"}


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _every_shift(image, pad_h, pad_w, mode, fill):
    """All (2p+1)^2 pad-and-crop results of one (H, W, C) image, computed with np.pad."""
    h, w = image.shape[:2]
    widths = ((pad_h, pad_h), (pad_w, pad_w), (0, 0))
    kwargs = {"constant_values": fill} if mode == "constant" else {}
    padded = np.pad(image, widths, mode=NUMPY_MODE[mode], **kwargs)
    return [
        padded[top:top + h, left:left + w]
        for top in range(2 * pad_h + 1)
        for left in range(2 * pad_w + 1)
    ]


def _matches_one_shift(out, image, pad_h, pad_w, mode, fill):
    return any(np.array_equal(out, c) for c in _every_shift(image, pad_h, pad_w, mode, fill))


def test_pad_pixels_scales_with_the_side_and_is_at_least_one():
    assert [pad_pixels(0.125, n) for n in (8, 25, 32, 224)] == [1, 3, 4, 28]
    assert pad_pixels(0.01, 8) == 1
    assert pad_pixels(0.0, 224) == 0


@pytest.mark.multibackend
@given(
    height=st.integers(2, 9),
    width=st.integers(2, 9),
    factor=st.sampled_from([0.1, 0.25, 0.5]),
    mode=st.sampled_from(["constant", "reflect", "nearest", "wrap"]),
    seed=st.integers(0, 1000),
)
def test_every_output_is_a_whole_pixel_shift_of_its_image(height, width, factor, mode, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 100, size=(3, height, width, 2)).astype("float32")
    layer = RandomPadCrop(factor, fill_mode=mode, fill_value=-1.0, seed=seed)
    out = _np(layer(x, training=True))
    pad_h, pad_w = pad_pixels(factor, height), pad_pixels(factor, width)
    assert out.shape == x.shape
    for image, shifted in zip(x, out):
        assert _matches_one_shift(shifted, image, pad_h, pad_w, mode, -1.0)


@pytest.mark.multibackend
def test_offsets_cover_every_shift_uniformly():
    # One bright pixel in the middle of 9x9: where it lands gives the offset.
    x = np.zeros((4000, 9, 9, 1), "float32")
    x[:, 4, 4, 0] = 1.0
    out = _np(RandomPadCrop(2 / 9, seed=3)(x, training=True))  # 2 pixels
    rows, cols = np.nonzero(out[..., 0].max(axis=2))[1], np.nonzero(out[..., 0].max(axis=1))[1]
    counts = np.bincount((rows - 2) * 5 + (cols - 2), minlength=25)
    assert counts.size == 25 and counts.min() > 0
    np.testing.assert_allclose(counts / counts.sum(), 1 / 25, atol=0.015)


@pytest.mark.multibackend
def test_identity_at_inference_and_for_factor_zero():
    x = np.random.default_rng(0).random((2, 8, 8, 3)).astype("float32")
    np.testing.assert_array_equal(_np(RandomPadCrop(0.25, seed=0)(x, training=False)), x)
    np.testing.assert_array_equal(_np(RandomPadCrop(0.0, seed=0)(x, training=True)), x)


@pytest.mark.multibackend
def test_channels_first_and_single_images():
    x = np.random.default_rng(1).integers(1, 50, (2, 3, 6, 7)).astype("float32")  # N, C, H, W
    out = _np(RandomPadCrop(0.3, data_format="channels_first", seed=2)(x, training=True))
    for image, shifted in zip(x, out):
        last = np.moveaxis(image, 0, -1)
        assert _matches_one_shift(np.moveaxis(shifted, 0, -1), last, 2, 2, "constant", 0.0)
    single = x[0].transpose(1, 2, 0)
    out = _np(RandomPadCrop(0.3, seed=2)(single, training=True))
    assert _matches_one_shift(out, single, 2, 2, "constant", 0.0)


@pytest.mark.multibackend
def test_same_seed_same_shifts():
    x = np.random.default_rng(2).random((16, 8, 8, 1)).astype("float32")
    a = _np(RandomPadCrop(0.25, seed=7)(x, training=True))
    b = _np(RandomPadCrop(0.25, seed=7)(x, training=True))
    c = _np(RandomPadCrop(0.25, seed=8)(x, training=True))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.multibackend
def test_in_a_jitted_model_in_tf_data_and_after_reload(tmp_path):
    x = np.random.default_rng(3).random((64, 8, 8, 1)).astype("float32")
    y = np.arange(64) % 3
    augment = AugmentationPipeline("padcrop0.125-fillconstant", seed=0)
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(4, 3, padding="same")(augment(inputs))
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling2D()(h))
    model = keras.Model(inputs, outputs)
    model.compile("adam", "sparse_categorical_crossentropy", jit_compile="auto")
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    layer = reloaded.layers[1]
    assert layer.spec == parse_augment_spec("padcrop0.125-fillconstant")
    np.testing.assert_allclose(_np(reloaded.predict(x, verbose=0)), _np(model.predict(x, verbose=0)), atol=1e-6)
    # In tf.data, whatever the backend.
    ds = tf.data.Dataset.from_tensor_slices(x).batch(8).map(lambda b: augment(b, training=True))
    for batch in ds.take(1):
        for image, shifted in zip(x[:8], batch.numpy()):
            assert _matches_one_shift(shifted, image, 1, 1, "constant", 0.0)


def test_spec_token_scaling_and_errors():
    spec = parse_augment_spec("padcrop0.125")
    assert spec.pad_crop == 0.125 and spec.to_string() == "padcrop0.125"
    assert spec.describe() == ["RandomPadCrop(0.125)"]
    assert spec.scaled(2).pad_crop == 0.25
    with pytest.raises(ValueError, match="`pad_crop` must be in"):
        parse_augment_spec("padcrop1.5")
    with pytest.raises(ValueError, match="Received factor=-0.1"):
        RandomPadCrop(-0.1)
    with pytest.raises(ValueError, match="fill_mode"):
        RandomPadCrop(0.1, fill_mode="mirror")
    layer = RandomPadCrop(0.2, fill_mode="wrap", seed=4)
    again = RandomPadCrop.from_config(layer.get_config())
    assert (again.factor, again.fill_mode, again.seed) == (0.2, "wrap", 4)
