"""Recipe, default_recipe, label smoothing for integer ids, and the lfw_subset dataset."""

from __future__ import annotations

import builtins
import math

import keras
import numpy as np
import pytest

from keras_cnnlab import Recipe, build_cnn, compile_for, default_recipe, load_dataset
from keras_cnnlab.augment import AugmentationPipeline, preset_for
from keras_cnnlab.losses import SparseCategoricalCrossentropy


def _np(x):
    return keras.ops.convert_to_numpy(x)


# --- the loss ---------------------------------------------------------------------


@pytest.mark.multibackend
@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
@pytest.mark.parametrize("from_logits", [False, True])
def test_sparse_smoothing_equals_the_formula(smoothing, from_logits):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(6, 4)).astype("float32")
    y = np.array([0, 1, 2, 3, 1, 0])
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    target = np.full((6, 4), smoothing / 4)
    target[np.arange(6), y] += 1 - smoothing
    expected = -(target * np.log(probs)).sum(axis=1).mean()
    loss = SparseCategoricalCrossentropy(smoothing, from_logits=from_logits)
    got = float(_np(loss(y, logits if from_logits else probs)))
    assert math.isclose(got, expected, rel_tol=1e-5)
    # Column labels (N, 1) give the same.
    assert math.isclose(float(_np(loss(y[:, None], logits if from_logits else probs))), expected, rel_tol=1e-5)


def test_compile_for_smooths_every_label_kind():
    model = build_cnn((8, 8, 1), 3, filters=(4,), head_units=())
    compile_for(model, np.array([0, 1, 2]), label_smoothing=0.1)
    assert isinstance(model.loss, SparseCategoricalCrossentropy) and model.loss.label_smoothing == 0.1
    compile_for(model, np.eye(3)[[0, 1, 2]], label_smoothing=0.2)
    assert isinstance(model.loss, keras.losses.CategoricalCrossentropy)
    assert model.loss.get_config()["label_smoothing"] == 0.2
    binary = build_cnn((8, 8, 1), 2, filters=(4,), head_units=(), output_activation="sigmoid")
    compile_for(binary, np.array([0, 1]), label_smoothing=0.1)
    assert model.loss is not None and binary.loss.get_config()["label_smoothing"] == 0.1
    with pytest.raises(ValueError, match="`label_smoothing`"):
        compile_for(model, np.array([0, 1]), label_smoothing=1.5)
    with pytest.raises(ValueError, match="`loss` and `label_smoothing`"):
        compile_for(model, np.array([0, 1]), loss="sparse_categorical_crossentropy", label_smoothing=0.1)


@pytest.mark.multibackend
def test_a_model_trained_with_the_smoothed_loss_reloads(tmp_path):
    x = np.random.default_rng(0).random((16, 8, 8, 1)).astype("float32")
    y = np.arange(16) % 3
    model = build_cnn((8, 8, 1), 3, filters=(4,), head_units=())
    compile_for(model, y, label_smoothing=0.1)
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras")
    assert isinstance(again.loss, SparseCategoricalCrossentropy) and again.loss.label_smoothing == 0.1
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)


# --- the recipe -------------------------------------------------------------------


def test_bad_fields_are_named_with_the_fix():
    for field, value, words in [
        ("epochs", 0, "strictly positive integer"),
        ("batch_size", 2.5, "strictly positive integer"),
        ("learning_rate", -1.0, "a number > 0"),
        ("weight_decay", -0.1, "a number >= 0"),
        ("schedule", "linear", "one of ('cosine', 'constant')"),
        ("label_smoothing", 1.0, "[0, 1)"),
        ("ema", 1.2, "(0, 1)"),
        ("warmup_epochs", 60, "[0, epochs)"),
        ("flip_tta", "yes", "True or False"),
    ]:
        with pytest.raises(ValueError, match=rf"`{field}`.*{__import__('re').escape(words)}.*Received {field}="):
            Recipe().replace(**{field: value})
    with pytest.raises(TypeError, match="no field.*'epoch'"):
        Recipe().replace(epoch=3)
    with pytest.raises(ValueError, match="not a Keras optimizer"):
        Recipe(optimizer="adamm").make_optimizer(100)


def test_schedule_warms_up_then_decays_to_zero():
    recipe = Recipe(epochs=10, batch_size=10, learning_rate=0.01, warmup_epochs=2)
    schedule = recipe.learning_rate_schedule(100)  # 10 steps an epoch, 100 in all
    lr = [float(_np(schedule(step))) for step in (0, 10, 20, 60, 100)]
    assert lr[0] == 0.0 and math.isclose(lr[1], 0.005, rel_tol=1e-5)
    assert math.isclose(lr[2], 0.01, rel_tol=1e-5)
    assert lr[2] > lr[3] > lr[4] and lr[4] < 1e-6
    assert Recipe(schedule="constant").learning_rate_schedule(100) == 1e-3


def test_optimizer_carries_weight_decay_and_ema():
    opt = Recipe(optimizer="adamw", weight_decay=0.05, ema=0.99).make_optimizer(320)
    assert isinstance(opt, keras.optimizers.AdamW)
    assert math.isclose(opt.weight_decay, 0.05) and opt.use_ema and math.isclose(opt.ema_momentum, 0.99)
    plain = Recipe().make_optimizer(320)
    assert not plain.use_ema


