"""ConvBlock and ClassifierHead: shapes, parameters, serialization and errors."""

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_cnnlab import ClassifierHead, ConvBlock, shapes
from keras_cnnlab.testing import Case, conv_block_cases

BACKEND = keras.backend.backend()


def hand_written_layers(kwargs, data_format="channels_last"):
    """The same block written with plain Keras layers, independently of ConvBlock."""
    layers = []
    axis = -1 if data_format == "channels_last" else 1
    norm = kwargs.get("batch_norm", True)
    for i in range(kwargs.get("convs", 1)):
        layers.append(
            keras.layers.Conv2D(
                kwargs["filters"],
                kwargs.get("kernel_size", 3),
                strides=kwargs.get("strides", 1) if i == 0 else 1,
                padding=kwargs.get("padding", "same"),
                dilation_rate=kwargs.get("dilation_rate", 1),
                use_bias=not norm,
                data_format=data_format,
            )
        )
        if norm:
            layers.append(keras.layers.BatchNormalization(axis=axis))
        layers.append(keras.layers.Activation(kwargs.get("activation", "relu")))
    pool = kwargs.get("pool", "max")
    if pool:
        cls = keras.layers.MaxPooling2D if pool == "max" else keras.layers.AveragePooling2D
        layers.append(
            cls(
                kwargs.get("pool_size", 2),
                strides=kwargs.get("pool_strides"),
                padding=kwargs.get("pool_padding", "valid"),
                data_format=data_format,
            )
        )
    if kwargs.get("dropout", 0):
        layers.append(keras.layers.Dropout(kwargs["dropout"]))
    return layers


def _predicted_shape(case: Case):
    size = case.input_shape[:2]
    for kwargs in case.blocks:
        ops = shapes.conv_block_ops(
            **{k: v for k, v in kwargs.items() if k not in ("filters", "batch_norm", "dropout")}
        )
        size = shapes.trace_spatial(size, ops)[-1].output_size
    return (case.batch_size, *size, case.blocks[-1]["filters"])


@pytest.mark.multibackend
@given(conv_block_cases(max_blocks=2))
def test_block_shapes_agree_four_ways(case):
    """forward pass == compute_output_shape == shapes prediction == hand-written Keras stack."""
    x = np.random.default_rng(0).random((case.batch_size, *case.input_shape)).astype("float32")
    blocks = [ConvBlock(**kwargs) for kwargs in case.blocks]
    y = x
    shape = x.shape
    for block in blocks:
        shape = block.compute_output_shape(shape)
        y = block(y)
    hand = keras.Sequential([keras.Input(case.input_shape)] + [
        layer for kwargs in case.blocks for layer in hand_written_layers(kwargs)
    ])
    hand_y = hand(x)
    assert tuple(y.shape) == tuple(shape) == _predicted_shape(case) == tuple(hand_y.shape)
    # Same architecture, same parameter count.
    ours = keras.Sequential([keras.Input(case.input_shape), *blocks])
    assert ours.count_params() == hand.count_params()


@pytest.mark.multibackend
@given(conv_block_cases(max_blocks=2))
def test_channels_first_shapes_are_the_channels_last_prediction_transposed(case):
    """The drawn stack in channels_first: compute_output_shape == hand-written Keras == the
    channels-last prediction with the channel axis moved; and the forward pass where the
    backend runs channels_first convolutions (TensorFlow's CPU kernels are NHWC only)."""
    height, width, channels = case.input_shape
    input_shape = (channels, height, width)
    blocks = [ConvBlock(**kwargs, data_format="channels_first") for kwargs in case.blocks]
    hand = keras.Sequential([keras.Input(input_shape)] + [
        layer for kwargs in case.blocks for layer in hand_written_layers(kwargs, "channels_first")
    ])
    batch, out_h, out_w, filters = _predicted_shape(case)
    expected = (batch, filters, out_h, out_w)
    shape = (batch, *input_shape)
    for block in blocks:
        shape = block.compute_output_shape(shape)
    assert tuple(shape) == expected == (batch, *hand.output_shape[1:])
    if BACKEND != "tensorflow":
        x = np.random.default_rng(0).random((batch, *input_shape)).astype("float32")
        y = x
        for block in blocks:
            y = block(y)
        assert tuple(y.shape) == expected == tuple(hand(x).shape)
        ours = keras.Sequential([keras.Input(input_shape), *blocks])
        assert ours.count_params() == hand.count_params()


