"""keras.applications models (weights=None) trace completely, with published figures."""

from __future__ import annotations

import keras
import pytest

from keras_cnnlab import trace_shapes


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("MobileNetV2", {"input_shape": (64, 64, 3), "alpha": 0.35}),
        ("EfficientNetB0", {"input_shape": (64, 64, 3)}),
        ("MobileNetV3Small", {"input_shape": (64, 64, 3), "minimalistic": False}),
        ("ConvNeXtTiny", {"input_shape": (64, 64, 3)}),
    ],
)
def test_small_applications_trace_completely(name, kwargs):
    model = getattr(keras.applications, name)(weights=None, **kwargs)
    totals = trace_shapes(model).totals
    assert totals.params == model.count_params()
    assert totals.unknown_cost_layers == []
    assert totals.receptive_field is not None and totals.effective_padding is not None
    assert totals.effective_stride == (32, 32)
    assert totals.global_branch == (name in ("EfficientNetB0", "MobileNetV3Small"))


def test_mobilenet_receptive_field_is_the_published_one():
    # 315 at stride 32 for MobileNet (v1) at 224x224 (Araujo et al., Distill 2019).
    trace = trace_shapes(keras.applications.MobileNet(weights=None))
    assert trace.totals.receptive_field == (315, 315)
    assert trace.totals.effective_stride == (32, 32)
    assert not trace.totals.global_branch
    assert trace.row("conv_preds").covers_input and trace.row("predictions").covers_input
