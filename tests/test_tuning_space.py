"""SearchSpace, the block bound, conditional scopes, tunable_conv_block and argument checks.

Nothing here trains a model; see test_tuning_search.py for searches.
"""

import copy
import sys

import keras
import keras_tuner as kt
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from keras_cnnlab.blocks import ConvBlock
from keras_cnnlab.shapes import ShapeError
from keras_cnnlab.tuning import (
    Boolean,
    Choice,
    CNNHyperModel,
    Fixed,
    FloatRange,
    GapPenalizedAccuracy,
    IntRange,
    SearchSpace,
    gap_objective,
    plan_blocks,
    tunable_conv_block,
    tuner_environment,
    tuner_role,
)
from keras_cnnlab.tuning import search_space as search_space_module


@pytest.fixture(autouse=True)
def _fresh_keras_state():
    # conftest's fixture, without the full gc.collect() of clear_session (about 1 s per
    # test once TensorFlow and keras_tuner are loaded).
    keras.utils.set_random_seed(0)
    yield
    keras.backend.clear_session(free_memory=False)


def _space_of(hypermodel) -> kt.HyperParameters:
    hp = kt.HyperParameters()
    hypermodel.declare_hyperparameters(hp)
    hypermodel.build(hp)
    return hp


def _hp_types(hp) -> dict:
    return {p.name: type(p).__name__ for p in hp.space}


# --- SearchSpace --------------------------------------------------------------------


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="Unknown search-space parameter 'filter'") as info:
        SearchSpace(filter=32)
    message = str(info.value)
    assert "Did you mean 'filters'" in message
    for name in ("num_blocks", "kernel_size", "downsample_factor", "learning_rate", "block<i>_<name>"):
        assert name in message
    with pytest.raises(ValueError, match="Valid names"):
        SearchSpace().fix(blocks1_filters=8)


def test_value_forms_give_fixed_choice_and_ranges():
    space = SearchSpace(kernel_size=3, filters=[8, 16], batch_norm=[True, False])
    space.between("learning_rate", 1e-3, 1e-1, sampling="log")
    space.between("convs", 1, 3)
    assert space["kernel_size"] == Fixed(3)
    assert space["filters"] == Choice((8, 16))
    assert space["batch_norm"] == Boolean()
    assert space["learning_rate"] == FloatRange(1e-3, 1e-1, sampling="log")
    assert space["convs"] == IntRange(1, 3)
    # untouched parameters keep their defaults
    assert space["downsample"] == Choice(("max", "avg", "strided", "none"))
    assert set(space.overrides) == {"kernel_size", "filters", "batch_norm", "learning_rate", "convs"}
    assert "kernel_size" in repr(space) and "Fixed(3)" in space.describe()


def test_per_block_override_wins_over_shared_spec():
    space = SearchSpace(filters=[8, 16], block2_filters=32)
    assert space.spec("filters", block="block1") == Choice((8, 16))
    assert space.spec("filters", block="block2") == Fixed(32)
    assert space["block2_filters"] == Fixed(32)
    assert space["block3_filters"] == Choice((8, 16))
    assert space.is_set("block3_filters") and not space.is_set("kernel_size")


def test_reset_and_copy_are_independent():
    space = SearchSpace(kernel_size=3)
    other = space.copy().fix(kernel_size=5)
    assert space["kernel_size"] == Fixed(3) and other["kernel_size"] == Fixed(5)
    assert space.reset("kernel_size")["kernel_size"] == Choice((3, 5))
    assert space == SearchSpace()


