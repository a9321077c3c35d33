"""The garbage-collector freeze of ``CNNHyperModel(freeze_gc=True)``, one per process.

CNNHyperModel calls ``_FREEZER.listen()`` when made with ``freeze_gc=True``,
``_FREEZER.before_build(in_search)`` at each build and ``_FREEZER.watch(model)``
before each trial's ``fit``.
"""

from __future__ import annotations

import gc
import weakref


class _TrialFreezer:
    """``gc.freeze()`` before every trial's build, for as long as it is safe (``freeze_gc=True``).

    KerasTuner runs two full collections just before it builds each trial's model.
    What survives them outlives the trial: modules, the data, the tuner, and the
    graphs TensorFlow keeps of every model it traced (about 10,000 objects a trial,
    never freed). Freezing the survivors keeps the next collections from scanning
    them again: over a 23-trial Hyperband search on digits, each collection took
    5-20 ms throughout, instead of growing to 0.2 s by the last trial.

    Freezing is unsafe only for an object alive then that later becomes cyclic
    garbage: it would never be collected. The one such object that matters is a
    trial's callbacks (KerasTuner copies the search's callbacks just before the
    collections), and a callback holds its trial's model. So each build checks
    that the previous trial's model was freed. If it was not, freezing stops for
    the rest of the process, and the frozen objects are thawed and collected,
    which frees that model.
    """

    def __init__(self):
        self.enabled = True
        self.previous = None  # weak reference to the model the last trial trained
        self.collected = False  # a full collection has ended since the last build
        self._listening = False

    def _on_collection(self, phase: str, info: dict) -> None:
        # gc.callbacks hook: runs at the start and end of every collection, so kept tiny.
        if phase == "stop" and info.get("generation") == 2:
            self.collected = True

    def listen(self) -> None:
        """Start noting the end of full collections (once per process)."""
        if not self._listening:
            gc.callbacks.append(self._on_collection)
            self._listening = True

    def before_build(self, in_search: bool) -> None:
        """Freeze if a search's KerasTuner has just collected and the last trial's model is gone.

        ``in_search``: the build runs under a KerasTuner search, which collects right
        before every build. Whether a full collection ran is read from ``gc.callbacks``,
        not from ``gc.get_count()``: young collections between KerasTuner's and the
        build (a thread allocating meanwhile) do not hide it.
        """
        self.listen()
        collected, self.collected = self.collected, False
        if not self.enabled or not in_search or not collected:
            return
        previous, self.previous = self.previous, None
        if previous is not None and previous() is not None:
            # Something frozen holds the last trial's model: stop, and let it go.
            self.enabled = False
            gc.unfreeze()
            gc.collect()
            return
        gc.freeze()

    def watch(self, model) -> None:
        """Remember a trial's model (a model ``fit`` trains; not one reloaded for the user)."""
        try:
            self.previous = weakref.ref(model)
        except TypeError:
            self.previous = None


_FREEZER = _TrialFreezer()  # one per process, as the collector is
