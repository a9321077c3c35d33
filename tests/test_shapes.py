"""keras_cnnlab.shapes against Keras's own layers and a brute-force receptive field."""

import keras
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keras_cnnlab import shapes
from keras_cnnlab.testing import spatial_ops

pytestmark = pytest.mark.multibackend


@given(
    n=st.integers(1, 40),
    k=st.integers(1, 7),
    s=st.integers(1, 4),
    d=st.integers(1, 3),
    padding=st.sampled_from(["valid", "same"]),
)
def test_conv_length_matches_keras_conv2d(n, k, s, d, padding):
    if s > 1 and d > 1:
        d = 1  # Conv2D refuses strides and dilation together
    ours = shapes.conv_output_length(n, k, strides=s, padding=padding, dilation_rate=d)
    layer = keras.layers.Conv2D(1, (k, 1), strides=(s, 1), padding=padding, dilation_rate=(d, 1))
    if ours <= 0:
        # Keras refuses (or returns a non-positive size) exactly where we predict <= 0.
        try:
            out = layer.compute_output_shape((1, n, 1, 1))
        except ValueError:
            return
        assert out[1] <= 0
        return
    assert layer.compute_output_shape((1, n, 1, 1))[1] == ours
    # And the real forward pass agrees.
    y = layer(np.zeros((1, n, 1, 1), "float32"))
    assert y.shape[1] == ours


@given(
    n=st.integers(1, 40),
    k=st.integers(1, 5),
    s=st.one_of(st.none(), st.integers(1, 4)),
    padding=st.sampled_from(["valid", "same"]),
    kind=st.sampled_from(["max", "avg"]),
)
def test_pool_length_matches_keras_pooling(n, k, s, padding, kind):
    ours = shapes.pool_output_length(n, k, strides=s, padding=padding)
    cls = keras.layers.MaxPooling2D if kind == "max" else keras.layers.AveragePooling2D
    layer = cls((k, 1), strides=None if s is None else (s, 1), padding=padding)
    if ours <= 0:
        return  # Keras does not define these; trace_spatial raises ShapeError (tested below)
    assert layer.compute_output_shape((1, n, 1, 1))[1] == ours
    y = layer(np.zeros((1, n, 1, 1), "float32"))
    assert y.shape[1] == ours


def test_unknown_length_stays_unknown():
    assert shapes.conv_output_length(None, 3) is None
    assert shapes.pool_output_length(None, 2) is None


def test_explanations_read_like_the_tutorials():
    assert shapes.SpatialOp.conv(3, padding="same").explain((32, 32)) == "conv 3x3 s1 same: 32 -> 32"
    assert shapes.SpatialOp.conv(3, 2, "same").explain((32, 32)) == "conv 3x3 s2 same: 32 -> 16"
    assert shapes.SpatialOp.conv(5).explain((28, 28)) == "conv 5x5 s1 valid: 28 -> 24"
    assert (
        shapes.SpatialOp.maxpool(2).explain((7, 7))
        == "maxpool 2 s2 valid: 7 -> 3 (floor drops 1 row and 1 column)"
    )
    assert shapes.SpatialOp.maxpool(2).explain((7, 8)) == "maxpool 2 s2 valid: 7x8 -> 3x4 (floor drops 1 row)"
    assert shapes.SpatialOp.maxpool(2, padding="same").explain((7, 7)) == "maxpool 2 s2 same: 7 -> 4"


def test_tutorial_c_stack_sizes():
    ops = [shapes.SpatialOp.conv(5), shapes.SpatialOp.maxpool(2)] * 2
    steps = shapes.trace_spatial((28, 28), ops)
    assert [s.output_size[0] for s in steps] == [24, 12, 8, 4]


def test_zero_size_raises_with_the_arithmetic():
    ops = [shapes.SpatialOp.maxpool(2)] * 4
    with pytest.raises(shapes.ShapeError) as info:
        shapes.trace_spatial((8, 8), ops, where="my model")
    message = str(info.value)
    assert "maxpool 2 s2 valid: 1 -> 0" in message
    assert "8 -> 4" in message and "my model" in message
    assert "padding='same'" in message


def _influence(ops):
    """Brute force: which input positions change output position 0 (1-D, unpadded indices).

    Walks the ops' index maps backwards without clipping, so the extent is the
    theoretical receptive field that the recurrence describes.
    """
    positions = {0}
    for op in reversed(ops):
        k, s, d = op.kernel_size[0], op.strides[0], op.dilation_rate[0]
        positions = {p * s + d * j for p in positions for j in range(k)}
    return max(positions) - min(positions) + 1


@given(spatial_ops(max_ops=5))
def test_receptive_field_matches_brute_force(ops):
    (rf_h, rf_w), (jump_h, _) = shapes.receptive_field(ops)
    assert rf_h == _influence(ops)
    assert jump_h == int(np.prod([op.strides[0] for op in ops]))


def test_receptive_field_by_perturbation_on_a_real_stack():
    """Perturb each input pixel of a real Conv/Pool stack and see which change the output."""
    ops = [
        shapes.SpatialOp.conv(3, padding="valid"),
        shapes.SpatialOp.maxpool(2),
        shapes.SpatialOp.conv(3, padding="valid", dilation_rate=2),
    ]
    model = keras.Sequential(
        [
            keras.Input((20, 20, 1)),
            keras.layers.Conv2D(1, 3, kernel_initializer="ones", use_bias=False),
            keras.layers.AveragePooling2D(2),
            keras.layers.Conv2D(1, 3, dilation_rate=2, kernel_initializer="ones", use_bias=False),
        ]
    )
    base = np.zeros((1, 20, 20, 1), "float32")
    batch = np.repeat(base, 400, axis=0)
    for i in range(400):
        batch[i, i // 20, i % 20, 0] = 1.0
    out = keras.ops.convert_to_numpy(model(batch))[:, 0, 0, 0]
    touched = np.flatnonzero(out != 0)
    rows, cols = touched // 20, touched % 20
    (rf_h, rf_w), _ = shapes.receptive_field(ops)
    assert rows.max() - rows.min() + 1 == rf_h
    assert cols.max() - cols.min() + 1 == rf_w


@pytest.mark.parametrize(
    "value, error",
    [(0, "strictly positive"), (-3, "strictly positive"), ((3, 3, 3), "tuple of 2 ints"), (True, "Received")],
)
def test_normalize_tuple_errors_name_the_argument(value, error):
    with pytest.raises(ValueError, match=error) as info:
        shapes.normalize_tuple(value, "kernel_size")
    assert "`kernel_size`" in str(info.value)


def test_bad_padding_named():
    with pytest.raises(ValueError, match="`padding`.*'full'"):
        shapes.conv_output_length(8, 3, padding="full")