@pytest.mark.parametrize(
    "old, new, value",
    [
        ("pool", "downsample", "strided"),
        ("pool_size", "downsample_factor", 3),
        ("augment_strength", "augmentation_strength", 0.75),
        ("block2_pool", "block2_downsample", "avg"),
        ("block2_pool_size", "block2_downsample_factor", 2),
    ],
)
def test_old_parameter_names_warn_and_mean_the_new_ones(old, new, value):
    deprecated = pytest.warns(DeprecationWarning, match=f"'{old}' is deprecated: use '{new}'")
    with deprecated as record:
        space = SearchSpace(**{old: value})
    assert space.overrides == {new: Fixed(value)}
    assert record[0].filename == __file__  # shown at the caller's line
    with deprecated:
        assert space[old] == Fixed(value)
    with deprecated:
        assert space.is_set(old) and old in space
    with deprecated:
        assert space.reset(old) == SearchSpace()
    with deprecated:
        assert space.set(old, [value]).overrides == {new: Choice((value,))}
    with deprecated:
        assert space.fix(**{old: value}) == SearchSpace(**{new: value})
    with deprecated:
        assert space.choose(**{old: [value]})[new] == Choice((value,))
    if not isinstance(value, str):
        with deprecated:
            assert space.between(old, value, value + 1)[new].max_value == value + 1


def test_old_names_reach_the_new_hyperparameters_and_plan():
    with pytest.warns(DeprecationWarning) as record:
        hypermodel = CNNHyperModel(
            (8, 8, 1), 10, search_space=dict(num_blocks=1, filters=4, pool="strided", pool_size=2)
        )
    assert {w.filename for w in record} == {__file__}
    hp = _space_of(hypermodel)
    assert hp.values["block1_downsample"] == "strided" and hp.values["block1_downsample_factor"] == 2
    assert not [name for name in hp.values if "pool" in name and name != "head_pooling"]
    with pytest.warns(DeprecationWarning, match=r"BlockPlan.pool_sizes is deprecated: use BlockPlan.downsample_factors"):
        assert hypermodel.plan.pool_sizes == hypermodel.plan.downsample_factors == ((2,),)
    with pytest.warns(DeprecationWarning, match=r"pool_sizes=.*is deprecated: use tunable_conv_block\(downsample_factors="):
        block = tunable_conv_block(kt.HyperParameters(), "b", search_space=SearchSpace(downsample="strided"), pool_sizes=(3,))
    assert block.strides == (3, 3)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda s: s.fix(downsample="maxx"), r"`downsample`.*one of \('max', 'avg', 'strided', 'none'\).*downsample='maxx'"),
        (lambda s: s.fix(dropout=1.0), r"`dropout`.*\[0, 1\).*dropout=1.0"),
        (lambda s: s.fix(filters=0), r"`filters`.*>= 1.*filters=0"),
        (lambda s: s.fix(downsample_factor=1), r"`downsample_factor`.*>= 2"),
        (lambda s: s.fix(batch_norm="yes"), r"`batch_norm`.*True or False"),
        (lambda s: s.fix(optimizer="adamm"), r"`optimizer`.*one of"),
        (lambda s: s.choose(filters=16), r"choose\(\) takes a list.*fix\(filters=...\)"),
        (lambda s: s.choose(filters=[]), r"at least one value"),
        (lambda s: s.between("downsample", 1, 2), r"`downsample` is not numeric.*choose"),
        (lambda s: s.between("filters", 64, 8), r"low <= high"),
        (lambda s: s.between("filters", 8, 64, step=0.5), r"step must be an integer"),
        (lambda s: s.between("learning_rate", 0.0, 1.0), r"`learning_rate \(low\)`.*> 0"),
        (lambda s: s.between("dropout", 0.0, 0.5, sampling="cubic"), r"`sampling`"),
        (lambda s: s.set("filters", FloatRange(1.0, 2.0)), r"`filters`: an integer parameter takes.*IntRange"),
        (lambda s: s.set("downsample", Boolean()), r"`downsample`: a string parameter takes Fixed or Choice"),
    ],
)
def test_bad_values_name_the_parameter(call, match):
    with pytest.raises(ValueError, match=match):
        call(SearchSpace())


def test_fixed_values_are_hp_fixed_and_choices_hp_choice():
    space = SearchSpace(kernel_size=3, convs=1, filters=[4, 8], num_blocks=2, downsample=["max", "avg"])
    space.fix(head_units=0, optimizer="adam", batch_size=16)
    types = _hp_types(_space_of(CNNHyperModel((8, 8, 1), 10, search_space=space)))
    assert types["block1_kernel_size"] == "Fixed" and types["block2_convs"] == "Fixed"
    assert types["num_blocks"] == "Fixed" and types["batch_size"] == "Fixed"
    assert types["block1_filters"] == "Choice" and types["block2_downsample"] == "Choice"
    assert types["learning_rate"] == "Float" and types["block1_batch_norm"] == "Boolean"
    assert "head_dropout" not in types  # no hidden layer, so nothing to drop out


