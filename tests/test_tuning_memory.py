"""Resident memory stays flat from trial to trial (20 trials of a tiny model)."""

import keras
import keras_tuner as kt
import pytest

from keras_cnnlab.data import load_dataset
from keras_cnnlab.tuning import CNNHyperModel, SearchSpace

pytestmark = pytest.mark.slow

TRIALS = 20
WARMUP = 5  # trials that fill one-off caches (kernels, tracing machinery)
GROWTH_BOUND_MIB = 40.0


def resident_mib() -> float:
    """Resident set size of this process in MiB (peak size where /proc is missing)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource  # noqa: PLC0415 - POSIX only

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class MeasuredSearch(kt.RandomSearch):
    def on_search_begin(self):
        super().on_search_begin()
        self.rss = []

    def on_trial_end(self, trial):
        super().on_trial_end(trial)
        self.rss.append(resident_mib())


def test_resident_memory_does_not_grow_across_trials(tmp_path, record_property):
    keras.utils.set_random_seed(0)
    data = load_dataset("digits", limit=300, seed=0)
    space = SearchSpace(
        num_blocks=[1, 2], filters=[4, 8], kernel_size=3, head_units=[0, 8], batch_size=64
    )
    hypermodel = CNNHyperModel(data.input_shape, data.num_classes, search_space=space)
    tuner = MeasuredSearch(
        hypermodel, objective="val_accuracy", max_trials=TRIALS, directory=str(tmp_path),
        project_name="memory", overwrite=True, seed=0,
    )
    tuner.search(
        data.x_train, data.y_train, validation_data=(data.x_val, data.y_val), epochs=1, verbose=0
    )
    rss = tuner.rss
    record_property("rss_mib_after_each_trial", [round(r, 1) for r in rss])
    print("RSS after each trial (MiB):", ", ".join(f"{r:.0f}" for r in rss))
    assert len(rss) == TRIALS
    assert all(t.status == "COMPLETED" for t in tuner.oracle.trials.values())
    growth = rss[-1] - rss[WARMUP - 1]
    assert growth < GROWTH_BOUND_MIB, (
        f"RSS grew {growth:.1f} MiB from trial {WARMUP} to trial {TRIALS}: "
        + ", ".join(f"{r:.0f}" for r in rss)
    )