@pytest.mark.multibackend
@given(conv_block_cases(max_blocks=3, max_size=6, allow_invalid=True))
def test_stack_that_does_not_fit_raises_shape_error_before_the_backend(case):
    inputs = keras.Input(case.input_shape)
    if case.fits:
        x = inputs
        for kwargs in case.blocks:
            x = ConvBlock(**kwargs)(x)
        assert all(d is None or d >= 1 for d in x.shape)
        return
    with pytest.raises(shapes.ShapeError, match="spatial size reaches zero"):
        x = inputs
        for kwargs in case.blocks:
            x = ConvBlock(**kwargs)(x)


@pytest.mark.multibackend
def test_weights_equal_hand_written_after_copying():
    """Copy the hand-written model's weights into ConvBlocks: identical outputs."""
    kwargs = dict(filters=4, convs=2, batch_norm=True, pool="max", dropout=0.25)
    x = np.random.default_rng(1).random((2, 9, 9, 3)).astype("float32")
    hand = keras.Sequential([keras.Input((9, 9, 3)), *hand_written_layers(kwargs)])
    ours = keras.Sequential([keras.Input((9, 9, 3)), ConvBlock(**kwargs)])
    ours.set_weights(hand.get_weights())
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(ours(x, training=False)),
        keras.ops.convert_to_numpy(hand(x, training=False)),
        rtol=1e-5,
        atol=1e-6,
    )


@pytest.mark.multibackend
@settings(max_examples=4)
@given(case=conv_block_cases(max_blocks=2, max_size=12))
def test_keras_file_round_trip(case, tmp_path_factory):
    inputs = keras.Input(case.input_shape)
    x = inputs
    for kwargs in case.blocks:
        x = ConvBlock(**kwargs)(x)
    x = ClassifierHead(3, units=(4,), dropout=0.1)(x)
    model = keras.Model(inputs, x)
    data = np.random.default_rng(2).random((2, *case.input_shape)).astype("float32")
    path = tmp_path_factory.mktemp("save") / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(loaded.predict(data, verbose=0)),
        keras.ops.convert_to_numpy(model.predict(data, verbose=0)),
        rtol=1e-6,
        atol=1e-6,
    )


@keras.saving.register_keras_serializable(package="tests")
def my_activation(x):
    return keras.ops.relu(x) * 0.5


@pytest.mark.multibackend
@pytest.mark.parametrize(
    "kwargs",
    [
        dict(activation=keras.layers.LeakyReLU),
        dict(activation=my_activation),
        dict(activation="gelu", batch_norm="group"),
        dict(batch_norm="layer", pool="avg"),
        dict(batch_norm=False, pool=None, dropout=0.5),
        dict(pool=keras.layers.MaxPooling2D, pool_padding="same"),
        dict(pool=lambda **kw: keras.layers.AveragePooling2D(**kw)),
    ],
    ids=["layer-class", "registered-fn", "group-norm", "layer-norm", "bare", "pool-class", "pool-callable"],
)
def test_name_class_or_callable_choices(kwargs, tmp_path):
    block = ConvBlock(8, **kwargs)
    x = np.random.default_rng(3).random((2, 8, 8, 2)).astype("float32")
    y = block(x)
    assert tuple(y.shape) == tuple(block.compute_output_shape(x.shape))
    if "pool" in kwargs and callable(kwargs["pool"]) and kwargs["pool"].__name__ == "<lambda>":
        return  # lambdas are not serializable, as in Keras
    clone = ConvBlock.from_config(block.get_config())
    clone.build(x.shape)
    clone.set_weights(block.get_weights())
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(clone(x)), keras.ops.convert_to_numpy(y), rtol=1e-6, atol=1e-6
    )


@pytest.mark.multibackend
def test_bias_dropped_only_with_norm():
    with_norm = ConvBlock(4)
    with_norm.build((None, 8, 8, 3))
    assert [w.name for w in with_norm.trainable_weights].count("bias") == 0
    without = ConvBlock(4, batch_norm=False)
    without.build((None, 8, 8, 3))
    assert without.count_params() == 3 * 9 * 4 + 4


@pytest.mark.multibackend
def test_dropout_and_batch_norm_follow_training_flag():
    block = ConvBlock(4, dropout=0.5, seed=1)
    x = np.random.default_rng(4).random((4, 8, 8, 1)).astype("float32")
    a = keras.ops.convert_to_numpy(block(x, training=False))
    b = keras.ops.convert_to_numpy(block(x, training=False))
    np.testing.assert_array_equal(a, b)
    c = keras.ops.convert_to_numpy(block(x, training=True))
    assert (c == 0).mean() > (a == 0).mean()