def test_batch_size_none_is_not_tuned():
    hp = _space_of(CNNHyperModel((8, 8, 1), 10, search_space=SearchSpace(batch_size=None)))
    assert "batch_size" not in _hp_types(hp)


# --- the block bound ------------------------------------------------------------------


def _independent_max_blocks(size: int, downsamples, factors, cap: int) -> int:
    """Blocks that fit when every earlier block downsamples as hard as the space allows."""
    down = [d for d in downsamples if d != "none"]
    blocks = 0
    while blocks < cap:
        if not down:
            blocks += 1
            continue
        outputs = []
        for f in factors:
            outs = [(size - f) // f + 1 if d in ("max", "avg") else -(-size // f) for d in down]
            if min(outs) >= 1:
                outputs.extend(outs)
        if not outputs:
            break
        size = min(outputs)
        blocks += 1
    return blocks


@given(
    size=st.integers(1, 64),
    downsamples=st.lists(st.sampled_from(["max", "avg", "strided", "none"]), min_size=1, max_size=4, unique=True),
    factors=st.lists(st.integers(2, 5), min_size=1, max_size=3, unique=True),
)
def test_block_bound_matches_independent_arithmetic(size, downsamples, factors):
    space = SearchSpace(downsample=downsamples, downsample_factor=factors)
    plan = plan_blocks(space, (size, size), 6)
    assert plan.max_blocks == _independent_max_blocks(size, downsamples, factors, 6)
    assert all(min(s) >= 1 for s in plan.worst_sizes)


@pytest.mark.parametrize(
    "shape, counts",
    [((8, 8, 1), (1, 2)), ((28, 28, 1), (1, 2, 3)), ((64, 64, 3), (1, 2, 3, 4)), ((5, 7, 1), (1,))],
)
def test_default_block_counts_follow_the_input_size(shape, counts):
    assert CNNHyperModel(shape, 10).block_count_range == counts


def test_smaller_downsampling_allows_more_blocks():
    hypermodel = CNNHyperModel((8, 8, 1), 10, search_space=SearchSpace(downsample_factor=2))
    assert hypermodel.block_count_range == (1, 2, 3)  # 8 -> 4 -> 2 -> 1


def test_later_blocks_only_get_downsample_factors_that_fit():
    hypermodel = CNNHyperModel((8, 8, 1), 10)
    # After a 3x3 pool, 8 -> 2, so a second 3x3 pool would reach zero.
    assert hypermodel.plan.downsample_factors == ((2, 3), (2,))
    hp = _space_of(hypermodel)
    declared = {p.name: p for p in hp.space}
    assert list(declared["block1_downsample_factor"].values) == [2, 3]
    assert type(declared["block2_downsample_factor"]).__name__ == "Fixed"


def test_too_many_blocks_raise_with_the_arithmetic():
    with pytest.raises(ShapeError, match=r"fits only 2.*8 -> 2 -> 1.*num_blocks <= 2"):
        CNNHyperModel((8, 8, 1), 10, search_space=SearchSpace(num_blocks=[1, 3]))


def test_input_too_small_for_any_block():
    with pytest.raises(ShapeError, match=r"fits no block.*downsample='none'"):
        CNNHyperModel((1, 1, 1), 10, search_space=SearchSpace(downsample="max"))
    # with no downsampling the same input is fine
    assert CNNHyperModel((1, 1, 1), 2, search_space=SearchSpace(downsample="none", num_blocks=2))


def test_most_aggressive_trial_still_builds():
    space = SearchSpace(filters=4, head_units=0, downsample=["max", "strided"], downsample_factor=[2, 3])
    hypermodel = CNNHyperModel((9, 9, 1), 3, search_space=space)
    hp = _space_of(hypermodel)
    hp.values.update(num_blocks=max(hypermodel.block_count_range))
    for i, factors in enumerate(hypermodel.plan.downsample_factors, start=1):
        hp.values.update({f"block{i}_downsample": "max", f"block{i}_downsample_factor": max(factors)})
    hp.ensure_active_values()  # as an oracle does: defaults for newly active parameters
    model = hypermodel.build(hp)
    assert model.output.shape == (None, 3)
    last = [layer for layer in model.layers if isinstance(layer, ConvBlock)][-1]
    assert min(last.output.shape[1:3]) >= 1


# --- conditional scopes ---------------------------------------------------------------


def test_unused_blocks_and_options_are_inactive():
    space = SearchSpace(head_units=[0, 8], downsample=["max", "none"])
    hypermodel = CNNHyperModel((8, 8, 1), 10, search_space=space)
    hp = _space_of(hypermodel)
    hp.values.update(num_blocks=1, block1_downsample="none", head_units=0)
    assert hp.is_active("block1_filters") and not hp.is_active("block2_filters")
    assert not hp.is_active("block1_downsample_factor") and not hp.is_active("head_dropout")
    hp.values.update(num_blocks=2, block1_downsample="max", head_units=8)
    assert hp.is_active("block2_filters") and hp.is_active("block1_downsample_factor")
    assert hp.is_active("head_dropout")
    hp.ensure_active_values()
    model = hypermodel.build(hp)
    assert [layer.name for layer in model.layers if isinstance(layer, ConvBlock)] == ["block1", "block2"]


def test_no_augmentation_module_means_no_augmentation(monkeypatch):
    monkeypatch.setitem(sys.modules, "keras_cnnlab.augment", None)  # import fails
    assert SearchSpace()["augmentation"] == Fixed("none")
    hp = _space_of(CNNHyperModel((8, 8, 1), 10))
    assert hp.values["augmentation"] == "none" and "augmentation_strength" not in _hp_types(hp)
    space = SearchSpace(augmentation="light")
    with pytest.raises(ImportError, match=r"augmentation='light' needs keras_cnnlab.augment.*'none'"):
        CNNHyperModel((8, 8, 1), 10, search_space=space).build(kt.HyperParameters())


def test_augmentation_preset_is_tuned_when_available():
    pytest.importorskip("keras_cnnlab.augment")
    space = SearchSpace(augmentation=["none", "light"], num_blocks=1, filters=4)
    hypermodel = CNNHyperModel((8, 8, 1), 10, search_space=space)
    hp = _space_of(hypermodel)
    hp.values.update(augmentation="light", augmentation_strength=0.5)
    assert hp.is_active("augmentation_strength")
    hp.ensure_active_values()
    model = hypermodel.build(hp)
    assert model.layers[1].name != "block1"  # the preset sits between the input and the blocks


# --- tunable_conv_block ---------------------------------------------------------------


def test_tunable_conv_block_in_a_custom_build_function():
    space = SearchSpace(filters=[4, 8], downsample="strided", downsample_factor=2, convs=2)

    def build(hp):
        inputs = keras.Input((16, 16, 3))
        x = inputs
        for i in range(hp.Int("blocks", 1, 2)):
            x = tunable_conv_block(hp, f"stage{i + 1}", search_space=space)(x)
        return keras.Model(inputs, x)

    hp = kt.HyperParameters()
    hp.values["blocks"] = 2
    model = build(hp)
    assert {"stage1_filters", "stage2_kernel_size", "stage2_downsample_factor"} <= set(hp.values)
    block = model.get_layer("stage1")
    assert isinstance(block, ConvBlock) and block.strides == (2, 2) and block.pool is None
    assert block.block_layers[2].strides == (1, 1)  # only the first convolution strides
    assert model.output.shape[1:3] == (4, 4)  # 16 -> 8 -> 4


def test_tunable_conv_block_is_none_in_an_inactive_scope():
    hp = kt.HyperParameters()
    hp.Choice("kind", ["a", "b"])
    with hp.conditional_scope("kind", ["b"]):
        assert tunable_conv_block(hp, "branch") is None
    assert "branch_filters" in _hp_types(hp)


def test_tunable_conv_block_checks_its_arguments():
    with pytest.raises(ValueError, match="`name`"):
        tunable_conv_block(kt.HyperParameters(), "2nd block")
    space = SearchSpace(downsample_factor=3)
    with pytest.raises(ShapeError, match="No downsampling factor"):
        tunable_conv_block(kt.HyperParameters(), "b", search_space=space, downsample_factors=(2,))


# --- the hypermodel's arguments and labels ------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(input_shape=(8, 8)), r"no channel axis.*\(8, 8, 1\)"),
        (dict(num_classes=0), r"`num_classes`"),
        (dict(labels="onehot"), r"`labels`.*'sparse'.*'one_hot'"),
        (dict(output_activation="relu"), r"`output_activation`"),
        (dict(gap_penalty=-1), r"`penalty`"),
        (dict(search_space=[1, 2]), r"`search_space`"),
        (dict(max_blocks=0), r"`max_blocks`"),
        (dict(seed=1.5), r"`seed`"),
        (dict(compile_kwargs=dict(loss="mse")), r"`compile_kwargs`.*\['loss'\]"),
        (dict(compile_kwargs="eager"), r"`compile_kwargs`.*dict"),
    ],
)
def test_bad_hypermodel_arguments(kwargs, match):
    args = dict(input_shape=(8, 8, 1), num_classes=10)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        CNNHyperModel(args.pop("input_shape"), args.pop("num_classes"), **args)


