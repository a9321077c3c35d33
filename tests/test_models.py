"""build_cnn, the named architectures and compile_for."""

import warnings

import keras
import numpy as np
import pytest
from hypothesis import given, settings

from keras_cnnlab import ConvBlock, build_architecture, build_cnn, compile_for, models, shapes
from keras_cnnlab.testing import cnn_cases


def independent_param_count(case):
    """Parameters of a build_cnn network, counted by hand from its arguments."""
    h, w, c = case["input_shape"]
    total = 0
    size = (h, w)
    for f in case["filters"]:
        for _ in range(case["convs"]):
            k = case["kernel_size"]
            total += k * k * c * f + (2 * f if case["batch_norm"] else f)
            total += 2 * f if case["batch_norm"] else 0  # moving mean and variance
            c = f
            size = tuple(
                n if case["padding"] == "same" else n - k + 1 for n in size
            )
        if case["pool"]:
            size = tuple((n - 2) // 2 + 1 for n in size)
    width = size[0] * size[1] * c if case["head_pooling"] == "flatten" else c
    for u in [*case["head_units"], case["num_classes"]]:
        total += width * u + u
        width = u
    return total


@pytest.mark.multibackend
@settings(max_examples=8)
@given(case=cnn_cases())
def test_build_cnn_output_and_param_count(case):
    model = build_cnn(**case)
    x = np.random.default_rng(0).random((3, *case["input_shape"])).astype("float32")
    y = model(x)
    assert tuple(y.shape) == (3, case["num_classes"])
    assert model.count_params() == independent_param_count(case)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(y).sum(axis=1), 1.0, rtol=1e-4)


def test_tutorial_b_fashion_mnist_model_has_the_tutorials_167114_params():
    model = build_architecture("simple", (28, 28, 1), 10)
    assert model.count_params() == 167_114
    assert model.get_layer("block3").output.shape == (None, 3, 3, 128)


def test_tutorial_c_lenet_sizes():
    model = build_architecture("lenet", (28, 28, 1), 10)
    assert model.get_layer("block2").output.shape == (None, 4, 4, 64)


@pytest.mark.parametrize("name", sorted(models.ARCHITECTURES))
def test_every_architecture_builds_at_cifar_size(name):
    model = build_architecture(name, (32, 32, 3), 10)
    assert model.output.shape == (None, 10)


def test_unknown_architecture_lists_the_names():
    with pytest.raises(ValueError, match=r"'lenet'.*'simple'.*'vgg_bn'"):
        build_architecture("resnet", (32, 32, 3), 10)


def test_too_many_blocks_for_the_input_shows_the_arithmetic():
    with pytest.raises(shapes.ShapeError) as info:
        build_cnn((8, 8, 1), 10, filters=(8, 8, 8, 8))
    text = str(info.value)
    assert "maxpool 2 s2 valid: 1 -> 0" in text and "8 -> 4" in text and "input_shape=(8, 8, 1)" in text


def test_lenet_on_digits_is_too_small():
    with pytest.raises(ValueError, match=r"conv 5x5 s1 valid: 2 -> 0"):
        build_architecture("lenet", (8, 8, 1), 10)


def test_input_shape_without_channels():
    with pytest.raises(ValueError, match=r"input_shape=\(28, 28, 1\)"):
        build_cnn((28, 28), 10)


def test_per_block_lists_must_match_filters():
    with pytest.raises(ValueError, match=r"`dropout`.*one value per block.*2 blocks"):
        build_cnn((16, 16, 1), 10, filters=(8, 16), dropout=[0.1, 0.2, 0.3])
    model = build_cnn((16, 16, 1), 10, filters=(8, 16), dropout=[0.0, 0.2], kernel_size=(3, 5))
    assert model.get_layer("block2").dropout == 0.2
    assert model.get_layer("block1").kernel_size == (3, 5)


def test_block_arguments_pass_through_to_every_block():
    l2 = keras.regularizers.L2(1e-4)
    model = build_cnn((16, 16, 1), 10, filters=(8, 16), kernel_regularizer=l2,
                      kernel_initializer="glorot_uniform", pool_strides=1, pool_padding="valid")
    for name in ("block1", "block2"):
        block = model.get_layer(name)
        assert block.get_config()["kernel_regularizer"] is not None
        assert block.get_config()["kernel_initializer"]["class_name"] == "GlorotUniform"
    # pool 2, stride 1: 16 -> 15 -> 14, checked by keras_cnnlab.shapes and by Keras alike
    assert model.get_layer("block2").output.shape[1:3] == (14, 14)
    assert len(model.losses) == 2  # one weight-decay term per block's convolution
    with pytest.raises(TypeError, match=r"\['filter'\].*kernel_regularizer"):
        build_cnn((16, 16, 1), 10, filter=(8,))


