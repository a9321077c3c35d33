"""check_global_batch: the rule of each backend, its messages and its arguments.

Here the replicas come from stand-ins for a JAX distribution and a TensorFlow
strategy; the real ones (two simulated devices, in fresh processes) are in
tests/test_scaling_jax.py and tests/test_scaling_tf.py, which also check the
rule against what Keras does.
"""

from __future__ import annotations

from types import SimpleNamespace
from unittest import mock

import keras
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keras_cnnlab.distribute import check_global_batch


class MirroredStrategy:  # named like the real one: the message names the strategy's class
    def __init__(self, replicas):
        self.num_replicas_in_sync = replicas


class DataParallel:
    def __init__(self, shape, axis_names=("batch",), batch_dim_name="batch"):
        self.device_mesh = SimpleNamespace(shape=tuple(shape), axis_names=list(axis_names))
        self.batch_dim_name = batch_dim_name


def on_jax(distribution):
    """Patches that make the function see ``distribution`` as the active JAX one."""
    return (
        mock.patch.object(keras.backend, "backend", lambda: "jax"),
        mock.patch.object(keras.distribution, "distribution", lambda: distribution),
    )


def check_on_jax(distribution, *args, **kwargs):
    first, second = on_jax(distribution)
    with first, second:
        return check_global_batch(*args, **kwargs)


def check_on_tensorflow(replicas, *args, **kwargs):
    model = SimpleNamespace(distribute_strategy=MirroredStrategy(replicas))
    with mock.patch.object(keras.backend, "backend", lambda: "tensorflow"):
        return check_global_batch(*args, model=model, **kwargs)


@pytest.mark.multibackend
def test_without_a_distribution_any_batch_passes():
    assert check_global_batch(33) == 1
    assert check_global_batch(1, num_examples=257) == 1


@pytest.mark.multibackend
@pytest.mark.parametrize("value", [0, -32, 2.5, True, "32", None])
def test_batch_size_is_checked_first(value):
    with pytest.raises(ValueError, match=r"Invalid value for argument `batch_size`\. Expected a strictly positive"):
        check_global_batch(value)


@pytest.mark.parametrize("value", [-1, 1.5, False])
def test_num_examples_is_checked(value):
    with pytest.raises(ValueError, match=r"argument `num_examples`\. Expected a non-negative integer"):
        check_global_batch(32, num_examples=value)


def test_jax_message_names_batch_size_replicas_and_a_fix():
    two = DataParallel((2,))
    with pytest.raises(ValueError) as error:
        check_on_jax(two, 33)
    assert str(error.value) == (
        "Invalid value for argument `batch_size`: 33 images do not split over 2 replicas (the 2 devices "
        "of the 'batch' axis of the active keras.distribution.DataParallel), and every replica needs an "
        "equal slice. Use a multiple of 2, e.g. 32 or 34. Received batch_size=33."
    )
    assert check_on_jax(two, 32) == 2
    with pytest.raises(ValueError, match=r"1 image does not split over 2 replicas .* e\.g\. 2\. Received"):
        check_on_jax(two, 1)


def test_jax_needs_the_last_batch_to_split_too():
    two = DataParallel((2,))
    with pytest.raises(ValueError) as error:
        check_on_jax(two, 32, num_examples=257)
    message = str(error.value)
    assert message.startswith("Invalid value for argument `batch_size`: 257 examples in batches of 32 leave a last "
                              "batch of 1 image, which does not split over 2 replicas")
    assert "use 256 examples (e.g. x[:256]) or 258." in message
    assert check_on_jax(two, 32, num_examples=256) == 2
    assert check_on_jax(two, 64, num_examples=32) == 2  # one batch of 32
    with pytest.raises(ValueError, match=r"the only batch, all 33 examples, does not split .* e\.g\. 32 \(x\[:32\]\)"):
        check_on_jax(two, 64, num_examples=33)