@pytest.mark.parametrize(
    "labels, loss",
    [
        (None, "SparseCategoricalCrossentropy"),
        ("sparse", "SparseCategoricalCrossentropy"),
        ("one_hot", "CategoricalCrossentropy"),
        (np.eye(10, dtype="float32")[[1, 2, 3]], "CategoricalCrossentropy"),
        (np.array([0, 3, 9]), "SparseCategoricalCrossentropy"),
    ],
)
def test_loss_fits_the_labels(labels, loss):
    space = SearchSpace(num_blocks=1, filters=4)
    model = CNNHyperModel((8, 8, 1), 10, search_space=space, labels=labels).build(kt.HyperParameters())
    assert type(model.loss).__name__ == loss


def test_binary_and_logits_outputs():
    space = SearchSpace(num_blocks=1, filters=4)
    binary = CNNHyperModel((8, 8, 1), 1, search_space=space, output_activation="sigmoid")
    assert type(binary.build(kt.HyperParameters()).loss).__name__ == "BinaryCrossentropy"
    logits = CNNHyperModel((8, 8, 1), 10, search_space=space, output_activation=None)
    assert logits.build(kt.HyperParameters()).loss.get_config()["from_logits"] is True


def test_wrong_labels_fail_clearly_at_fit():
    hypermodel = CNNHyperModel((8, 8, 1), 3, search_space=SearchSpace(num_blocks=1, filters=4))
    hp = kt.HyperParameters()
    model = hypermodel.build(hp)
    x = np.zeros((4, 8, 8, 1), "float32")
    with pytest.raises(ValueError, match=r"labels run from 0 to 7.*num_classes=8"):
        hypermodel.fit(hp, model, x, np.array([0, 1, 2, 7]), epochs=1, verbose=0)


