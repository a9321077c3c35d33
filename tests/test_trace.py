"""trace_shapes: shapes, parameters, MACs against real forward passes and closed forms."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from keras_cnnlab import ConvBlock, build_architecture, shapes, trace_shapes
from keras_cnnlab.blocks import ClassifierHead
from keras_cnnlab.models import ARCHITECTURES
from keras_cnnlab.testing import conv_block_kwargs

multibackend = pytest.mark.multibackend
# Zero initial weights: shapes and counts do not depend on values, and JAX
# compiles a random initializer for every new weight shape.
Z = dict(kernel_initializer="zeros")

CAN_RUN_CHANNELS_FIRST = keras.backend.backend() != "tensorflow"  # TF's CPU kernels are NHWC only


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """The suite's fixture without its garbage-collection pass, which costs a second
    per test here and frees nothing these tiny models need."""
    keras.utils.set_random_seed(0)
    yield
    keras.backend.clear_session(free_memory=False)


# ---------------------------------------------------------------------------
# Drawn stacks and an independent forward pass


@st.composite
def plain_conv(draw):
    strides = draw(st.sampled_from([1, 2]))
    return dict(
        filters=draw(st.integers(1, 6)),
        kernel_size=draw(st.sampled_from([1, 2, 3, (3, 1), (2, 3)])),
        strides=strides,
        padding=draw(st.sampled_from(["same", "valid"])),
        dilation_rate=1 if strides != 1 else draw(st.sampled_from([1, 2])),
        use_bias=draw(st.booleans()),
    )


@st.composite
def plain_pool(draw):
    return dict(
        kind=draw(st.sampled_from(["max", "avg"])),
        pool_size=draw(st.sampled_from([2, 3, (2, 3)])),
        strides=draw(st.sampled_from([None, 1, 2])),
        padding=draw(st.sampled_from(["valid", "same"])),
    )


def _ops(item):
    kind, kw = item
    if kind == "block":
        keys = ("kernel_size", "convs", "strides", "padding", "dilation_rate", "pool",
                "pool_size", "pool_strides", "pool_padding")
        return shapes.conv_block_ops(**{k: kw[k] for k in keys})
    if kind == "conv":
        return [shapes.SpatialOp.conv(kw["kernel_size"], kw["strides"], kw["padding"], kw["dilation_rate"])]
    make = shapes.SpatialOp.maxpool if kw["kind"] == "max" else shapes.SpatialOp.avgpool
    return [make(kw["pool_size"], kw["strides"], kw["padding"])]


@st.composite
def stacks(draw):
    """A stack of ConvBlock / Conv2D / pooling layers, a head, and an input it fits."""
    items = draw(
        st.lists(
            st.one_of(
                st.tuples(st.just("block"), conv_block_kwargs(max_filters=6)),
                st.tuples(st.just("conv"), plain_conv()),
                st.tuples(st.just("pool"), plain_pool()),
            ),
            min_size=1,
            max_size=3,
        )
    )
    size = [draw(st.integers(3, 14)), draw(st.integers(3, 14))]
    ops = [op for item in items for op in _ops(item)]
    for _ in range(12):
        try:
            shapes.trace_spatial(size, ops)
            break
        except shapes.ShapeError:
            size = [s + 3 for s in size]
    else:
        assume(False)
    head = draw(st.sampled_from(["flatten", "gap", "none"]))
    units = draw(st.integers(1, 5))
    channels = draw(st.sampled_from([1, 3]))
    return dict(items=items, input_shape=(*size, channels), head=head, units=units)


def make_layers(case, data_format="channels_last"):
    out = []
    for i, (kind, kw) in enumerate(case["items"]):
        name = f"{kind}{i}"
        if kind == "block":
            out.append(ConvBlock(**kw, data_format=data_format, name=name, **Z))
        elif kind == "conv":
            out.append(keras.layers.Conv2D(**kw, data_format=data_format, name=name, **Z))
        else:
            pool = keras.layers.MaxPooling2D if kw["kind"] == "max" else keras.layers.AveragePooling2D
            out.append(
                pool(kw["pool_size"], kw["strides"], kw["padding"], data_format=data_format, name=name)
            )
    if case["head"] == "flatten":
        out.append(keras.layers.Flatten(data_format=data_format, name="flatten"))
    elif case["head"] == "gap":
        out.append(keras.layers.GlobalAveragePooling2D(data_format=data_format, name="gap"))
    if case["head"] != "none":
        out.append(keras.layers.Dense(case["units"], name="dense", **Z))
    return out


def _parts(layer):
    if isinstance(layer, ConvBlock):
        return layer.block_layers
    if isinstance(layer, ClassifierHead):
        return layer.head_layers
    return None


def forward_shapes(layers, x, prefix=""):
    """``{path: (input shape, output shape)}`` of every layer and part, from real calls."""
    found = {}
    for layer in layers:
        path = f"{prefix}{layer.name}"
        x_in = x
        parts = _parts(layer)
        if parts is not None:
            inner = forward_shapes(parts, x, prefix=path + "/")
            found.update(inner)
            y = layer(x)
        else:
            y = layer(x)
        found[path] = (tuple(x_in.shape)[1:], tuple(y.shape)[1:])
        x = y
    return found


def small_cnn():
    return keras.Sequential(
        [keras.Input((8, 8, 1)), ConvBlock(4, **Z), keras.layers.Flatten(), keras.layers.Dense(3, **Z)]
    )


def _per_sample(shape):
    return tuple(shape)[1:]


# ---------------------------------------------------------------------------
# Properties


@multibackend
@given(stacks(), st.integers(1, 3))
def test_traced_shapes_params_and_macs_match_forward_pass(case, batch):
    model = keras.Sequential([keras.Input(case["input_shape"]), *make_layers(case)])
    trace = trace_shapes(model, depth=5)

    x = keras.ops.ones((batch, *case["input_shape"]))
    real = forward_shapes(model.layers, x)
    traced = {row.path: row for row in trace.rows}
    assert set(real) == set(traced)
    for path, (shape_in, shape_out) in real.items():
        row = traced[path]
        assert _per_sample(row.input_shape) == shape_in, path
        assert _per_sample(row.output_shape) == shape_out, path
        assert row.output_shape[0] is None

    assert trace.totals.params == model.count_params()
    assert sum(row.params for row in trace.rows if row.depth == 0) == model.count_params()

    for row in trace.rows:
        layer_in, layer_out = real[row.path]
        if row.family == "Conv2D":
            h, w, c_out = layer_out
            kh, kw = row.kernel_size
            assert row.macs == h * w * kh * kw * layer_in[-1] * c_out, row.path
        elif row.family == "Dense":
            assert row.macs == layer_in[-1] * layer_out[-1], row.path


@multibackend
@given(stacks())
def test_channels_first_trace_is_the_transposed_channels_last_trace(case):
    h, w, c = case["input_shape"]
    last = trace_shapes(keras.Sequential([keras.Input((h, w, c)), *make_layers(case)]), depth=5)
    first_model = keras.Sequential(
        [keras.Input((c, h, w)), *make_layers(case, "channels_first")]
    )
    first = trace_shapes(first_model, depth=5)

    def to_last(shape):
        return (shape[0], *shape[2:], shape[1]) if len(shape) == 4 else shape

    for a, b in zip(last.rows, first.rows):
        assert a.path == b.path
        assert to_last(b.output_shape) == a.output_shape
        assert (a.macs, a.flops, a.params) == (b.macs, b.flops, b.params)
        assert a.receptive_field == b.receptive_field
    assert first.totals.receptive_field == last.totals.receptive_field
    assert first.totals.input_size == (h, w)

    if CAN_RUN_CHANNELS_FIRST:
        real = forward_shapes(first_model.layers, keras.ops.ones((2, c, h, w)))
        for row in first.rows:
            assert _per_sample(row.output_shape) == real[row.path][1]


# ---------------------------------------------------------------------------
# The tutorials' networks


@multibackend
def test_tutorial_b_fashion_mnist_model():
    model = build_architecture("simple", (28, 28, 1), 10)
    trace = trace_shapes(model)
    flatten = trace.row("head/flatten")
    assert flatten.input_shape == (None, 3, 3, 128)
    assert flatten.output_shape == (None, 1152)
    assert flatten.explanation == "3 x 3 x 128 = 1152"
    assert trace.totals.params == 167_114
    assert [trace.row(f"block{i}").output_shape for i in (1, 2, 3)] == [
        (None, 14, 14, 32),
        (None, 7, 7, 64),
        (None, 3, 3, 128),
    ]
    assert trace.row("block3/pool").explanation == (
        "maxpool 2 s2 valid: 7 -> 3 (floor drops 1 row and 1 column)"
    )
    # conv 3 -> pool 4 (x2) -> conv 8 -> pool 10 (x4) -> conv 18 -> pool 22 (x8)
    assert trace.totals.receptive_field == (22, 22)
    assert trace.totals.effective_stride == (8, 8)


def test_tutorial_c_lenet_shapes():
    trace = trace_shapes(build_architecture("lenet", (28, 28, 1), 10), depth=1)
    sizes = [trace.row(p).output_shape[1] for p in ("block1/conv1", "block1/pool", "block2/conv1", "block2/pool")]
    assert sizes == [24, 12, 8, 4]
    assert trace.row("block1/conv1").explanation == "conv 5x5 s1 valid: 28 -> 24, channels 1 -> 32"


def test_tutorial_d_model_trace():
    model = build_architecture("vgg_bn", (32, 32, 3), 10)
    trace = trace_shapes(model, depth=1)
    assert trace.totals.params == model.count_params()
    assert trace.row("head/flatten").output_shape == (None, 2048)
    assert trace.totals.receptive_field == (36, 36)
    assert not [f for f in trace.findings if f.kind == "receptive_field"]
    conv = trace.row("block1/conv1")
    assert conv.macs == 32 * 32 * 3 * 3 * 3 * 32
    assert conv.trainable_params == 3 * 3 * 3 * 32  # no bias before batch norm


def test_every_architecture_traces_to_its_parameter_count():
    for name in sorted(ARCHITECTURES):
        model = build_architecture(name, (32, 32, 3), 10)
        trace = trace_shapes(model)
        assert trace.totals.params == model.count_params(), name
        assert trace.totals.output_shape == (None, 10), name
        assert not trace.totals.unknown_cost_layers, name


# ---------------------------------------------------------------------------
# Model kinds


class Subclassed(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.block = ConvBlock(4, convs=2, name="block", **Z)
        self.pool = keras.layers.AveragePooling2D(2, name="pool")
        self.flatten = keras.layers.Flatten(name="flatten")
        self.dense = keras.layers.Dense(3, name="dense", **Z)

    def call(self, x, training=None):
        return self.dense(self.flatten(self.pool(self.block(x, training=training))))


@multibackend
def test_subclassed_model_given_input_shape():
    model = Subclassed()
    trace = trace_shapes(model, (12, 10, 1), depth=2)
    assert model.built
    real = forward_shapes([model.block, model.pool, model.flatten, model.dense], keras.ops.ones((2, 12, 10, 1)))
    assert {r.path for r in trace.rows} == set(real)
    for row in trace.rows:
        assert _per_sample(row.output_shape) == real[row.path][1]
        assert row.output_shape[0] is None
    assert trace.totals.params == model.count_params()
    assert trace.totals.receptive_field == (8, 8)  # 3, 5, pool 6 (x2), avgpool 8 (x4)
    # Once built, the input shape is remembered.
    again = trace_shapes(model)
    assert [r.output_shape for r in again.rows] == [r.output_shape for r in trace.rows]


@multibackend
def test_nested_and_shared_layers():
    inner = keras.Sequential(
        [keras.Input((8, 8, 3)), ConvBlock(4, name="cb", **Z), keras.layers.Conv2D(2, 3, padding="same", name="conv", **Z)],
        name="inner",
    )
    shared = keras.layers.Dense(5, name="shared", **Z)
    x = keras.Input((8, 8, 3))
    y = keras.layers.GlobalAveragePooling2D()(inner(x))
    out = keras.layers.Dense(2, **Z)(shared(shared(keras.layers.Dense(5, **Z)(y))))
    model = keras.Model(x, out)
    trace = trace_shapes(model)
    assert trace.row("inner/cb/conv1").output_shape == (None, 8, 8, 4)
    assert trace.row("inner/cb").depth == 1 and trace.row("inner/cb/pool").depth == 2
    assert trace.row("shared").params == 30
    assert trace.row("shared@2").params == 0
    assert "shares weights" in trace.row("shared@2").note
    assert trace.totals.params == model.count_params()
    assert trace.row("inner").macs == trace.row("inner/cb").macs + trace.row("inner/conv").macs


def test_depth_limits_rows_but_not_totals():
    model = build_architecture("vgg_bn", (32, 32, 3), 10)
    full = trace_shapes(model, depth=3)
    top = trace_shapes(model, depth=0)
    assert {r.depth for r in top.rows} == {0}
    assert [r.path for r in top.rows] == ["block1", "block2", "block3", "head"]
    assert len(full.rows) > len(top.rows)
    assert top.totals == full.totals
    assert top.findings == full.findings


@multibackend
def test_unknown_spatial_sizes_and_a_concrete_input_shape():
    model = keras.Sequential(
        [keras.Input((None, None, 3)), keras.layers.Conv2D(4, 3, **Z), keras.layers.GlobalMaxPooling2D(),
         keras.layers.Dense(2, **Z)]
    )
    open_trace = trace_shapes(model)
    assert open_trace.rows[0].output_shape == (None, None, None, 4)
    assert open_trace.rows[0].macs is None and open_trace.totals.activation_bytes is None
    fixed = trace_shapes(model, (10, 12, 3))
    assert fixed.rows[0].output_shape == (None, 8, 10, 4)
    assert fixed.rows[0].macs == 8 * 10 * 3 * 3 * 3 * 4
    with pytest.raises(ValueError, match="input_shape"):
        trace_shapes(model, (10, 12, 1))


@multibackend
def test_activation_memory_and_flops_closed_forms():
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(2, 3, padding="same", activation="relu", **Z),
            keras.layers.BatchNormalization(),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(3, **Z),
        ]
    )
    trace = trace_shapes(model, batch_size=4)
    conv, bn, pool, flat, dense = trace.rows
    assert conv.flops == 2 * (8 * 8 * 9 * 2) + 8 * 8 * 2 + 8 * 8 * 2  # MACs x2, bias, relu
    assert bn.macs == 8 * 8 * 2 and bn.flops == 2 * 8 * 8 * 2
    assert pool.flops == 4 * 4 * 2 * 3 and pool.macs == 0
    assert flat.flops == 0
    assert dense.flops == 2 * 32 * 3 + 3
    # input + conv + bn + pool + dense outputs (Flatten is a view), float32, batch 4
    assert trace.totals.activation_bytes == (64 + 128 + 128 + 32 + 3) * 4 * 4
    assert trace.totals.input_bytes == 64 * 4 * 4
    assert trace.totals.weight_bytes == model.count_params() * 4


@multibackend
def test_optimizer_state_bytes():
    model = small_cnn()
    weights = sum(int(np.prod(v.shape)) for v in model.trainable_weights) * 4
    assert trace_shapes(model, optimizer="adam").totals.optimizer_state_bytes == 2 * weights
    assert trace_shapes(model, optimizer="sgd").totals.optimizer_state_bytes == 0
    momentum = keras.optimizers.SGD(momentum=0.9)
    assert trace_shapes(model, optimizer=momentum).totals.optimizer_state_bytes == weights
    assert trace_shapes(model).totals.optimizer is None
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    totals = trace_shapes(model).totals
    assert (totals.optimizer, totals.optimizer_state_bytes) == ("RMSprop", weights)


# ---------------------------------------------------------------------------
# Findings


def _kinds(trace):
    return [f.kind for f in trace.findings]


def test_findings_of_the_tutorial_b_model():
    trace = trace_shapes(build_architecture("simple", (28, 28, 1), 10), depth=0)
    drops = [f for f in trace.findings if f.kind == "floor_drop"]
    assert [f.layer for f in drops] == ["block3/pool"]  # found below the depth shown
    assert "pool_padding='same'" in drops[0].message
    assert "22x22" in next(f.message for f in trace.findings if f.kind == "receptive_field")


@multibackend
def test_finding_flatten_dense_holds_most_parameters():
    model = keras.Sequential(
        [keras.Input((16, 16, 1)), keras.layers.Conv2D(2, 3, padding="same", **Z), keras.layers.Flatten(),
         keras.layers.Dense(32, **Z)]
    )
    trace = trace_shapes(model)
    finding = next(f for f in trace.findings if f.kind == "flatten_dense_params")
    assert finding.layer == "dense"
    assert "16,416 of 16,436" in finding.message
    assert "GlobalAveragePooling2D" in finding.message and "96" in finding.message


@multibackend
def test_finding_size_reaches_one_early():
    blocks = [ConvBlock(4, name=f"block{i}", **Z) for i in (1, 2, 3)]
    model = keras.Sequential([keras.Input((8, 8, 1)), *blocks, ConvBlock(4, pool=None, name="block4", **Z)])
    trace = trace_shapes(model)
    finding = next(f for f in trace.findings if f.kind == "early_collapse")
    assert finding.layer == "block3/pool"
    assert "block4/conv1" in finding.message
    model = keras.Sequential([keras.Input((16, 16, 1)), *[ConvBlock(4, **Z) for _ in range(3)]])
    assert "early_collapse" not in _kinds(trace_shapes(model))


@multibackend
def test_finding_window_larger_than_its_same_padded_input():
    model = keras.Sequential([
        keras.Input((4, 4, 1)),
        keras.layers.Conv2D(2, 5, padding="same", name="wide", **Z),
        keras.layers.MaxPooling2D(2, name="pool"),
        keras.layers.Conv2D(2, 3, padding="same", dilation_rate=2, name="dilated", **Z),
        keras.layers.Conv2D(2, 2, padding="same", name="fits", **Z),
    ])
    found = {f.layer: f for f in trace_shapes(model).findings if f.kind == "window_exceeds_input"}
    assert sorted(found) == ["dilated", "wide"]
    assert found["wide"].severity == "warning"
    assert "5x5 window is larger than its 4x4 input" in found["wide"].message
    assert "at most 4x4" in found["wide"].message
    assert "3x3 (dilated to 5x5) window is larger than its 2x2 input" in found["dilated"].message
    # a window that fits gives none ("valid" would not build at all)
    model = keras.Sequential([keras.Input((4, 4, 1)), keras.layers.Conv2D(2, 3, padding="same", **Z)])
    assert "window_exceeds_input" not in _kinds(trace_shapes(model))
    # 8 -> 4 -> 2 -> 1: the 3x3 convolution on 2x2 is one; those on the 1-pixel map
    # are early_collapse's
    blocks = [ConvBlock(4, name=f"block{i}", **Z) for i in (1, 2, 3)]
    model = keras.Sequential([keras.Input((8, 8, 1)), *blocks, ConvBlock(4, pool=None, name="block4", **Z)])
    trace = trace_shapes(model)
    assert [f.layer for f in trace.findings if f.kind == "window_exceeds_input"] == ["block3/conv1"]
    assert "early_collapse" in _kinds(trace)


class Opaque(keras.layers.Layer):
    """Knows its output shape, but its call cannot run on symbolic tensors."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.inner = keras.layers.Dense(4, **Z)

    def build(self, input_shape):
        self.inner.build(input_shape)

    def call(self, x):
        raise RuntimeError("needs concrete data")

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 4)


