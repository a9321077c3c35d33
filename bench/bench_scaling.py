"""Training step time and images/s at one global batch: one device against two, per backend.

Four variants, each in its own worker process (a backend, its devices and its
strategy are fixed when it starts), all training the same network on the same
images at the same global batch, always on the CPU (any GPU is hidden):

- ``tf-one``: TensorFlow, one CPU device, no strategy;
- ``tf-mirrored``: TensorFlow, the CPU split into two logical devices,
  ``tf.distribute.MirroredStrategy`` over both;
- ``jax-one``: JAX, one CPU device;
- ``jax-dp``: JAX with ``XLA_FLAGS=--xla_force_host_platform_device_count=2``,
  ``keras.distribution.DataParallel`` over both;
- ``tf-mwms``: TensorFlow, ``tf.distribute.MultiWorkerMirroredStrategy`` over two
  worker processes on 127.0.0.1 (one CPU device each; the benchmark talks to
  worker 0, which starts worker 1 and asks it for the same epochs), with
  :func:`keras_cnnlab.distribute.patch_multi_worker_fit`;
- ``jax-procs``: JAX over two processes (``jax.distributed`` through
  ``keras.distribution.initialize``), one CPU device each, ``DataParallel`` over
  both, fed a ``tf.data`` dataset of global batches that Keras shards (started
  the same way).

Each worker builds build_cnn's default network for the digits (8x8x1), trains
one untimed epoch (tracing, compilation), then waits; this process asks the
workers for one epoch at a time, alternating variants round by round. Each
epoch is timed inside ``fit`` from the end of its first step, which also sets
up the (distributed) data pipeline, to the end of the epoch. Quoted: the median
time per step, images/s at that rate, and each two-device variant's step-time
ratio to one device of its backend (the median of the per-round ratios).

On a CPU the two "devices" share the same cores, so these figures show the
cost of splitting the batch (a copy, an all-reduce), not a speed-up: a ratio
above 1 is expected. bench/gpu/bench_gpu.py measures the speed-up on a
machine with several GPUs.

    python bench/bench_scaling.py            # about two minutes on 2 cores
    python bench/bench_scaling.py --quick    # a minute; checks the script (same as --smoke)
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import _common

VARIANTS = {
    "tf-one": ("tensorflow", 1, "TensorFlow, one device"),
    "tf-mirrored": ("tensorflow", 2, "TensorFlow, MirroredStrategy over 2 logical CPU devices"),
    "jax-one": ("jax", 1, "JAX, one device"),
    "jax-dp": ("jax", 2, "JAX, keras.distribution.DataParallel over 2 CPU devices"),
    "tf-mwms": ("tensorflow", 2, "TensorFlow, MultiWorkerMirroredStrategy over 2 worker processes"),
    "jax-procs": ("jax", 2, "JAX, DataParallel over 2 processes (jax.distributed)"),
}
BASELINE = {"tf-mirrored": "tf-one", "jax-dp": "jax-one", "tf-mwms": "tf-one", "jax-procs": "jax-one"}
TWO_PROCESSES = ("tf-mwms", "jax-procs")


def _distribute(variant: str, args):
    """Set the devices up (before the backend starts); the scope to build in and the replicas."""
    import contextlib

    backend, devices, _ = VARIANTS[variant]
    if variant == "jax-procs":
        import keras

        keras.distribution.initialize(args.cluster.split(",")[0], num_processes=2, process_id=args.task)
        keras.distribution.set_distribution(keras.distribution.DataParallel())
        return contextlib.nullcontext(), keras.distribution.distribution().device_mesh.shape[0]
    if variant == "tf-mwms":
        import tensorflow as tf

        from keras_cnnlab.distribute import patch_multi_worker_fit

        strategy = tf.distribute.MultiWorkerMirroredStrategy()  # from TF_CONFIG
        patch_multi_worker_fit()
        return strategy.scope(), strategy.num_replicas_in_sync
    if backend == "tensorflow" and devices > 1:
        import tensorflow as tf

        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * devices)
        return tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(devices)]).scope(), devices
    if backend == "jax" and devices > 1:
        import jax
        import keras

        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=jax.devices()[:devices]))
        return contextlib.nullcontext(), len(jax.devices()[:devices])
    return contextlib.nullcontext(), 1


def step_timer_class():
    import keras

    class StepTimer(keras.callbacks.Callback):
        """Seconds per step after the first, which also sets the data pipeline up.

        ``seconds`` is that time scaled to a whole epoch, so that epochs compare as
        ``alternate`` expects.
        """

        def on_epoch_begin(self, epoch, logs=None):
            self.first = None
            self.steps = 0

        def on_train_batch_end(self, batch, logs=None):
            self.steps += 1
            if self.first is None:
                self.first = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds = (time.perf_counter() - self.first) / max(self.steps - 1, 1) * self.steps

    return StepTimer


def worker(args) -> int:
    """Serve ``epoch`` requests on stdin with one training epoch; reply with its seconds."""
    peer = _join(args)
    scope, replicas = _distribute(args.variant, args)
    import keras
    import numpy as np

    from keras_cnnlab import build_cnn, compile_for, load_dataset

    StepTimer = step_timer_class()
    data = load_dataset("digits", seed=0, limit=256 if args.smoke else None)
    x = np.concatenate([data.x_train] * args.tile)
    y = np.concatenate([data.y_train] * args.tile)
    n = len(x) // args.batch_size * args.batch_size  # equal steps: every batch splits alike
    x, y = x[:n], y[:n]
    keras.utils.set_random_seed(0)
    with scope:
        model = build_cnn(data.input_shape, data.num_classes, seed=0, **(dict(filters=(8, 16)) if args.smoke else {}))
        compile_for(model, y)
    timer = StepTimer()
    if args.variant == "jax-procs":  # Keras shards only a dataset over the processes
        import tensorflow as tf

        inputs = {"x": tf.data.Dataset.from_tensor_slices((x, y)).batch(args.batch_size)}
    else:
        inputs = {"x": x, "y": y, "batch_size": args.batch_size}

    def epoch():
        if peer is not None:
            peer.ask()
        model.fit(**inputs, epochs=1, verbose=0, callbacks=[timer])
        if peer is not None:
            peer.answer()
        return timer.seconds

    # untimed, tracing included (worker 1 runs its own beside this one, then says READY)
    model.fit(**inputs, epochs=1, verbose=0, callbacks=[timer])
    if peer is not None and not peer.ready():
        raise RuntimeError(f"worker 1 failed: {peer.error}")
    info = _common.machine_info(keras.backend.backend())
    try:
        return _common.serve_epochs(epoch, {"images": n, "steps": n // args.batch_size, "replicas": replicas,
                                            "version": info["backend_version"]})
    finally:
        if peer is not None:
            peer.close()


def _join(args):
    """For a variant of two processes: this one's place in the cluster, and in worker 0 worker 1."""
    if args.variant not in TWO_PROCESSES:
        return None
    if args.variant == "tf-mwms":
        import json

        os.environ["TF_CONFIG"] = json.dumps({"cluster": {"worker": args.cluster.split(",")},
                                              "task": {"type": "worker", "index": args.task}})
    if args.task != 0:
        return None
    # worker 1 trains each epoch beside this one
    return _common.EpochWorker(f"{args.variant} worker 1", _command(args.variant, args, task=1, cluster=args.cluster),
                               dict(os.environ))


