"""Epoch time of the same small CNN on TensorFlow, JAX and PyTorch.

One worker process per backend (a backend is chosen when keras is imported,
so each needs its own process) builds build_cnn's default network on the
digits dataset, compiles it and trains one untimed epoch (tracing and
compilation). The workers then wait; this process asks them for one epoch at a
time, alternating backends round by round, so machine load hits all of them
alike. Quoted: the median epoch time of each backend and its ratio to
TensorFlow's. Each backend runs with Keras's default ``jit_compile="auto"``
(on a CPU: XLA off for TensorFlow, jit on for JAX, eager for PyTorch); the
value says which was used.

    python bench/bench_backends.py            # about a minute on 2 cores
    python bench/bench_backends.py --smoke    # seconds
"""

from __future__ import annotations

import argparse
import os
import sys

import _common

BACKENDS = ("tensorflow", "jax", "torch")


def worker(args) -> int:
    """Serve ``epoch`` requests on stdin with one training epoch; reply with its seconds."""
    import keras
    import numpy as np

    from keras_cnnlab import build_cnn, compile_for, load_dataset

    data = load_dataset("digits", seed=0, limit=128 if args.smoke else None)
    x = np.concatenate([data.x_train] * args.tile)
    y = np.concatenate([data.y_train] * args.tile)
    keras.utils.set_random_seed(0)
    model = build_cnn(data.input_shape, data.num_classes, seed=0, **(dict(filters=(8, 16)) if args.smoke else {}))
    compile_for(model, y)
    timer = _common.EpochTimer()

    def epoch():
        model.fit(x, y, batch_size=args.batch_size, epochs=1, verbose=0, callbacks=[timer.callback])
        return timer.seconds

    epoch()
    info = _common.machine_info(keras.backend.backend())
    ready = {"images": len(x), "version": info["backend_version"], "jit": bool(model.jit_compile)}
    if keras.backend.backend() == "torch":
        import torch

        # PyTorch's CPU thread pool suffers most when other processes share the cores.
        ready["threads"] = torch.get_num_threads()
    return _common.serve_epochs(epoch, ready)


def start_worker(backend, args) -> _common.EpochWorker:
    """A worker process training on ``backend``."""
    command = [sys.executable, __file__, "--worker", "--tile", str(args.tile), "--batch-size", str(args.batch_size)]
    if args.smoke:
        command.append("--smoke")
    return _common.EpochWorker(backend, command, dict(os.environ, KERAS_BACKEND=backend))


def main(argv=None) -> int:
    parser = _common.make_parser(__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=None, help="timed epochs per backend (default 7; smoke 2)")
    parser.add_argument(
        "--max-seconds", type=float, default=240.0,
        help="start no new round after this many seconds of timing, once 3 rounds ran (default 240)",
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--tile", type=int, default=None, help="repeat the training images per epoch (default 1)")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated (default all three)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.tile = args.tile or 1
    if args.worker:
        return worker(args)
    repeats = args.repeats or (2 if args.smoke else 7)
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]

    # Started one after the other: their imports and first epochs are not timed,
    # but on 2 cores they would slow each other down.
    workers = {}
    for backend in backends:
        w = start_worker(backend, args)
        if w.ready():
            workers[backend] = w
            print(f"{backend}: ready ({w.info['images']} images/epoch, jit_compile={w.info['jit']})", flush=True)
        else:
            print(f"{backend}: not available ({w.error})", file=sys.stderr)
            workers[backend] = None
    running = {b: w for b, w in workers.items() if w is not None}
    try:
        def timed(backend, w):
            def epoch():
                seconds = w.epoch()
                print(f"{backend}: epoch {seconds:.2f} s", flush=True)
                return seconds
            return epoch

        timings = _common.alternate(
            {b: timed(b, w) for b, w in running.items()},
            repeats=repeats, warmup=0, max_seconds=args.max_seconds,
        )
    finally:
        for w in running.values():
            w.close()

    reference = "tensorflow" if "tensorflow" in running else next(iter(running), None)
    rows = []
    for backend in backends:
        w = workers[backend]
        figure = f"Backends: training time per epoch on {backend}"
        if w is None:
            rows.append(_common.make_row(figure, "not available"))
            continue
        images = w.info["images"]
        median = timings.median(backend)
        value = (
            f"{_common.fmt_seconds(median)} (+/-{timings.spread(backend):.0%}), "
            f"{images / median:,.0f} images/s ({backend} {w.info['version']}, jit_compile={w.info['jit']}"
            + (f", {w.info['threads']} threads)" if "threads" in w.info else ")")
        )
        if backend == reference:
            rows.append(_common.make_row(
                figure, value,
                baseline=f"build_cnn default, digits 8x8x1, {images} images/epoch, batch {args.batch_size}, "
                f"{timings.rounds} epochs each, alternating",
            ))
        else:
            rows.append(_common.make_row(
                figure, value,
                baseline=f"{reference}: {_common.fmt_seconds(timings.median(reference))}",
                ratio=timings.ratio(backend, reference),
            ))
    _common.emit(rows, args, title="Backends: epoch time of the same CNN")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