@pytest.mark.multibackend
def test_mixed_precision():
    keras.config.set_dtype_policy("mixed_float16")
    try:
        inputs = keras.Input((8, 8, 1))
        features = ConvBlock(4)(inputs)
        outputs = ClassifierHead(3)(features)
        assert features.dtype == "float16"
        assert outputs.dtype == "float32"
        model = keras.Model(inputs, outputs)
        y = model(np.zeros((2, 8, 8, 1), "float32"))
        assert keras.backend.standardize_dtype(y.dtype) == "float32"
    finally:
        keras.config.set_dtype_policy("float32")


@pytest.mark.multibackend
@pytest.mark.skipif(BACKEND == "tensorflow", reason="TensorFlow's CPU convolutions are NHWC only")
def test_channels_first():
    block = ConvBlock(5, data_format="channels_first", pool_size=3)
    x = np.zeros((2, 3, 10, 11), "float32")
    y = block(x)
    assert tuple(y.shape) == (2, 5, 3, 3) == tuple(block.compute_output_shape(x.shape))
    head = ClassifierHead(4, pooling="avg", data_format="channels_first")
    assert tuple(head(y).shape) == (2, 4)


def test_channels_first_shape_arithmetic_on_any_backend():
    block = ConvBlock(5, data_format="channels_first", strides=2, pool=None)
    assert block.compute_output_shape((None, 3, 9, 9)) == (None, 5, 5, 5)


# --- bad input --------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        (dict(filters=0), r"`filters`.*strictly positive.*filters=0"),
        (dict(filters=-3), r"`filters`.*filters=-3"),
        (dict(filters=8, kernel_size=0), r"`kernel_size`.*strictly positive"),
        (dict(filters=8, pool_size=0), r"`pool_size`.*strictly positive"),
        (dict(filters=8, convs=0), r"`convs`"),
        (dict(filters=8, dropout=1.5), r"`dropout`.*\[0, 1\)"),
        (dict(filters=8, padding="full"), r"`padding`.*'valid', 'same'"),
        (dict(filters=8, pool="median"), r"`pool`.*'max', 'avg'"),
        (dict(filters=8, activation="relu9"), r"`activation`.*'relu'.*relu9"),
        (dict(filters=8, batch_norm="instance"), r"`batch_norm`"),
        (dict(filters=8, data_format="NHWC"), r"`data_format`"),
        (dict(filters=8, strides=2, dilation_rate=2), r"`strides` and `dilation_rate`"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        ConvBlock(**kwargs)


def test_kernel_larger_than_input_with_valid_padding():
    with pytest.raises(ValueError, match=r"conv 5x5 s1 valid: 4 -> 0") as info:
        ConvBlock(8, 5, padding="valid")(keras.Input((4, 4, 1)))
    assert "Fix:" in str(info.value)


def test_pool_larger_than_input():
    with pytest.raises(ValueError, match=r"maxpool 3 s3 valid: 2 -> 0"):
        ConvBlock(8, pool_size=3)(keras.Input((2, 2, 1)))


def test_three_d_input_says_how_to_add_the_channel_axis():
    with pytest.raises(ValueError, match=r"x\[\.\.\., None\]"):
        ConvBlock(8)(keras.Input((28, 28)))


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        (dict(num_classes=0), "`num_classes`"),
        (dict(num_classes=3, pooling="mean"), r"`pooling`.*'flatten', 'avg', 'max'"),
        (dict(num_classes=3, units=(0,)), "`units`"),
        (dict(num_classes=3, dropout=-0.1), "`dropout`"),
        (dict(num_classes=3, activation="softmaxx"), "`activation`"),
        (dict(num_classes=3, hidden_activation="rel"), "`hidden_activation`"),
        (dict(num_classes=1), "sigmoid"),
    ],
)
def test_head_bad_arguments(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        ClassifierHead(**kwargs)


@pytest.mark.multibackend
@given(
    units=st.lists(st.integers(1, 8), max_size=2),
    pooling=st.sampled_from(["flatten", "avg", "max"]),
    classes=st.integers(1, 6),
    size=st.integers(1, 5),
    channels=st.integers(1, 4),
)
def test_head_params_equal_closed_form(units, pooling, classes, size, channels):
    activation = "sigmoid" if classes == 1 else "softmax"
    head = ClassifierHead(classes, pooling=pooling, units=tuple(units), dropout=0.1, activation=activation)
    y = head(np.zeros((2, size, size, channels), "float32"))
    assert tuple(y.shape) == (2, classes)
    width = size * size * channels if pooling == "flatten" else channels
    expected = 0
    for u in [*units, classes]:
        expected += width * u + u
        width = u
    assert head.count_params() == expected
