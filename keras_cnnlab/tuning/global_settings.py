"""The Keras global settings a search must keep: the distribution and the dtype policy.

KerasTuner calls ``keras.backend.clear_session()`` before it builds each trial's
model, and in Keras 3 that also forgets what ``keras.distribution.set_distribution``
and ``keras.config.set_dtype_policy`` (``keras.mixed_precision.set_global_policy``)
set: both live in the state it clears. A search started under
``DataParallel`` would then train every trial on one device, and one under
``"mixed_float16"`` in float32, without a word. :class:`KerasSettings` records
them when a :class:`~keras_cnnlab.tuning.CNNHyperModel` is created and sets
them again before each trial's model is built.
"""

from __future__ import annotations

import dataclasses

import keras

__all__ = ["KerasSettings"]


@dataclasses.dataclass(frozen=True)
class KerasSettings:
    """The active ``keras.distribution`` and global dtype policy, to set again later."""

    distribution: object = None
    dtype_policy: object = None

    @classmethod
    def now(cls) -> KerasSettings:
        """The settings in force now (the distribution is ``None`` outside JAX's API)."""
        distribution = keras.distribution.distribution() if hasattr(keras, "distribution") else None
        return cls(distribution=distribution, dtype_policy=keras.config.dtype_policy())

    def restore(self) -> list[str]:
        """Set again what ``clear_session`` dropped; returns the names of what was set."""
        restored = []
        if self.distribution is not None and keras.distribution.distribution() is None:
            keras.distribution.set_distribution(self.distribution)
            restored.append("distribution")
        if self.dtype_policy is not None and keras.config.dtype_policy().name != self.dtype_policy.name:
            keras.config.set_dtype_policy(self.dtype_policy)
            restored.append("dtype_policy")
        return restored
