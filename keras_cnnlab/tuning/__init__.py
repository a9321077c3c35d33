"""KerasTuner hypermodels for CNNs: tune blocks, pooling, dropout and more with one search().

``CNNHyperModel`` builds every trial from ConvBlock and ClassifierHead;
``SearchSpace`` fixes, narrows or widens what it tunes; ``tunable_conv_block``
puts a tuned block in your own build function; ``results_table`` shows (and
exports) the trials of any tuner.
"""

from keras_cnnlab.tuning.distributed import free_port, tuner_environment, tuner_role
from keras_cnnlab.tuning.hypermodel import (
    BlockPlan,
    CNNHyperModel,
    plan_blocks,
    tunable_conv_block,
)
from keras_cnnlab.tuning.objectives import GapPenalizedAccuracy, gap_objective
from keras_cnnlab.tuning.results import TrialRow, TuningResults, results_table
from keras_cnnlab.tuning.search_space import (
    Boolean,
    Choice,
    Fixed,
    FloatRange,
    IntRange,
    SearchSpace,
)

__all__ = [
    "CNNHyperModel",
    "SearchSpace",
    "tunable_conv_block",
    "results_table",
    "TuningResults",
    "TrialRow",
    "BlockPlan",
    "plan_blocks",
    "GapPenalizedAccuracy",
    "gap_objective",
    "Fixed",
    "Choice",
    "IntRange",
    "FloatRange",
    "Boolean",
    "tuner_environment",
    "free_port",
    "tuner_role",
]
