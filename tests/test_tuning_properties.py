"""Any hyperparameter set the space can produce builds a working model, on every backend."""

import keras
import keras_tuner as kt
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_cnnlab.blocks import ConvBlock
from keras_cnnlab.tuning import CNNHyperModel, SearchSpace


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    # conftest's fixture, without the full gc.collect() of clear_session (about 1 s per
    # test once TensorFlow and keras_tuner are loaded).
    keras.utils.set_random_seed(0)
    yield
    keras.backend.clear_session(free_memory=False)


def _expected_size(size: int, downsample: str, factor: int) -> int:
    """Spatial size after one block, by hand: valid pooling floors, a strided 'same' conv ceils."""
    if downsample in ("max", "avg"):
        return (size - factor) // factor + 1
    if downsample == "strided":
        return -(-size // factor)
    return size


@st.composite
def trial_cases(draw):
    # Odd, even, tiny and MNIST-sized inputs; few distinct sizes, because JAX compiles
    # every new weight shape's initializer.
    sizes = st.sampled_from([3, 5, 8, 11, 16, 28])
    height = draw(sizes)
    width = draw(st.one_of(st.just(height), sizes))
    channels = draw(st.sampled_from([1, 3]))
    num_classes = draw(st.sampled_from([2, 10]))
    space = SearchSpace(
        filters=[2, 4],  # tiny widths keep the builds fast; the structure is what varies
        head_units=[0, 4],
        downsample_factor=draw(st.sampled_from([[2], [2, 3], [3, 4], [2, 3, 4]])),
        convs=[1, 2],
    )
    hypermodel = CNNHyperModel((height, width, channels), num_classes, search_space=space)
    hp = kt.HyperParameters()
    hypermodel.declare_hyperparameters(hp)  # the whole space, every conditional scope included
    # Draw a value for every hyperparameter the way KerasTuner's oracles do: from a
    # cumulative probability, through the hyperparameter's own prob_to_value.
    values = {
        p.name: p.prob_to_value(draw(st.floats(0.0, 1.0, exclude_max=True))) for p in hp.space
    }
    trial_hp = hp.copy()
    trial_hp.values = values
    return hypermodel, trial_hp


@pytest.mark.multibackend
@settings(max_examples=8)
@given(trial_cases())
def test_any_trial_builds_a_model_with_class_outputs(case):
    hypermodel, hp = case
    model = hypermodel.build(hp)
    batch = 2
    x = np.random.default_rng(0).random((batch, *hypermodel.input_shape), dtype="float32")
    out = keras.ops.convert_to_numpy(model(x, training=False))
    assert out.shape == (batch, hypermodel.num_classes)
    np.testing.assert_allclose(out.sum(axis=1), 1.0, rtol=1e-5)

    values = hp.values
    blocks = [layer for layer in model.layers if isinstance(layer, ConvBlock)]
    assert len(blocks) == values["num_blocks"]
    size = list(hypermodel.input_shape[:2])
    for i, block in enumerate(blocks, start=1):
        downsample = values[f"block{i}_downsample"]
        factor = values.get(f"block{i}_downsample_factor")
        size = [_expected_size(n, downsample, factor) for n in size]
        assert min(size) >= 1
        assert tuple(block.output.shape[1:]) == (*size, values[f"block{i}_filters"])
