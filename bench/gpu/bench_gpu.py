"""GPU training throughput of tutorial D's network at CIFAR-10 size, and callback overhead.

The network is ``build_architecture("vgg_bn", (32, 32, 3), 10)`` ([conv-BN] x2,
max pool and dropout at 32, 64 and 128 filters; Dense 128), trained on
synthetic data of CIFAR-10's shape (random images and labels: throughput does
not depend on the values). Two variants alternate epoch by epoch:

- ``fit(verbose=0)``;
- ``fit`` with keras_cnnlab's RichTrainingReport, ShapeTraceCallback and
  OverfittingGapMonitor attached (those available), their output going to a
  log file, as in a batch job.

Quoted: training images per second (the training phase of the verbose=0
epochs, validation excluded) and the callbacks' epoch-time ratio.

With two GPUs or more it also measures data-parallel scaling: the same network
on all of them (``tf.distribute.MirroredStrategy`` under TensorFlow,
``keras.distribution.DataParallel`` under JAX) at a global batch of
``batch_size`` per GPU, against one GPU at ``batch_size``, epochs alternating;
quoted: the speed-up in training images/s and its share of linear. With fewer
GPUs (or ``--cpu``, or PyTorch) one line says it was skipped.

Without a GPU the script says so and exits; ``--cpu`` runs it on the CPU
(hiding any GPU), with a smaller default data set.

    python bench/gpu/bench_gpu.py                 # on a GPU machine
    python bench/gpu/bench_gpu.py --cpu           # on the CPU, about a minute on 2 cores
    python bench/gpu/bench_gpu.py --cpu --smoke   # seconds
    CUDA_VISIBLE_DEVICES=0,1 python bench/gpu/bench_gpu.py                     # + scaling over 2 GPUs
    KERAS_BACKEND=jax CUDA_VISIBLE_DEVICES=0,1 python bench/gpu/bench_gpu.py   # DataParallel
"""

from __future__ import annotations

import contextlib
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import _common  # noqa: E402

OVERHEAD_TARGET = 1.03
CALLBACK_NAMES = ("RichTrainingReport", "ShapeTraceCallback", "OverfittingGapMonitor")


def library_callbacks():
    """Instances of keras_cnnlab's callbacks that exist, and the names of those missing."""
    import keras_cnnlab

    found, missing = [], []
    for name in CALLBACK_NAMES:
        try:
            found.append(getattr(keras_cnnlab, name)())
        except (ImportError, AttributeError, TypeError):
            missing.append(name)
    return found, missing


