"""Hypothesis strategies for property-testing CNN configurations (needs ``hypothesis``).

Use them to test your own models the way keras_cnnlab tests its blocks::

    from hypothesis import given
    from keras_cnnlab.testing import conv_block_cases

    @given(conv_block_cases())
    def test_my_model_accepts_block(case):
        ...
"""

from keras_cnnlab.testing.strategies import (
    Case,
    cnn_cases,
    conv_block_cases,
    conv_block_kwargs,
    spatial_ops,
)

__all__ = ["Case", "conv_block_kwargs", "conv_block_cases", "cnn_cases", "spatial_ops"]