class Doubler(keras.layers.Layer):
    def call(self, x):
        return x * 2.0

    def compute_output_shape(self, input_shape):
        return input_shape


@multibackend
def test_findings_untraced_parts_and_unknown_costs():
    x = keras.Input((6,))
    model = keras.Model(x, keras.layers.Dense(2, **Z)(Doubler(name="doubler")(Opaque(name="opaque")(x))))
    trace = trace_shapes(model)
    opaque = trace.row("opaque")
    assert opaque.output_shape == (None, 4)  # from the graph
    assert "needs concrete data" in opaque.error
    assert opaque.flops is None and opaque.params == 28
    assert trace.row("doubler").flops is None
    assert set(trace.totals.unknown_cost_layers) == {"opaque", "doubler"}
    assert trace.totals.params == model.count_params()
    assert trace.totals.flops == trace.row("dense").flops  # unknown is not zero
    assert {"untraced", "unknown_cost"} <= set(_kinds(trace))
    assert "unknown" in trace.to_text(columns=["layer", "flops"])


@multibackend
def test_augmentation_layers_are_free_and_keep_the_receptive_field():
    from keras_cnnlab import augmentation_preset, build_cnn

    kwargs = dict(filters=(8, 16), seed=0)
    plain = trace_shapes(build_cnn((16, 16, 1), 10, **kwargs))
    for preset in ("digits", "strong"):
        model = build_cnn((16, 16, 1), 10, augmentation=augmentation_preset(preset, seed=0), **kwargs)
        trace = trace_shapes(model)
        rows = [row for row in trace.rows if row.type == "AugmentationPipeline"]
        assert len(rows) == 1 and rows[0].flops == 0 and rows[0].output_shape == (None, 16, 16, 1)
        assert trace.totals.unknown_cost_layers == []
        assert trace.totals.flops == plain.totals.flops
        assert plain.totals.receptive_field is not None
        assert trace.totals.receptive_field == plain.totals.receptive_field
        assert trace.totals.params == model.count_params()


