"""Building blocks that drop into any Sequential or functional Keras model."""

from keras_cnnlab.blocks.classifier_head import ClassifierHead
from keras_cnnlab.blocks.conv_block import ConvBlock

__all__ = ["ConvBlock", "ClassifierHead"]
