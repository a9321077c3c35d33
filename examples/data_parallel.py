"""Data parallelism: the default recipe trained over two devices, with the report and the gap monitor.

Every global batch is split over the devices and the gradients are averaged, so
the global batch size must split evenly: ``check_fit_batches`` says so before
training, naming ``batch_size`` and the replica count (``Recipe.fit`` calls it too).

* JAX: ``keras.distribution.DataParallel`` over every device. Without GPUs the
  script asks XLA for two CPU "devices" (``XLA_FLAGS=--xla_force_host_platform_device_count=2``,
  set before JAX starts).
* TensorFlow: ``tf.distribute.MirroredStrategy`` over every GPU (one replica on a
  machine with one GPU), or without a GPU over the CPU split into two logical
  devices (when TensorFlow has not started yet in this process; otherwise over the
  devices it has).
* PyTorch: Keras has no data parallelism there; the script trains on one device.

Two CPU "devices" share the same cores: they show that training is correct under
the strategy, not a speed-up (docs/scaling.md; bench/gpu/bench_gpu.py measures
the speed-up on GPUs).

Measured (2 CPU cores, seed 0, 1,294 training digits, 60 epochs of global batch 64):

* ``KERAS_BACKEND=jax python examples/data_parallel.py``: 2 replicas (two CPU
  "devices"); test accuracy 0.9889 on 359 held-out digits; 47 s of training,
  57 s with the imports.
* ``python examples/data_parallel.py`` (TensorFlow, MirroredStrategy over two
  logical CPU devices): 2 replicas; test accuracy 0.9916; 188 s of training, 201 s
  in all. (``python examples/default_recipe.py``, one device: 0.9861 on the same
  split. One split is coarse: the two differ by one digit.)
* ``--smoke`` (2 epochs on 300 digits): 20-28 s under TensorFlow, 28-43 s under
  JAX, imports included (two runs each).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time

DEVICES = 2


def _backend() -> str:
    """The backend Keras will load, read before importing it: KERAS_BACKEND, else keras.json."""
    if "KERAS_BACKEND" in os.environ:
        return os.environ["KERAS_BACKEND"]
    config = os.path.join(os.environ.get("KERAS_HOME", os.path.expanduser("~/.keras")), "keras.json")
    try:
        with open(config) as f:
            return json.load(f).get("backend", "tensorflow")
    except (OSError, ValueError):
        return "tensorflow"


if _backend() == "jax" and "jax" not in sys.modules:  # two CPU "devices", set before JAX starts
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={DEVICES}"

import keras  # noqa: E402 (after the device flag)

from keras_cnnlab import OverfittingGapMonitor, RichTrainingReport, default_recipe, load_dataset  # noqa: E402
from keras_cnnlab.distribute import check_fit_batches  # noqa: E402


def data_parallel():
    """The scope to build and train in, set up for this backend's data parallelism."""
    backend = keras.backend.backend()
    if backend == "jax":
        keras.distribution.set_distribution(keras.distribution.DataParallel())
        return contextlib.nullcontext()
    if backend == "tensorflow":
        import tensorflow as tf

        if tf.config.list_physical_devices("GPU"):  # every GPU (with one, one replica)
            return tf.distribute.MirroredStrategy().scope()
        cpu = tf.config.list_physical_devices("CPU")[0]
        try:
            tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * DEVICES)
        except RuntimeError:  # TensorFlow already started in this process: its devices are fixed
            pass
        devices = [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices).scope()
    print(f"Keras has no data parallelism on the {backend} backend: training on one device.")
    return contextlib.nullcontext()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--smoke", action="store_true", help="a few seconds: 2 epochs on a subset")
    p.add_argument("--seed", type=int, default=0, help="seed of the split and the weights")
    args = p.parse_args(argv)

    scope = data_parallel()
    data = load_dataset("digits", seed=args.seed, limit=300 if args.smoke else None)
    recipe = default_recipe(data)
    if args.smoke:
        recipe = recipe.replace(epochs=2)
    keras.utils.set_random_seed(args.seed)
    start = time.perf_counter()
    with scope:  # the model, its optimizer and its training under the strategy
        model = recipe.build_model(data, seed=args.seed)
        replicas = check_fit_batches(model, recipe.batch_size, data.x_train, validation_data=(data.x_val, data.y_val))
        print(f"{data}\nrecipe: {recipe}\nreplicas: {replicas} (global batch {recipe.batch_size}, "
              f"{recipe.batch_size // replicas} images per replica)")
        # the subset the monitor re-evaluates is trimmed to split over the replicas too
        monitor = OverfittingGapMonitor("loss", max_gap=None, unbiased_subset=255,
                                        train_data=(data.x_train, data.y_train))
        recipe.fit(model, data.x_train, data.y_train, validation_data=(data.x_val, data.y_val),
                   callbacks=[RichTrainingReport(batch_size=recipe.batch_size), monitor], verbose=0)
    accuracy = recipe.evaluate(model, data.x_test, data.y_test)
    print(f"test accuracy {accuracy:.4f} on {len(data.x_test)} held-out images over {replicas} replicas "
          f"({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