def start_worker(variant, args) -> _common.EpochWorker:
    """A worker process for ``variant``, with its backend and (JAX) its simulated devices."""
    backend, devices, _ = VARIANTS[variant]
    env = dict(os.environ, KERAS_BACKEND=backend, CUDA_VISIBLE_DEVICES="-1", JAX_PLATFORMS="cpu")
    flags = [env.get("XLA_FLAGS")]
    if variant == "jax-dp":  # jax-procs: one device per process
        flags.append(f"--xla_force_host_platform_device_count={devices}")
    if backend == "jax" and args.smoke:  # compiles ten times faster; the figures mean nothing then
        flags.append("--xla_backend_optimization_level=0")
    if any(flags):
        env["XLA_FLAGS"] = " ".join(f for f in flags if f)
    cluster = None
    if variant in TWO_PROCESSES:
        cluster = ",".join(f"127.0.0.1:{port}" for port in _common.free_ports(2))
        env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    return _common.EpochWorker(variant, _command(variant, args, cluster=cluster), env)


def _command(variant, args, task=0, cluster=None) -> list[str]:
    command = [sys.executable, __file__, "--worker", "--variant", variant, "--tile", str(args.tile),
               "--batch-size", str(args.batch_size), "--task", str(task)]
    if cluster:
        command += ["--cluster", cluster]
    if args.smoke:
        command.append("--smoke")
    return command


