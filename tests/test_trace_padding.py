"""Effective padding and input windows against a brute-force measurement on real layers.

The measurement knows nothing of the receptive-field arithmetic: the model gets
all-ones kernels (so every connection is positive) and, for each input row (or
column), an image with only that row lit; the rows whose image reaches an output
position make up that position's window. Every output position whose window stays
inside the input must be exactly the lit extent; at the border, where the window
holds padding, the clipped window must contain the lit rows. Input sizes odd and even exercise padding "same" where its total is odd
(the extra zero goes at the end).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from keras_cnnlab import trace_shapes

pytestmark = pytest.mark.multibackend


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    keras.utils.set_random_seed(0)
    yield
    keras.backend.clear_session(free_memory=False)


def conv(k, s=1, padding="same", d=1, name=None):
    return keras.layers.Conv2D(
        1, k, strides=s, padding=padding, dilation_rate=d, use_bias=False,
        kernel_initializer="ones", name=name,
    )


def _chain(*layers):
    def build(x):
        for layer in layers:
            x = layer(x)
        return x
    return build


def _strided_dilated(x):
    return _chain(conv(3, 2), conv(3, 1, d=2), keras.layers.MaxPooling2D(2), conv(2, 1, "valid"))(x)


def _same_even_kernels(x):
    return _chain(conv(4, 2), conv(2, 3))(x)


def _pools_same(x):
    pools = (keras.layers.AveragePooling2D(3, 2, "same"), keras.layers.MaxPooling2D(2, 1, "same"))
    return _chain(*pools, conv(4, 2))(x)


def _valid_and_padding(x):
    x = keras.layers.ZeroPadding2D(((2, 0), (1, 3)))(x)
    x = conv(3, 2, "valid")(x)
    x = keras.layers.Cropping2D(((1, 0), (0, 1)))(x)
    return conv(3, 1, "same", d=3)(x)


def _add_branches(x):
    # A 3x3 "same" branch and a 1x1 "valid" branch, both stride 2: they line up
    # differently on odd and even sizes, so the merged window is their hull.
    a = conv(3, 2)(x)
    b = conv(1, 2, "valid")(x)
    y = keras.layers.Add()([a, b])
    return conv(3, 2)(y)


def _concatenate_branches(x):
    a = keras.layers.MaxPooling2D(3, 2, "same")(x)
    b = conv(5, 2, "same")(x)
    c = keras.layers.Cropping2D(((1, 0), (0, 0)))(x)
    c = keras.layers.ZeroPadding2D(((2, 0), (0, 1)))(c)
    c = keras.layers.AveragePooling2D(2, 2, "valid")(c)
    y = keras.layers.Concatenate()([a, b, c])
    return keras.layers.Activation("relu")(y)


MODELS = {
    "strided_dilated": _strided_dilated,
    "same_even_kernels": _same_even_kernels,
    "valid_and_padding": _valid_and_padding,
    "pools_same": _pools_same,
    "add_branches": _add_branches,
    "concatenate_branches": _concatenate_branches,
}


def _lit_rows(model, n, axis):
    """For each output position: the [first, last] input row (axis 0) or column lit at it."""
    x = np.zeros((n, n, n, 1), "float32")
    for i in range(n):
        if axis == 0:
            x[i, i, :, 0] = 1.0
        else:
            x[i, :, i, 0] = 1.0
    y = keras.ops.convert_to_numpy(model(x)).max(axis=-1) > 0  # (lit, out_h, out_w)
    return y


def brute_force_windows(model, n):
    """``{(i, j): ((r0, r1), (c0, c1))}`` of inclusive lit extents, and the output size."""
    rows, cols = _lit_rows(model, n, 0), _lit_rows(model, n, 1)
    _, oh, ow = rows.shape
    out = {}
    for i in range(oh):
        for j in range(ow):
            r, c = np.flatnonzero(rows[:, i, j]), np.flatnonzero(cols[:, i, j])
            out[(i, j)] = ((int(r.min()), int(r.max())), (int(c.min()), int(c.max())))
    return out, (oh, ow)


@pytest.mark.parametrize("n", [21, 22])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_input_window_matches_brute_force(name, n):
    inputs = keras.Input((n, n, 1))
    model = keras.Model(inputs, MODELS[name](inputs), name=name)
    measured, (oh, ow) = brute_force_windows(model, n)
    trace = trace_shapes(model)
    last = trace.rows[-1].path
    assert trace.rows[-1].output_shape[1:3] == (oh, ow)
    interior = 0
    for position, ((r0, r1), (c0, c1)) in measured.items():
        (h0, h1), (w0, w1) = trace.input_window(last, position)
        if h0 >= 0 and h1 <= n and w0 >= 0 and w1 <= n:
            # Inside the input the lit rows span the whole window: exact.
            assert ((h0, h1 - 1), (w0, w1 - 1)) == ((r0, r1), (c0, c1)), position
            interior += 1
        else:
            (a0, a1), (b0, b1) = trace.input_window(last, position, clip=True)
            assert a0 <= r0 and r1 < a1 and b0 <= c0 and c1 < b1, position
            assert 0 <= a0 and a1 <= n and 0 <= b0 and b1 <= n
    assert interior, "no output position kept its window off the border"
    # The totals are the last map's figures.
    row = trace.rows[-1]
    assert trace.totals.effective_padding == row.effective_padding
    assert trace.totals.receptive_field == row.receptive_field


def test_same_padding_odd_total_pads_the_end():
    # 3x3 stride 2 "same": on 8 pixels the total padding is 1, all of it at the end;
    # on 7 it is 2, one on each side.
    for n, expected in ((8, (0, 0)), (7, (1, 1))):
        inputs = keras.Input((n, n, 1))
        model = keras.Model(inputs, conv(3, 2, name="c")(inputs))
        trace = trace_shapes(model)
        assert trace.row("c").effective_padding == expected
        assert trace.input_window("c", (0, 0)) == ((-expected[0], 3 - expected[0]),) * 2


def _mobilenet_like_head(x):
    # Keras's MobileNet head: global pooling kept 4-D, a 1x1 conv, Reshape, Activation.
    y = _chain(conv(3, 2), conv(3, 2, name="last_map"))(x)
    y = keras.layers.GlobalAveragePooling2D(keepdims=True)(y)
    y = keras.layers.Conv2D(4, 1, name="preds")(y)
    y = keras.layers.Reshape((4,), name="reshape")(y)
    return keras.layers.Activation("softmax", name="probs")(y)


def test_coverage_propagates_and_totals_take_the_last_spatial_map():
    inputs = keras.Input((21, 21, 1))
    trace = trace_shapes(keras.Model(inputs, _mobilenet_like_head(inputs)))
    for name in ("preds", "reshape", "probs"):
        row = trace.row(name)
        assert row.covers_input and row.receptive_field is None, name
    last = trace.row("last_map")
    assert (trace.totals.receptive_field, trace.totals.effective_stride) == ((7, 7), (4, 4))
    assert trace.totals.effective_padding == last.effective_padding == (3, 3)
    assert not trace.totals.global_branch
    # After global pooling (kept 4-D) the window is the whole input.
    assert trace.input_window("preds", (0, 0)) == ((0, 21), (0, 21))


# How the (1, 1, C) gate of squeeze-and-excitation meets the main path: the layer,
# the operator, the keras.ops call, and a broadcast add (a per-channel shift).
GATES = {
    "layer": lambda y, s: keras.layers.Multiply()([y, s]),
    "operator": lambda y, s: y * s,
    "operator_gate_first": lambda y, s: s * y,
    "ops_multiply": lambda y, s: keras.ops.multiply(y, s),
    "add": lambda y, s: y + s,
}


def _squeeze_excite(x, gate=None):
    y = _chain(conv(3, 2), conv(3, 1, d=2))(x)
    if gate is not None:
        s = keras.layers.GlobalAveragePooling2D()(y)
        s = keras.layers.Reshape((1, 1, 1))(s)
        s = keras.layers.Conv2D(1, 1, activation="sigmoid")(s)
        y = GATES[gate](y, s)
    return conv(3, 2, name="out")(y)


@pytest.mark.parametrize("gate", sorted(GATES))
def test_squeeze_excite_keeps_the_main_path_field(gate):
    n = 21
    inputs = keras.Input((n, n, 1))
    plain = keras.Model(inputs, _squeeze_excite(inputs))
    measured, _ = brute_force_windows(plain, n)
    inputs = keras.Input((n, n, 1))
    se = trace_shapes(keras.Model(inputs, _squeeze_excite(inputs, gate)))
    row = se.row("out")
    assert row.covers_input and se.totals.global_branch
    # The main path's windows, as measured on the model without the branch.
    inside = [
        (p, w) for p, w in measured.items()
        if all(0 <= a and b <= n for a, b in se.input_window("out", p))
    ]
    assert inside
    for position, ((r0, r1), (c0, c1)) in inside:
        assert se.input_window("out", position) == ((r0, r1 + 1), (c0, c1 + 1))
    assert "receptive_field" not in [f.kind for f in se.findings]
    assert f"{row.receptive_field[0]}+all" in se.to_text(columns=["layer", "rf"])


def _gated(combine, channels=4):
    """The review's model: main path, a (1, 1, C) or (C,) gate from global pooling, ``out``."""
    x = keras.Input((32, 32, 3))
    y = keras.layers.Conv2D(channels, 3, strides=2, padding="same")(x)
    y = keras.layers.Conv2D(channels, 3, padding="same", name="main")(y)
    s = keras.layers.GlobalAveragePooling2D(keepdims=True)(y)
    s = keras.layers.Conv2D(channels, 1, activation="sigmoid")(s)
    out = keras.layers.Conv2D(channels, 3, strides=2, padding="same", name="out")(combine(y, s))
    return keras.Model(x, out)