# ---------------------------------------------------------------------------
# Bad input


@multibackend
def test_bad_arguments_name_the_argument():
    model = small_cnn()
    with pytest.raises(ValueError, match="`model`"):
        trace_shapes("model.keras")
    with pytest.raises(ValueError, match="`batch_size`"):
        trace_shapes(model, batch_size=0)
    with pytest.raises(ValueError, match="`depth`"):
        trace_shapes(model, depth=-1)
    with pytest.raises(ValueError, match="`input_shape`"):
        trace_shapes(model, input_shape=(8, 8, 0))
    with pytest.raises(ValueError, match="`optimizer`"):
        trace_shapes(model, optimizer="no_such_optimizer")
    with pytest.raises(ValueError, match="input_shape"):
        trace_shapes(keras.Sequential([keras.layers.Conv2D(2, 3)]))
    with pytest.raises(ValueError, match="input_shape"):
        trace_shapes(Subclassed())
    with pytest.raises(KeyError, match="block9"):
        trace_shapes(model).row("block9")


@multibackend
def test_unbuilt_sequential_is_built_from_input_shape():
    model = keras.Sequential([keras.layers.Conv2D(2, 3, **Z), keras.layers.Flatten(), keras.layers.Dense(3, **Z)])
    trace = trace_shapes(model, (6, 6, 1))
    assert [r.output_shape for r in trace.rows] == [(None, 4, 4, 2), (None, 32), (None, 3)]
    assert trace.totals.params == model.count_params() == 20 + 99