# --- labels and losses --------------------------------------------------------------


def _tiny(num_classes=3, activation="softmax"):
    return build_cnn((8, 8, 1), num_classes, filters=(4,), head_units=(), output_activation=activation)


def test_loss_follows_the_labels():
    sparse = np.array([0, 1, 2, 1])
    one_hot = np.eye(3)[sparse]
    assert isinstance(compile_for(_tiny(), sparse).loss, keras.losses.SparseCategoricalCrossentropy)
    assert isinstance(compile_for(_tiny(), one_hot).loss, keras.losses.CategoricalCrossentropy)
    binary = compile_for(_tiny(1, "sigmoid"), np.array([0, 1, 1]))
    assert isinstance(binary.loss, keras.losses.BinaryCrossentropy)
    logits = compile_for(_tiny(3, None), sparse)
    assert logits.loss.get_config()["from_logits"] is True


def test_two_classes_with_sigmoid_is_one_binary_unit():
    model = compile_for(_tiny(2, "sigmoid"), np.array([0, 1, 1, 0]))
    assert model.output_shape == (None, 1)
    assert isinstance(model.loss, keras.losses.BinaryCrossentropy)
    assert _tiny(2).output_shape == (None, 2)  # softmax keeps one unit per class


def test_several_sigmoid_units_with_class_ids_is_refused():
    x = keras.Input((4,))
    model = keras.Model(x, keras.layers.Dense(3, activation="sigmoid")(x))
    with pytest.raises(ValueError, match=r"3 sigmoid units.*integer class ids.*softmax"):
        compile_for(model, np.array([0, 1, 2]))


def test_one_hot_labels_with_sparse_loss_is_refused():
    with pytest.raises(ValueError, match=r"`loss`.*expects integer labels.*one-hot"):
        compile_for(_tiny(), np.eye(3)[[0, 1]], loss="sparse_categorical_crossentropy")


def test_integer_labels_with_categorical_loss_is_refused():
    with pytest.raises(ValueError, match=r"`loss`.*expects one-hot labels.*to_categorical"):
        compile_for(_tiny(), np.array([0, 1]), loss=keras.losses.CategoricalCrossentropy())


def test_num_classes_mismatch():
    with pytest.raises(ValueError, match=r"labels run from 0 to 9.*3 outputs.*num_classes=10"):
        compile_for(_tiny(), np.arange(10))
    with pytest.raises(ValueError, match=r"one-hot with 5 columns.*3 outputs.*num_classes=5"):
        compile_for(_tiny(), np.eye(5))


def test_labels_that_are_neither():
    with pytest.raises(ValueError, match=r"`labels`.*summing to 1"):
        compile_for(_tiny(), np.array([[0.2, 0.2, 0.2]]))
    with pytest.raises(ValueError, match=r"`labels`.*integer class ids"):
        compile_for(_tiny(), np.array([0.5, 1.5]))


def test_images_checks():
    model = _tiny()
    with pytest.raises(ValueError, match=r"x\[\.\.\., None\]"):
        compile_for(model, np.array([0, 1]), images=np.zeros((2, 8, 8)))
    models._RANGE_WARNED = False
    with pytest.warns(UserWarning, match=r"255.*x / 255"):
        compile_for(model, np.array([0, 1]), images=np.full((2, 8, 8, 1), 255.0))
    with warnings.catch_warnings():  # warned once per process
        warnings.simplefilter("error")
        compile_for(model, np.array([0, 1]), images=np.full((2, 8, 8, 1), 255.0))


@pytest.mark.multibackend
def test_a_default_cnn_learns_digits():
    from keras_cnnlab import load_dataset

    data = load_dataset("digits", seed=0)
    model = build_cnn(data.input_shape, data.num_classes, seed=0)
    compile_for(model, data.y_train)
    model.fit(data.x_train, data.y_train, epochs=8, batch_size=32, verbose=0)
    _, accuracy = model.evaluate(data.x_test, data.y_test, verbose=0)
    assert accuracy > 0.9, accuracy