def _rows(variants, workers, timings, args) -> list[dict]:
    rows = []
    for variant in variants:
        backend, devices, words = VARIANTS[variant]
        figure = f"Scaling: training step, global batch {args.batch_size}, {words}"
        w = workers.get(variant)
        if w is None:
            rows.append(_common.make_row(figure, "not available"))
            continue
        steps, images = w.info["steps"], w.info["images"]
        epoch = timings.median(variant)
        value = (f"{_common.fmt_seconds(epoch / steps)} per step (+/-{timings.spread(variant):.0%}), "
                 f"{images / epoch:,.0f} images/s ({backend} {w.info['version']}, {w.info['replicas']} replica"
                 f"{'s' if w.info['replicas'] != 1 else ''})")
        base = BASELINE.get(variant)
        if base in workers and workers[base] is not None:
            other = workers[base]
            rows.append(_common.make_row(
                figure, value, ratio=timings.ratio(variant, base),
                baseline=f"{VARIANTS[base][2]}: {_common.fmt_seconds(timings.median(base) / other.info['steps'])} "
                         f"per step; same cores, so not a speed-up",
            ))
        else:
            rows.append(_common.make_row(
                figure, value,
                baseline=f"build_cnn default, digits 8x8x1, {images} images/epoch in {steps} steps, "
                         f"{timings.rounds} epochs each, alternating",
            ))
    return rows


def main(argv=None) -> int:
    parser = _common.make_parser(__doc__.splitlines()[0])
    parser.add_argument("--quick", dest="smoke", action="store_true", help="the same as --smoke")
    parser.add_argument("--repeats", type=int, default=None, help="timed epochs per variant (default 7; smoke 2)")
    parser.add_argument("--max-seconds", type=float, default=240.0,
                        help="start no new round after this many seconds of timing, once 3 rounds ran")
    parser.add_argument("--batch-size", type=int, default=64, help="the global batch (default 64)")
    parser.add_argument("--tile", type=int, default=None, help="repeat the training images per epoch (default 2)")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of {', '.join(VARIANTS)}")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--variant", choices=list(VARIANTS), help=argparse.SUPPRESS)
    parser.add_argument("--task", type=int, default=0, help=argparse.SUPPRESS)  # two processes: the worker index
    parser.add_argument("--cluster", default=None, help=argparse.SUPPRESS)  # two processes: their addresses
    args = parser.parse_args(argv)
    args.tile = args.tile or (1 if args.smoke else 2)
    if args.worker:
        return worker(args)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variants {unknown}; choose among {list(VARIANTS)}")
    repeats = args.repeats or (2 if args.smoke else 7)

    # Started one after the other: imports and first epochs are not timed, but on 2 cores
    # they would slow each other down.
    workers = {}
    for variant in variants:
        w = start_worker(variant, args)
        workers[variant] = w if w.ready() else None
        print(f"{variant}: " + (f"ready ({w.info})" if workers[variant] else f"not available ({w.error})"),
              file=sys.stderr, flush=True)
    running = {v: w for v, w in workers.items() if w is not None}
    try:
        timings = _common.alternate({v: w.epoch for v, w in running.items()}, repeats=repeats, warmup=0,
                                    max_seconds=args.max_seconds)
    finally:
        for w in running.values():
            w.close()
    _common.emit(_rows(variants, workers, timings, args), args,
                 title=f"Scaling: one device against two, global batch {args.batch_size}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