@pytest.mark.parametrize(
    "combine",
    [
        lambda y, s: y * s,
        lambda y, s: keras.ops.multiply(y, s),
        lambda y, s: y - s,
        lambda y, s: y / s,
        lambda y, s: keras.ops.maximum(s, y),
        # A (C,) operand: the gate averaged over the batch and space.
        lambda y, s: y + keras.ops.mean(s, axis=(0, 1, 2)),
    ],
    ids=["operator", "ops_multiply", "subtract", "divide", "maximum", "channel_vector"],
)
def test_broadcast_ops_merge_the_gate_as_the_multiply_layer_does(combine):
    reference = trace_shapes(_gated(lambda y, s: keras.layers.Multiply()([y, s])))
    trace = trace_shapes(_gated(combine))
    assert (trace.totals.receptive_field, trace.totals.effective_stride) == ((11, 11), (4, 4))
    assert trace.totals.effective_padding == reference.totals.effective_padding
    assert trace.totals.global_branch and reference.totals.global_branch
    for name in ("main", "out"):
        row, ref = trace.row(name), reference.row(name)
        assert (row.receptive_field, row.effective_padding, row.covers_input) == (
            ref.receptive_field, ref.effective_padding, ref.covers_input
        ), name
    assert trace.input_window("out", (2, 2)) == reference.input_window("out", (2, 2))
    assert "receptive_field" not in [f.kind for f in trace.findings]  # the gate sees everything