def test_jax_counts_the_batch_axis_of_the_mesh():
    # a 4 x 2 mesh whose batch axis is the first: batches split 4 ways, not 8
    mesh = DataParallel((4, 2), axis_names=("data", "model"), batch_dim_name="data")
    assert check_on_jax(mesh, 32) == 4
    with pytest.raises(ValueError, match=r"30 images do not split over 4 replicas \(the 4 devices of the 'data' axis"):
        check_on_jax(mesh, 30)
    with pytest.raises(ValueError, match=r"Use a multiple of 4, e\.g\. 28 or 32\."):
        check_on_jax(mesh, 30)
    assert check_on_jax(None, 33) == 1  # no distribution set


def test_tensorflow_needs_only_the_first_batch_to_split():
    assert check_on_tensorflow(2, 32, num_examples=257) == 2  # the last batch of 1: one replica gets none
    with pytest.raises(ValueError, match=r"33 images do not split over 2 replicas \(the replicas of tf\.distribute\.MirroredStrategy\)"):
        check_on_tensorflow(2, 33)
    assert check_on_tensorflow(2, 33, num_examples=32) == 2  # one batch of 32
    with pytest.raises(ValueError, match=r"all 33 examples, does not split .* a multiple of 2 and at most 33, e\.g\. 32\."):
        check_on_tensorflow(2, 64, num_examples=33)
    with pytest.raises(ValueError, match=r"the only batch, 1 example, does not split .* Use at least 2 examples\."):
        check_on_tensorflow(2, 64, num_examples=1)


def _batches(batch_size, num_examples):
    full, last = divmod(num_examples, batch_size)
    return [batch_size] * full + ([last] if last else [])


@given(
    replicas=st.integers(1, 8),
    batch_size=st.integers(1, 100),
    num_examples=st.one_of(st.none(), st.integers(0, 300)),
)
def test_the_rule_of_each_backend(replicas, batch_size, num_examples):
    batches = [batch_size] if num_examples is None else _batches(batch_size, num_examples)
    # JAX places every batch on the mesh; TensorFlow reduces the first one over the replicas
    for check, needed in (
        (lambda: check_on_jax(DataParallel((replicas,)), batch_size, num_examples=num_examples), batches),
        (lambda: check_on_tensorflow(replicas, batch_size, num_examples=num_examples), batches[:1]),
    ):
        if all(b % replicas == 0 for b in needed):
            assert check() == replicas
        else:
            with pytest.raises(ValueError, match=rf"not split over {replicas} replicas .* Received batch_size={batch_size}\.$"):
                check()


# --- check_fit_batches: the arrays of one fit call; Recipe.fit and CNNHyperModel.fit use it ---


def fit_batches_on_jax(replicas, *args, **kwargs):
    from keras_cnnlab.distribute import check_fit_batches

    first, second = on_jax(DataParallel((replicas,)))
    with first, second:
        return check_fit_batches(None, *args, **kwargs)