class Subclassed(keras.Model):
    """A user's subclassed network with the package's blocks inside."""

    def __init__(self, classes=10):
        super().__init__()
        self.block = ConvBlock(4)
        self.pool = keras.layers.GlobalAveragePooling2D()
        self.head = keras.layers.Dense(classes, activation="softmax")

    def call(self, x, training=False):
        return self.head(self.pool(self.block(x, training=training)))


@pytest.mark.multibackend
def test_compile_for_a_subclassed_model_given_images_or_built():
    x = np.random.default_rng(0).random((20, 8, 8, 1), dtype="float32")
    y = np.arange(20) % 10
    model = compile_for(Subclassed(), y, images=x)
    assert isinstance(model.loss, keras.losses.SparseCategoricalCrossentropy)
    model.fit(x, y, epochs=1, verbose=0)
    built = Subclassed(classes=4)
    built.build((None, 8, 8, 1))
    with pytest.raises(ValueError, match="labels run from 0 to 9 but the model has 4 outputs"):
        compile_for(built, y)  # the output count comes from the model itself


def test_compile_for_an_unbuilt_subclassed_model_without_images_says_what_to_pass():
    with pytest.raises(ValueError, match=r"not built\. Pass the training images \(`images=x_train`\)"):
        compile_for(Subclassed(), np.arange(10))


def test_string_labels_are_refused_with_the_encoding_fix():
    with pytest.raises(ValueError, match=r"`labels`.*such as \['cat', 'dog'\].*np\.unique\(labels, return_inverse=True\)"):
        compile_for(_tiny(), np.array(["dog", "cat", "dog"]))


def test_images_of_another_layout_or_not_finite_are_refused():
    model = build_cnn((8, 8, 1), 10, filters=(4,), head_units=())
    x = np.random.default_rng(0).random((6, 8, 8, 1), dtype="float32")
    y = np.arange(6)
    with pytest.raises(ValueError, match=r"shape \(1, 8, 8\) but the model takes \(8, 8, 1\); they are channels-first: .*np\.moveaxis\(x, 1, -1\)"):
        compile_for(model, y, images=np.moveaxis(x, -1, 1))
    with pytest.raises(ValueError, match=r"shape \(8, 8, 3\) but the model takes \(8, 8, 1\)"):
        compile_for(model, y, images=np.repeat(x, 3, axis=-1))
    for bad in (np.nan, np.inf):
        broken = x.copy()
        broken[4, 2, 2, 0] = bad
        with pytest.raises(ValueError, match=r"1 image\(s\) hold NaN or infinite values \(the first at index 4\)"):
            compile_for(model, y, images=broken)
    with pytest.raises(ValueError, match=r"Subclassed does not run on images of shape \(1, 8, 8\)"):
        compile_for(Subclassed(), y, images=np.moveaxis(x, -1, 1))


@pytest.mark.multibackend
def test_load_model_reloads_a_saved_recipe_model_in_a_fresh_process(tmp_path):
    # In a fresh process keras.saving.load_model cannot find ConvBlock or the smoothing loss:
    # `import keras_cnnlab` registers nothing until its names are used.
    from _subprocess import run_python

    from keras_cnnlab import default_recipe, load_dataset

    data = load_dataset("digits", limit=200, seed=0)
    recipe = default_recipe(data, epochs=1, augmentation="digits")
    model = recipe.build_model(data, seed=0)
    recipe.compile(model, data.y_train)
    model.fit(data.x_train, data.y_train, epochs=1, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    expected = model.predict(data.x_test, verbose=0)
    np.save(tmp_path / "x.npy", data.x_test)
    code = f"""
        import keras, numpy as np, keras_cnnlab
        try:
            keras.saving.load_model({str(path)!r})
            print("plain: loaded")
        except Exception as error:
            print("plain:", type(error).__name__)
        model = keras_cnnlab.load_model({str(path)!r})
        np.save({str(tmp_path / "y.npy")!r}, model.predict(np.load({str(tmp_path / "x.npy")!r}), verbose=0))
        print(type(model.loss).__name__, model.loss.label_smoothing)
    """
    result = run_python(code, env_extra={"KERAS_BACKEND": keras.backend.backend()})
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "plain: TypeError"  # what a user met before keras_cnnlab.load_model
    assert lines[-1] == "SparseCategoricalCrossentropy 0.1"
    np.testing.assert_allclose(np.load(tmp_path / "y.npy"), expected, rtol=1e-5, atol=1e-6)
