"""Receptive fields in the trace against a brute-force measurement on real layers.

The measurement knows nothing of the receptive-field recurrence: it builds the
stack with all-ones kernels (so every connection is positive), lights one
input row (or column) per image and reads which ones reach the centre output
pixel, growing the input until that set no longer touches the border.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from hypothesis import given

from keras_cnnlab import trace_shapes
from keras_cnnlab.testing import spatial_ops

pytestmark = pytest.mark.multibackend


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    """The suite's fixture without its garbage-collection pass, which costs a second
    per test here and frees nothing these tiny models need."""
    keras.utils.set_random_seed(0)
    yield
    keras.backend.clear_session(free_memory=False)


def _layers(ops):
    out = []
    for i, op in enumerate(ops):
        if op.kind == "conv":
            out.append(
                keras.layers.Conv2D(
                    1, op.kernel_size, strides=op.strides, padding=op.padding,
                    dilation_rate=op.dilation_rate, use_bias=False,
                    kernel_initializer="ones", name=f"conv{i}",
                )
            )
        else:
            # Average pooling has max pooling's window, and every input in it counts.
            out.append(
                keras.layers.AveragePooling2D(op.kernel_size, op.strides, op.padding, name=f"pool{i}")
            )
    return out


def _extent(model, n, axis):
    """Rows (axis 0) or columns (axis 1) of an n x n input that reach the centre output."""
    x = np.zeros((n, n, n, 1), "float32")
    for i in range(n):
        if axis == 0:
            x[i, i, :, 0] = 1.0
        else:
            x[i, :, i, 0] = 1.0
    y = keras.ops.convert_to_numpy(model(x))
    _, oh, ow, _ = y.shape
    hits = np.flatnonzero(y[:, oh // 2, ow // 2, 0] > 0)
    return hits.min(), hits.max()


def brute_force_receptive_field(model, sizes=(16, 32, 64, 128, 192)):
    for n in sizes:
        try:
            (r0, r1), (c0, c1) = _extent(model, n, 0), _extent(model, n, 1)
        except Exception:  # noqa: BLE001 - the stack does not fit an input this small
            continue
        if r0 > 0 and c0 > 0 and r1 < n - 1 and c1 < n - 1:
            return (int(r1 - r0 + 1), int(c1 - c0 + 1))
    return None


@given(spatial_ops(max_ops=3))
def test_receptive_field_matches_brute_force(ops):
    model = keras.Sequential([keras.Input((None, None, 1)), *_layers(ops)])
    measured = brute_force_receptive_field(model)
    assert measured is not None, "no input size kept the receptive field off the border"

    # Through a symbolic call (unknown sizes filled in) ...
    n = 192
    trace = trace_shapes(model, (n, n, 1))
    assert trace.totals.receptive_field == measured
    # ... and through the graph of a model built for that size.
    fixed = keras.Sequential([keras.Input((n, n, 1)), *model.layers])
    assert trace_shapes(fixed).totals.receptive_field == measured
    assert trace_shapes(fixed).totals.effective_stride == tuple(
        int(np.prod([op.strides[a] for op in ops])) for a in (0, 1)
    )
