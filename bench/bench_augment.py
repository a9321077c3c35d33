"""Augmentation: cost per batch of each preset, in the model and in tf.data; the gap on digits.

Cost: every preset (and Keras's own four layers of the tutorials, for comparison)
is timed per batch in two places, alternating the variants round by round in one
process and quoting medians:

- in the model: one ``train_on_batch`` of a small CNN with the augmentation as
  its first layer; the ratio is against the same CNN with preset ``"none"``;
- in tf.data: producing one batch from ``Dataset.batch(...).map(augment)``; the
  ratio is against the same pipeline without the map.

Gap: the same CNN trained on digits with and without augmentation, several seeds;
the gap is the validation loss minus the training loss, both measured with
``evaluate`` (augmentation and dropout off), and likewise for accuracy.

    python bench/bench_augment.py              # full run (several minutes on 2 cores)
    python bench/bench_augment.py --smoke      # seconds
    KERAS_BACKEND=jax python bench/bench_augment.py --no-gap
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # measure this checkout
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

KERAS_FOUR = "keras layers (tutorial)"


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="a tiny run (seconds) that checks the script works")
    parser.add_argument("--json", metavar="PATH", help="also write the rows as JSON to PATH")
    parser.add_argument("--size", type=int, default=32, help="image height and width (default 32)")
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=8, help="batches per timed round")
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds")
    parser.add_argument("--presets", help="comma-separated presets to time (default: all)")
    parser.add_argument("--no-gap", action="store_true", help="skip the training-gap measurement")
    parser.add_argument("--gap-epochs", type=int, default=40)
    parser.add_argument("--gap-seeds", type=int, default=3)
    args = parser.parse_args(argv)
    if args.smoke:
        args.size, args.batch_size, args.steps, args.repeats = 16, 8, 1, 1
        args.gap_epochs, args.gap_seeds = 1, 1
        args.presets = args.presets or "none,strong"
    return args


def command_line(argv) -> str:
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--json":
            skip = True
        elif not arg.startswith("--json="):
            kept.append(arg)
    prefix = f"KERAS_BACKEND={os.environ['KERAS_BACKEND']} " if os.environ.get("KERAS_BACKEND") else ""
    return prefix + shlex.join(["python", "bench/bench_augment.py", *kept])


def machine() -> str:
    import keras

    backend = keras.backend.backend()
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}[backend]
    version = getattr(sys.modules.get(module) or __import__(module), "__version__", "?")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = f", load {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    return (
        f"{cores} cores{load}, {backend} {version}, keras {keras.__version__}, "
        f"python {platform.python_version()}"
    )


def alternate(variants: dict, *, repeats: int, warmup: int = 1) -> dict[str, list[float]]:
    """Seconds per call of each variant, one sample per round; order reversed every other round."""
    names = list(variants)
    for _ in range(warmup):
        for name in names:
            variants[name]()
    samples = {name: [] for name in names}
    for r in range(repeats):
        for name in names if r % 2 == 0 else reversed(names):
            start = time.perf_counter()
            variants[name]()
            samples[name].append(time.perf_counter() - start)
    return samples


def ratio(samples, name, baseline) -> float:
    """Median of the per-round ratios (each round runs both under one machine load)."""
    return statistics.median(a / b for a, b in zip(samples[name], samples[baseline]))


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms"


# --- cost per batch -----------------------------------------------------------------


def _augmentations(presets, *, keras_four=True):
    import keras

    from keras_cnnlab.augment import augmentation_preset

    layers = {name: augmentation_preset(name, seed=0) for name in presets}
    if not keras_four:
        return layers
    # The tutorials' hand-made augmentation, with Keras's defaults.
    layers[KERAS_FOUR] = keras.layers.Pipeline([
        keras.layers.RandomFlip("horizontal", seed=1),
        keras.layers.RandomContrast(0.2, seed=2),
        keras.layers.RandomRotation(0.1, seed=3),
        keras.layers.RandomZoom(0.1, seed=4),
    ])
    return layers


def measure_cost(args) -> list[dict]:
    import keras
    import numpy as np
    import tensorflow as tf

    from keras_cnnlab import build_cnn, compile_for
    from keras_cnnlab.augment import PRESETS

    presets = args.presets.split(",") if args.presets else list(PRESETS)
    unknown = sorted(set(presets) - set(PRESETS))
    if unknown:
        raise SystemExit(f"Unknown preset(s) {unknown} in --presets; valid: {', '.join(PRESETS)}.")
    if "none" not in presets:
        presets.insert(0, "none")  # the baseline
    shape = (args.size, args.size, args.channels)
    rng = np.random.default_rng(0)
    x = rng.random((args.steps * args.batch_size, *shape), dtype="float32")
    y = rng.integers(0, 10, len(x))
    batches = [
        (x[i : i + args.batch_size], y[i : i + args.batch_size])
        for i in range(0, len(x), args.batch_size)
    ]

    rows = []
    # In the model: one train step per batch.
    models = {}
    for name, layer in _augmentations(presets, keras_four=not args.smoke).items():
        keras.utils.set_random_seed(0)
        model = build_cnn(shape, 10, filters=(16, 32), augmentation=layer, seed=0)
        compile_for(model, y)
        models[name] = model

    def train(model):
        def run():
            for xb, yb in batches:
                model.train_on_batch(xb, yb)

        return run

    samples = alternate({n: train(m) for n, m in models.items()}, repeats=args.repeats)
    per_batch = {n: statistics.median(s) / args.steps for n, s in samples.items()}
    base = per_batch["none"]
    for name in models:
        if name == "none":
            continue
        jit = models[name].jit_compile
        rows.append(dict(
            figure=f"Augment in model: {name}, train step ({args.size}x{args.size}x{args.channels}, batch {args.batch_size})",
            value=fmt_ms(per_batch[name]),
            baseline=f"none: {fmt_ms(base)}",
            ratio=ratio(samples, name, "none"),
            cost=fmt_ms(per_batch[name] - base),
            note=f"jit_compile={jit}",
        ))

    # In tf.data: one batch produced by .map(augment), on any backend. Iterators
    # persist across rounds: creating one costs far more than a batch.
    data = tf.data.Dataset.from_tensor_slices(x).batch(args.batch_size).cache().repeat()
    # No prefetch or parallelism added behind our back: time the map's own work.
    options = tf.data.Options()
    options.autotune.enabled = False
    options.experimental_optimization.inject_prefetch = False
    options.experimental_optimization.map_parallelization = False
    data = data.with_options(options)
    pipelines = {"no map": data}
    for name, layer in _augmentations(presets, keras_four=not args.smoke).items():
        if name != "none":
            pipelines[name] = data.map(layer)

    def iterate(ds):
        iterator = iter(ds)

        def run():
            for _ in range(args.steps):
                next(iterator)

        return run

    samples = alternate({n: iterate(d) for n, d in pipelines.items()}, repeats=args.repeats)
    per_batch = {n: statistics.median(s) / args.steps for n, s in samples.items()}
    for name in pipelines:
        if name == "no map":
            continue
        rows.append(dict(
            figure=f"Augment in tf.data: {name}, one batch ({args.size}x{args.size}x{args.channels}, batch {args.batch_size})",
            value=fmt_ms(per_batch[name]),
            baseline=f"no map: {fmt_ms(per_batch['no map'])}",
            ratio=ratio(samples, name, "no map"),
            cost=fmt_ms(per_batch[name] - per_batch["no map"]),
            note="sequential map, no prefetch: the CPU work per batch",
        ))
    return rows


# --- train/validation gap on digits -------------------------------------------------


def _loss_accuracy(probs, labels):
    import numpy as np

    picked = np.clip(probs[np.arange(len(labels)), labels], 1e-7, 1.0)
    return float(-np.log(picked).mean()), float((probs.argmax(axis=1) == labels).mean())


def measure_gap(*, epochs: int, seeds: int, limit=None, presets=("none", "digits", "standard")) -> dict:
    """Mean over seeds of (val - train) loss and (train - val) accuracy, per preset.

    Both splits are scored with ``predict`` (augmentation and dropout off), so
    the training figures are not biased by the augmentation itself.
    """
    import keras
    import numpy as np

    from keras_cnnlab import build_cnn, compile_for, load_dataset
    from keras_cnnlab.augment import augmentation_preset

    data = load_dataset("digits", validation_split=0.3, limit=limit)
    out = {}
    for preset in presets:
        runs = []
        for seed in range(seeds):
            keras.utils.set_random_seed(seed)
            model = build_cnn(
                data.input_shape, data.num_classes, filters=(16, 32), dropout=0.0,
                head_dropout=0.0, head_units=(64,), seed=seed,
                augmentation=augmentation_preset(preset, seed=seed),
            )
            compile_for(model, data.y_train)
            model.fit(data.x_train, data.y_train, epochs=epochs, batch_size=32, verbose=0)
            # One predict (augmentation and dropout off) for both splits.
            probs = model.predict(np.concatenate([data.x_train, data.x_val]), verbose=0)
            n = len(data.x_train)
            train_loss, train_acc = _loss_accuracy(probs[:n], data.y_train)
            val_loss, val_acc = _loss_accuracy(probs[n:], data.y_val)
            runs.append((val_loss - train_loss, train_acc - val_acc, val_acc, train_loss))
        out[preset] = {
            "loss_gap": statistics.mean(r[0] for r in runs),
            "accuracy_gap": statistics.mean(r[1] for r in runs),
            "val_accuracy": statistics.mean(r[2] for r in runs),
            "train_loss": statistics.mean(r[3] for r in runs),
            "runs": runs,
        }
    return out


def gap_rows(gaps: dict, *, epochs: int, seeds: int) -> list[dict]:
    rows = []
    base = gaps["none"]
    for preset, g in gaps.items():
        if preset == "none":
            continue
        rows.append(dict(
            figure=f"Gap on digits with {preset!r}: val - train loss (augmentation off), {epochs} epochs, mean of {seeds} seeds",
            value=f"{g['loss_gap']:.3f} (accuracy gap {g['accuracy_gap']:.3f}, val accuracy {g['val_accuracy']:.3f})",
            baseline=(
                f"none: {base['loss_gap']:.3f} (accuracy gap {base['accuracy_gap']:.3f}, "
                f"val accuracy {base['val_accuracy']:.3f})"
            ),
            ratio=g["loss_gap"] / base["loss_gap"] if base["loss_gap"] else None,
            target="< 1",
            met=g["loss_gap"] < base["loss_gap"],
        ))
    return rows


# --- main -------------------------------------------------------------------------


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    command = command_line(argv)
    rows = measure_cost(args)
    if not args.no_gap:
        gaps = measure_gap(
            epochs=args.gap_epochs,
            seeds=args.gap_seeds,
            limit=200 if args.smoke else None,
            presets=("none", "digits") if args.smoke else ("none", "digits", "standard"),
        )
        rows += gap_rows(gaps, epochs=args.gap_epochs, seeds=args.gap_seeds)
    where = machine()
    full = []
    for row in rows:
        row.setdefault("baseline", None)
        row.setdefault("ratio", None)
        row.setdefault("target", None)
        row.setdefault("met", None)
        row.update(command=command, machine=where)
        full.append(row)

    print("| figure | value | compared with | ratio | extra cost per batch |")
    print("|---|---|---|---|---|")
    for row in full:
        ratio_text = "-" if row["ratio"] is None else f"{row['ratio']:.2f}"
        print(f"| {row['figure']} | {row['value']} | {row['baseline'] or '-'} | {ratio_text} | {row.get('cost', '-')} |")
    print(f"\nmachine: {where}")
    print(f"command: {command}")
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(full, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
