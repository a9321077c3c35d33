"""KerasTuner hypermodels for CNNs: tune blocks, downsampling, dropout and more with one search().

``CNNHyperModel`` builds every trial from ConvBlock and ClassifierHead;
``SearchSpace`` fixes, narrows or widens what it tunes; ``tunable_conv_block``
puts a tuned block in your own build function; ``results_table`` shows (and
exports) the trials of any tuner.
"""

from keras_cnnlab.tuning.block_plan import BlockPlan, plan_blocks
from keras_cnnlab.tuning.distributed import free_port, tuner_environment, tuner_role
from keras_cnnlab.tuning.hypermodel import CNNHyperModel
from keras_cnnlab.tuning.objectives import GapPenalizedAccuracy, gap_objective
from keras_cnnlab.tuning.results import TrialRow, TuningResults, results_table
from keras_cnnlab.tuning.search_space import SearchSpace
from keras_cnnlab.tuning.specs import Boolean, Choice, Fixed, FloatRange, IntRange
from keras_cnnlab.tuning.tunable_block import tunable_conv_block

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