def test_optimizer_and_learning_rate_reach_the_model():
    space = SearchSpace(num_blocks=1, filters=4, optimizer="rmsprop", learning_rate=0.0123)
    model = CNNHyperModel((8, 8, 1), 10, search_space=space).build(kt.HyperParameters())
    assert type(model.optimizer).__name__ == "RMSprop"
    assert float(model.optimizer.learning_rate) == pytest.approx(0.0123)


# --- the gap-aware objective --------------------------------------------------------------


def test_gap_penalized_accuracy_arithmetic():
    callback = GapPenalizedAccuracy(penalty=2.0)
    logs = {"accuracy": 0.9, "val_accuracy": 0.8}
    callback.on_epoch_end(0, logs)
    assert logs["val_accuracy_minus_gap"] == pytest.approx(0.8 - 2.0 * 0.1)
    logs = {"accuracy": 0.7, "val_accuracy": 0.8}  # no overfitting: no penalty
    callback.on_epoch_end(0, logs)
    assert logs["val_accuracy_minus_gap"] == pytest.approx(0.8)
    logs = {"accuracy": 0.7}  # no validation data: nothing written
    callback.on_epoch_end(0, logs)
    assert "val_accuracy_minus_gap" not in logs
    clone = copy.deepcopy(callback)  # KerasTuner copies callbacks per trial
    assert clone.penalty == 2.0 and clone.key == "val_accuracy_minus_gap"
    objective = gap_objective()
    assert objective.name == "val_accuracy_minus_gap" and objective.direction == "max"