class PhaseTimer:
    """Epoch seconds and training-phase seconds (until validation starts), from inside fit."""

    def __init__(self):
        import keras

        timer = self

        class _PhaseTimerCallback(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                timer.start = timer.train_end = time.perf_counter()
                timer.in_epoch = True

            def on_test_begin(self, logs=None):
                if timer.in_epoch:
                    timer.train_end = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                end = time.perf_counter()
                timer.epoch = end - timer.start
                timer.train = (timer.train_end if timer.train_end > timer.start else end) - timer.start
                timer.in_epoch = False

        self.callback = _PhaseTimerCallback()
        self.start = self.train_end = self.epoch = self.train = 0.0
        self.in_epoch = False


def accelerators(backend: str) -> list:
    """The GPUs the backend trains on: TensorFlow's logical device names, or JAX devices."""
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            return [device.name for device in tf.config.list_logical_devices("GPU")]
        if backend == "jax":
            import jax

            return [device for device in jax.devices() if device.platform == "gpu"]
    except Exception:  # a broken driver must not stop the single-GPU figures
        return []
    return []


def scaling_rows(devices, x, y, *, batch: int, repeats: int, label: str = "GPU") -> list[dict]:
    """Rows for the speed-up of data parallelism over ``devices`` against one of them.

    ``devices``: TensorFlow device names or JAX devices, two or more. The one-device
    model trains at ``batch``; the data-parallel one at ``batch`` per device.
    """
    import contextlib

    import keras

    from keras_cnnlab import build_architecture, compile_for

    backend, n = keras.backend.backend(), len(devices)
    if backend == "tensorflow":
        import tensorflow as tf

        scope, how = tf.distribute.MirroredStrategy(devices).scope, f"MirroredStrategy over {n} {label}s"
    else:
        scope, how = keras.distribution.DataParallel(devices=devices).scope, f"DataParallel over {n} {label}s"
    images = len(x) // (batch * n) * (batch * n)  # JAX needs every batch to split over the devices
    x, y = x[:images], y[:images]
    keras.utils.set_random_seed(0)
    models = {"one": compile_for(build_architecture("vgg_bn", (32, 32, 3), 10, seed=0), y)}
    with scope():
        models["many"] = compile_for(build_architecture("vgg_bn", (32, 32, 3), 10, seed=0), y)
    timers = {name: PhaseTimer() for name in models}

    def epoch(name, batch_size, context):
        def run():
            with context():
                models[name].fit(x, y, batch_size=batch_size, epochs=1, verbose=0, callbacks=[timers[name].callback])
            return timers[name].train
        return run

    timings = _common.alternate(
        {"one": epoch("one", batch, contextlib.nullcontext), "many": epoch("many", batch * n, scope)},
        repeats=repeats, warmup=1,
    )
    speedup = 1.0 / timings.ratio("many", "one")
    rate = {name: images / timings.median(name) for name in models}
    return [_common.make_row(
        f"GPU script: data-parallel speed-up, {how} against one, vgg_bn at 32x32x3",
        f"{speedup:.2f}x, {speedup / n:.0%} of linear ({rate['many']:,.0f} images/s at global batch {batch * n})",
        baseline=f"one {label}: {rate['one']:,.0f} images/s at batch {batch}; {images} images/epoch, "
                 f"{timings.rounds} epochs each, alternating",
        ratio=speedup,
    )]


def maybe_scaling_rows(args, info, x, y, *, batch: int, repeats: int) -> list[dict]:
    """:func:`scaling_rows` on every GPU, or one line saying why not."""
    devices = [] if args.cpu else accelerators(info["backend"])
    if info["backend"] not in ("tensorflow", "jax") or len(devices) < 2:
        print(f"multi-GPU scaling: skipped ({len(devices)} GPU{'s' if len(devices) != 1 else ''} "
              f"visible to {info['backend']}; needs 2 or more, under TensorFlow or JAX)")
        return []
    return scaling_rows(devices, x, y, batch=batch, repeats=repeats)


def main(argv=None) -> int:
    parser = _common.make_parser(__doc__.splitlines()[0])
    parser.add_argument("--cpu", action="store_true", help="run on the CPU, hiding any GPU")
    parser.add_argument("--images", type=int, default=None,
                        help="training images per epoch (default 20000 on GPU, 256 on CPU, 64 smoke)")
    parser.add_argument("--batch-size", type=int, default=None, help="default 128 on GPU, 32 on CPU")
    parser.add_argument("--repeats", type=int, default=None, help="timed epochs per variant (default 5 on GPU, 3 on CPU; smoke 1)")
    parser.add_argument("--mixed-precision", action="store_true", help="mixed_float16 compute")
    args = parser.parse_args(argv)
    if args.cpu:
        # Before any backend import, or the GPU is already claimed.
        os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
        os.environ["JAX_PLATFORMS"] = "cpu"

    import keras
    import numpy as np

    from keras_cnnlab import build_architecture, compile_for

    gpu = None if args.cpu else _common.gpu_name()
    info = _common.machine_info(gpu=gpu)
    if not args.cpu and gpu is None:
        rows = [_common.make_row(
            "GPU: training throughput, vgg_bn at 32x32x3",
            f"not measured: no GPU visible to {info['backend']} (run with --cpu for a CPU figure)",
        )]
        _common.emit(rows, args, title="GPU throughput", info=info)
        return 0

    on_gpu = gpu is not None
    images = args.images or (64 if args.smoke else 20000 if on_gpu else 256)
    batch = args.batch_size or (128 if on_gpu else 32)
    repeats = args.repeats or (1 if args.smoke else 5 if on_gpu else 3)
    if args.mixed_precision:
        keras.mixed_precision.set_global_policy("mixed_float16")

    rng = np.random.default_rng(0)
    x = rng.random((images, 32, 32, 3), dtype=np.float32)
    y = rng.integers(0, 10, images)
    val = max(batch, images // 10)
    x_val = rng.random((val, 32, 32, 3), dtype=np.float32)
    y_val = rng.integers(0, 10, val)

    keras.utils.set_random_seed(0)
    models, timers = {}, {}
    for name in ("verbose=0", "callbacks"):
        models[name] = compile_for(build_architecture("vgg_bn", (32, 32, 3), 10, seed=0), y)
        timers[name] = PhaseTimer()
    extra, missing = library_callbacks()
    log = Path(tempfile.mkdtemp(prefix="bench_gpu_")) / "fit.log"

    def run(name, callbacks):
        def epoch():
            sink = open(log, "a", encoding="utf-8") if callbacks else io.StringIO()
            with sink, contextlib.redirect_stdout(sink):
                models[name].fit(
                    x, y, batch_size=batch, epochs=1, verbose=0,
                    validation_data=(x_val, y_val),
                    callbacks=[timers[name].callback, *callbacks],
                )
            return timers[name].epoch
        return epoch

    variants = {"verbose=0": run("verbose=0", []), "callbacks": run("callbacks", extra)}
    throughput_samples = []

    def plain_epoch():
        seconds = variants["verbose=0"]()
        throughput_samples.append(images / timers["verbose=0"].train)
        return seconds

    timings = _common.alternate(
        {"verbose=0": plain_epoch, "callbacks": variants["callbacks"]}, repeats=repeats, warmup=1
    )
    throughput = statistics.median(throughput_samples[-repeats:])  # the warm-up epoch left out
    device = gpu or f"CPU ({info['cores']} cores)"
    precision = "mixed_float16" if args.mixed_precision else "float32"
    setting = (
        f"{info['backend']}, {device}, {precision}, {images} synthetic 32x32x3 images/epoch, "
        f"batch {batch}, {repeats} epochs each, alternating"
    )
    rows = [
        _common.make_row(
            f"GPU script: training throughput, vgg_bn (tutorial D) at 32x32x3 on {device}",
            f"{throughput:,.0f} images/s",
            baseline=setting,
        ),
    ]
    if extra:
        ratio = timings.ratio("callbacks", "verbose=0")
        rows.append(_common.make_row(
            f"GPU script: epoch time with {' + '.join(type(c).__name__ for c in extra)} on {device}",
            f"{_common.fmt_seconds(timings.median('callbacks'))}",
            baseline=f"fit(verbose=0): {_common.fmt_seconds(timings.median('verbose=0'))}; {setting}",
            ratio=ratio,
            target=f"<= {OVERHEAD_TARGET}",
            met=ratio <= OVERHEAD_TARGET,
            note=f"missing: {', '.join(missing)}" if missing else None,
        ))
    else:
        rows.append(_common.make_row(
            f"GPU script: callback overhead on {device}",
            f"not available ({', '.join(missing)} not in keras_cnnlab)",
        ))
    rows += maybe_scaling_rows(args, info, x, y, batch=batch, repeats=repeats)
    _common.emit(rows, args, title="GPU throughput and callback overhead", info=info)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