def test_fit_trains_with_the_recipe_epochs_and_batch_size():
    data = load_dataset("digits", limit=200)
    recipe = Recipe(epochs=2, batch_size=50, ema=0.9)
    model = build_cnn(data.input_shape, 10, filters=(8,), head_units=())
    history = recipe.fit(model, data.x_train, data.y_train, verbose=0)
    assert len(history.history["loss"]) == 2
    assert isinstance(model.loss, SparseCategoricalCrossentropy)
    assert 0.0 <= recipe.evaluate(model, data.x_test, data.y_test) <= 1.0
    with pytest.raises(TypeError, match="recipe.replace\\(epochs=...\\)"):
        recipe.fit(model, data.x_train, data.y_train, epochs=3)


def test_flip_tta_averages_the_mirror_images():
    # "Probabilities" read off the top-left pixel: the mirror image moves it to the right.
    inputs = keras.Input((2, 2, 1))
    corner = keras.layers.Lambda(lambda t: t[:, 0, 0, :])(inputs)
    model = keras.Model(inputs, keras.layers.Concatenate()([corner, 1 - corner]))
    x = np.array([[[[1.0], [0.0]], [[0.0], [0.0]]]], "float32")
    np.testing.assert_allclose(Recipe().predict(model, x), [[1.0, 0.0]], atol=1e-6)
    np.testing.assert_allclose(Recipe(flip_tta=True).predict(model, x), [[0.5, 0.5]], atol=1e-6)
    assert Recipe().evaluate(model, x, [0]) == 1.0


def test_default_recipe_and_the_preset_for_the_data():
    assert default_recipe("digits", epochs=5).epochs == 5
    assert default_recipe("lfw_subset") == Recipe()
    assert preset_for("digits") == "digits" and preset_for("lfw_subset") in ("light", "standard")
    data = load_dataset("digits", limit=100)
    layer = Recipe().augmentation_for(data, seed=0)  # "auto": the 'digits' preset, no flip
    assert isinstance(layer, AugmentationPipeline) and not layer.spec.flip
    assert Recipe(augmentation="none").augmentation_for(data) is None


def test_the_digits_recipe_builds_its_two_block_network_without_augmentation():
    data = load_dataset("digits", limit=100)
    recipe = default_recipe(data)
    assert recipe.augmentation == "none" and recipe.network == {"filters": (64, 128)}
    assert (recipe.batch_size, recipe.learning_rate) == (64, 2e-3)
    model = recipe.build_model(data, seed=0)
    convs = [layer for layer in model._flatten_layers() if isinstance(layer, keras.layers.Conv2D)]
    assert [c.filters for c in convs] == [64, 128]
    assert not any("pipeline" in layer.name for layer in model.layers)
    # Overrides go to build_cnn last; the recipe's augmentation can be turned on.
    model = recipe.replace(augmentation="digits").build_model(data, seed=0, name="mine")
    assert model.name == "mine" and isinstance(model.layers[1], AugmentationPipeline)
    assert recipe.describe_network() == "build_cnn with filters=(64, 128)"
    assert Recipe().describe_network() == "build_cnn's defaults"
    with pytest.raises(ValueError, match=r"`network`.*build_cnn arguments"):
        Recipe(network=[64, 128])


# --- lfw_subset -------------------------------------------------------------------


def test_lfw_subset_loads_stratified_splits():
    data = load_dataset("lfw_subset", seed=1)
    assert data.input_shape == (25, 25, 1) and data.num_classes == 2
    assert data.class_names == ["non-face", "face"]
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (144, 16, 40)
    for y in (data.y_train, data.y_val, data.y_test):
        assert np.bincount(y).tolist() == [len(y) // 2] * 2
    assert data.x_train.dtype == np.float32 and 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0
    # Faces are the first 100 images of scikit-image's array.
    from skimage.data import lfw_subset

    raw = lfw_subset()
    first = data.x_test[0, ..., 0]
    index = int(np.argmin(np.abs(raw - first).reshape(200, -1).max(axis=1)))
    assert np.abs(raw[index] - first).max() < 1 / 255 and data.y_test[0] == int(index < 100)


def test_lfw_subset_without_scikit_image_names_the_extra(monkeypatch):
    real_import = builtins.__import__

    def no_skimage(name, *args, **kwargs):
        if name.startswith("skimage"):
            raise ImportError("No module named 'skimage'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_skimage)
    with pytest.raises(ImportError, match=r'keras-cnnlab\[skimage\]'):
        load_dataset("lfw_subset")


def test_describe_names_only_the_levers_that_are_on():
    assert Recipe().describe() == "adam, learning rate 0.001 (cosine), label smoothing 0.1, 60 epochs of batch 32"
    text = Recipe(epochs=1, optimizer="adamw", weight_decay=0.05, label_smoothing=0.0, ema=0.99,
                  flip_tta=True).describe()
    assert text == ("adamw, learning rate 0.001 (cosine), weight decay 0.05, weight EMA 0.99, "
                    "1 epoch of batch 32, flip test-time augmentation")