def test_fit_batches_checks_training_and_validation_arrays():
    x, xv = np.zeros((256, 8, 8, 1)), np.zeros((64, 8, 8, 1))
    assert fit_batches_on_jax(2, 32, x, validation_data=(xv, None)) == 2
    with pytest.raises(ValueError, match=r"30 images do not split over 4 replicas"):
        fit_batches_on_jax(4, 30, x)
    # the validation data, in its own batch size; the message says which data and which argument
    with pytest.raises(ValueError, match=r"argument `batch_size` \(for the validation data\): 63 examples in "
                                         r"batches of 32 leave a last batch of 31 images.* \(e\.g\. x_val\[:62\]\)"):
        fit_batches_on_jax(2, 32, x, validation_data=(np.zeros((63, 8, 8, 1)), None))
    with pytest.raises(ValueError, match=r"argument `validation_batch_size` \(for the validation data\): 33 images "
                                         r".* Received validation_batch_size=33\.$"):
        fit_batches_on_jax(2, 32, x, validation_data=(xv, None), validation_batch_size=33)
    assert fit_batches_on_jax(2, 32, x, validation_data=(np.zeros((64, 8, 8, 1)), None),
                              validation_batch_size=16) == 2
    with pytest.raises(ValueError, match=r"all 63 examples, does not split"):
        fit_batches_on_jax(2, 32, x, validation_data=(np.zeros((63, 8, 8, 1)), None), validation_batch_size=64)
    # validation_split: Keras keeps back the last 20%, the training share rounded down (204 and 52)
    assert fit_batches_on_jax(2, 32, np.zeros((256, 8, 8, 1)), validation_split=0.2) == 2
    with pytest.raises(ValueError, match=r"204 examples in batches of 24 leave a last batch of 12|"
                                         r"24 images do not split"):
        fit_batches_on_jax(5, 24, np.zeros((256, 8, 8, 1)), validation_split=0.2)
    with pytest.raises(ValueError, match=r"Invalid value for argument `batch_size` \(for the validation data\): "
                                         r"51 examples in batches of 32 leave a last batch of 19 images"):
        fit_batches_on_jax(2, 32, np.zeros((255, 8, 8, 1)), validation_split=0.2)  # 204 and 51
    # with validation_data, Keras ignores validation_split
    assert fit_batches_on_jax(2, 32, x, validation_data=(xv, None), validation_split=0.2) == 2
    # data that brings its own batches is not checked
    assert fit_batches_on_jax(2, 33, object(), validation_data=object()) == 2
    # one replica: nothing to split, but the arguments are still checked
    assert fit_batches_on_jax(1, 33, x) == 1
    for kwargs, name in [({"batch_size": 0}, "batch_size"), ({"batch_size": "32"}, "batch_size"),
                         ({"validation_batch_size": 0}, "validation_batch_size"),
                         ({"validation_split": 1.5}, "validation_split")]:
        arguments = {"batch_size": 32, **kwargs}
        with pytest.raises(ValueError, match=rf"Invalid value for argument `{name}`\. Expected"):
            fit_batches_on_jax(1, arguments.pop("batch_size"), x, **arguments)


def test_recipe_fit_checks_the_batches_before_training():
    from keras_cnnlab import Recipe

    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    trained = []
    model.fit = lambda *a, **k: trained.append(k)
    x, y = np.zeros((256, 8, 8, 1), "float32"), np.arange(256) % 10
    first, second = on_jax(DataParallel((2,)))
    with first, second, pytest.raises(ValueError, match=r"33 images do not split over 2 replicas.*batch_size=33"):
        Recipe(batch_size=33, epochs=1).fit(model, x, y)
    assert trained == []  # refused before fit started
    with first, second:
        Recipe(batch_size=32, epochs=1).fit(model, x, y, validation_data=(x[:64], y[:64]))
    assert trained[0]["batch_size"] == 32


@pytest.mark.multibackend
def test_patch_multi_worker_fit_only_under_tensorflow_and_once():
    from keras_cnnlab.distribute import patch_multi_worker_fit

    if keras.backend.backend() != "tensorflow":
        with pytest.raises(RuntimeError, match=rf"for the TensorFlow backend .* runs '{keras.backend.backend()}'"):
            patch_multi_worker_fit()
        return
    patch_multi_worker_fit()
    assert patch_multi_worker_fit() is False  # already patched
    # outside a multi-worker strategy fit does what Keras does (the cluster case: test_scaling_tf.py)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile("sgd", "mse")
    keras.utils.set_random_seed(0)
    history = model.fit(np.ones((8, 4)), np.zeros((8, 2)), epochs=2, batch_size=4, verbose=0)
    assert len(history.history["loss"]) == 2 and history.history["loss"][1] < history.history["loss"][0]


def test_recipe_predicts_any_number_of_images_over_the_replicas():
    from keras_cnnlab import Recipe

    calls = []

    def predict(x, batch_size, verbose):
        calls.append((len(x), batch_size))
        return np.eye(10, dtype="float32")[np.arange(len(x)) % 10]

    model = SimpleNamespace(predict=predict)
    x = np.zeros((75, 8, 8, 1), "float32")
    first, second = on_jax(DataParallel((4,)))
    with first, second:
        probabilities = Recipe().predict(model, x, batch_size=30)
        accuracy = Recipe().evaluate(model, x, np.arange(75) % 10)
    # padded to 76 images in batches of 28: every batch splits over the 4 replicas; the padding dropped
    assert calls[0] == (76, 28) and probabilities.shape == (75, 10)
    assert accuracy == 1.0
    calls.clear()
    Recipe().predict(model, x, batch_size=30)  # one replica: as given
    assert calls == [(75, 30)]