def test_ops_that_do_not_keep_the_grid_stay_unknown():
    x = keras.Input((8, 8, 1))
    y = conv(3, 1, name="c")(x)
    rows = keras.layers.Cropping2D(((0, 0), (0, 7)))(y)  # (8, 1): a column
    cols = keras.layers.Cropping2D(((0, 7), (0, 0)))(y)  # (1, 8): a row
    outer = rows * cols  # (8, 8) from neither input's shape: not element-wise on either grid
    w = keras.ops.reshape(keras.ops.mean(y), (1, 1))
    mixed = keras.ops.matmul(y, w)  # w broadcasts, but matmul is no element-wise op
    trace = trace_shapes(keras.Model(x, [outer, mixed]))
    for family in ("ops.Multiply", "ops.Matmul"):
        row = next(r for r in trace.rows if r.family == family)
        assert row.receptive_field is None and not row.covers_input, family


def test_input_window_rejects_bad_positions_and_unknown_fields():
    inputs = keras.Input((None, None, 1))
    model = keras.Model(inputs, conv(3, 2, name="c")(inputs))
    trace = trace_shapes(model)
    with pytest.raises(ValueError, match="effective padding"):
        trace.input_window("c", (0, 0))  # "same" with stride 2 on an unknown size
    trace = trace_shapes(model, (8, 8, 1))
    assert trace.input_window("c", (3, 3)) == ((6, 9), (6, 9))
    assert trace.input_window("c", (3, 3), clip=True) == ((6, 8), (6, 8))
    for bad in ((4, 0), (0,), "0,0", (0.0, 0)):
        with pytest.raises(ValueError, match="position"):
            trace.input_window("c", bad)
    with pytest.raises(KeyError):
        trace.input_window("nope", (0, 0))