@multibackend
def test_a_bare_layer_traces_with_its_parts():
    trace = trace_shapes(ConvBlock(4, name="block", **Z), (9, 9, 3))
    assert [r.path for r in trace.rows] == [
        "block", "block/conv1", "block/norm1", "block/act1", "block/pool",
    ]
    assert trace.rows[0].output_shape == (None, 4, 4, 4)
    assert "floor drops 1 row and 1 column" in trace.rows[0].explanation


class BackendOnly(keras.Model):
    """A call that refuses KerasTensors, as raw backend ops do."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.conv = keras.layers.Conv2D(3, 3, name="conv", **Z)
        self.pool = keras.layers.GlobalAveragePooling2D(name="gap")

    def call(self, x, training=None):
        if isinstance(x, keras.KerasTensor):
            raise TypeError("backend tensors only")
        return self.pool(self.conv(x))


@multibackend
def test_subclassed_call_that_needs_backend_tensors():
    model = BackendOnly()
    trace = trace_shapes(model, (7, 7, 2))
    assert model.built
    assert [(r.path, r.output_shape) for r in trace.rows] == [
        ("conv", (None, 5, 5, 3)),
        ("gap", (None, 3)),
    ]
    assert trace.totals.params == model.count_params()


@multibackend
def test_two_inputs_keras_ops_and_layers_without_rules():
    a, b = keras.Input((8, 8, 3)), keras.Input((8, 8, 2))
    x = keras.layers.Concatenate(name="concat")([a, b])
    x = keras.layers.Conv2D(4, 3, strides=2, name="conv", **Z)(x)
    x = keras.ops.relu(x)
    x = keras.layers.Reshape((9, 4), name="reshape")(x)
    out = keras.layers.Dense(2, name="dense", **Z)(keras.layers.Flatten(name="flat")(x))
    model = keras.Model([a, b], out)
    trace = trace_shapes(model)
    assert trace.totals.input_shape == [(None, 8, 8, 3), (None, 8, 8, 2)]
    assert trace.row("concat").explanation == "3 + 2 = 5 along axis -1"
    relu = next(r for r in trace.rows if r.family == "ops.Relu")
    assert relu.flops == 3 * 3 * 4 and relu.receptive_field == (3, 3)
    assert trace.row("reshape").receptive_field is None  # no rule: unknown, not guessed
    assert trace.totals.params == model.count_params()
    assert [r.path for r in trace.rows] == [r.path for r in trace_shapes(model, [(8, 8, 3), (8, 8, 2)]).rows]