def test_gap_penalized_accuracy_uses_the_monitors_gap_when_it_is_in_the_logs():
    # The gap monitor ran first in the same fit: its gap_accuracy (here an inference-mode
    # one, larger than the running-average accuracy - val_accuracy) is the gap penalised.
    callback = GapPenalizedAccuracy(penalty=2.0)
    logs = {"accuracy": 0.85, "val_accuracy": 0.8, "train_eval_accuracy": 0.95, "gap_accuracy": 0.15}
    callback.on_epoch_end(0, logs)
    assert logs["val_accuracy_minus_gap"] == pytest.approx(0.8 - 2.0 * 0.15)
    logs = {"accuracy": 0.9, "val_accuracy": 0.8, "gap_accuracy": -0.05}  # the monitor's says no gap
    callback.on_epoch_end(0, logs)
    assert logs["val_accuracy_minus_gap"] == pytest.approx(0.8)
    # With the real monitor listed before it: fit hands both the same logs, in list order.
    from keras_cnnlab.callbacks import OverfittingGapMonitor

    monitor = OverfittingGapMonitor(verbose=0)
    monitor.set_model(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]))
    monitor.on_train_begin()
    logs = {"loss": 0.3, "val_loss": 0.5, "accuracy": 0.95, "val_accuracy": 0.75}
    for callback in (monitor, GapPenalizedAccuracy(penalty=1.0)):
        callback.on_epoch_end(0, logs)
    assert logs["gap_accuracy"] == pytest.approx(0.2)
    assert logs["val_accuracy_minus_gap"] == pytest.approx(0.75 - logs["gap_accuracy"])


def test_gap_penalized_accuracy_computes_the_curves_gap_without_a_monitor():
    from keras_cnnlab.curves import metric_gap

    callback = GapPenalizedAccuracy(penalty=0.5)
    logs = {"accuracy": 0.9, "val_accuracy": 0.7}  # no gap_accuracy: no monitor in this fit
    callback.on_epoch_end(0, logs)
    assert logs["val_accuracy_minus_gap"] == pytest.approx(0.7 - 0.5 * metric_gap(0.9, 0.7, "max"))
    assert logs["val_accuracy_minus_gap"] == pytest.approx(0.7 - 0.5 * 0.2)
    # a metric to minimise: the gap is val - train, so a lower training error is penalised
    callback = GapPenalizedAccuracy(penalty=1.0, metric="error")
    logs = {"error": 0.1, "val_error": 0.3}
    callback.on_epoch_end(0, logs)
    assert logs["val_error_minus_gap"] == pytest.approx(0.3 - 0.2)


# --- distributed helpers ----------------------------------------------------------------


def test_tuner_environment_and_role():
    env = tuner_environment("tuner1", 8123)
    assert env == {
        "KERASTUNER_TUNER_ID": "tuner1",
        "KERASTUNER_ORACLE_IP": "127.0.0.1",
        "KERASTUNER_ORACLE_PORT": "8123",
    }
    assert tuner_role(env) == "worker"
    assert tuner_role(tuner_environment("chief", 8123)) == "chief"
    assert tuner_role({}) == "standalone"
    with pytest.raises(ValueError, match="KERASTUNER_ORACLE_PORT"):
        tuner_role({"KERASTUNER_TUNER_ID": "chief", "KERASTUNER_ORACLE_IP": "127.0.0.1"})
    with pytest.raises(ValueError, match="`tuner_id`.*'chief'"):
        tuner_environment("not-chief", 8123)
    with pytest.raises(ValueError, match="`oracle_port`"):
        tuner_environment("tuner0", 70000)


def test_defaults_are_documented():
    text = SearchSpace().describe()
    for name in search_space_module.PARAMETERS:
        assert name in text
