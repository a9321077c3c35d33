"""What the training report and the gap monitor cost: fit time against verbose=0.

A small fast CNN on the digits (8x8, batch 32), where per-batch overhead shows
most. Variants, each a full ``fit`` with validation, alternated round by round
(A B C ..., then ... C B A) so that machine noise hits them alike; figures are
medians, and a ratio is the median of the per-round ratios to ``verbose=0``,
for wall time and for the process's CPU time (steadier on a shared machine);
the ratio of the fastest runs (least disturbed by other processes) is given too:

* ``verbose=0``: no output, the baseline, and the same again: the ratio of
  two identical variants is the noise floor of the run;
* three ``keras.callbacks.Callback()`` that do nothing, with ``verbose=0``: what
  Keras's dispatch alone costs for as many callbacks as ours;
* Keras's progress bar (``verbose=1``) written to a file, and to a pseudo-terminal;
* RichTrainingReport + OverfittingGapMonitor (+ ShapeTraceCallback when the
  package has it), ``fit`` left at its default ``verbose``, to a file (plain
  lines) and to a pseudo-terminal (live display);
* tqdm's ``TqdmCallback`` with ``verbose=0``, to a file and to a pseudo-terminal.

The pseudo-terminal is drained by a ``cat`` process, as a terminal emulator
would, so that reading it costs the training process nothing.

Targets: our callbacks at <= 1.03x ``verbose=0``, and no slower than Keras's
bar on the same output: their paired ratio at most 1 + the standard error of
such a median, estimated from the two identical ``verbose=0`` variants.

A last fit with our callbacks times their hooks from the inside (and rich's
redraws on the refresh thread): the share of the fit spent in our code. On a
busy machine that figure holds where wall-clock ratios drown in noise.

    python bench/bench_callbacks.py            # 3 epochs per fit, 40 rounds
    python bench/bench_callbacks.py --smoke    # a tiny run that checks the script works
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # measure this checkout
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
from rich.console import Console  # noqa: E402

from keras_cnnlab import OverfittingGapMonitor, RichTrainingReport  # noqa: E402
from keras_cnnlab.data import load_dataset  # noqa: E402

TARGET = 1.03
NO_OPS = "3 no-op keras.callbacks.Callback(), verbose=0"
NOISE = "verbose=0 again (noise floor)"


def shape_trace_callback(console):
    """A ShapeTraceCallback writing to ``console``, or None where the package lacks it."""
    try:
        from keras_cnnlab.callbacks.shape_trace import ShapeTraceCallback
    except ImportError:
        return None
    try:
        return ShapeTraceCallback(console=console)
    except TypeError:
        return ShapeTraceCallback()


class Sinks:
    """A log file and a pseudo-terminal drained by ``cat``, open for the whole run."""

    def __init__(self, directory):
        self.file = open(Path(directory) / "fit.log", "w", encoding="utf-8")  # noqa: SIM115
        self._master, slave = os.openpty()
        self.pty = os.fdopen(slave, "w", encoding="utf-8", buffering=1)
        self._cat = subprocess.Popen(
            ["cat"], stdin=self._master, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def close(self):
        self.file.close()
        self.pty.close()
        self._cat.wait(timeout=10)
        os.close(self._master)


def make_variants(model, data, sinks, *, epochs, batch_size):
    x, y, val = data
    tqdm_keras = _tqdm_keras()

    def fit(callbacks=(), verbose="auto"):
        model.fit(x, y, validation_data=val, epochs=epochs, batch_size=batch_size,
                  callbacks=list(callbacks), verbose=verbose)

    def keras_bar(sink):
        def run():
            with contextlib.redirect_stdout(sink):
                fit(verbose=1)
        return run

    trace_present = shape_trace_callback(Console(file=open(os.devnull, "w"))) is not None  # noqa: SIM115
    ours = "RichTrainingReport + OverfittingGapMonitor" + (" + ShapeTraceCallback" if trace_present else "")

    def report(sink):
        console = Console(file=sink, width=120)
        callbacks = [RichTrainingReport(console), OverfittingGapMonitor(console=console)]
        trace = shape_trace_callback(console)
        if trace is not None:
            callbacks.insert(0, trace)
        return lambda: fit(callbacks)

    def tqdm(sink):
        return lambda: fit([tqdm_keras.TqdmCallback(verbose=1, file=sink)], verbose=0)

    no_ops = [keras.callbacks.Callback() for _ in range(3)]
    variants = {
        "verbose=0": lambda: fit(verbose=0),
        # the same again: how far two identical variants drift apart in this run
        NOISE: lambda: fit(verbose=0),
        # what Keras's dispatch costs for as many callbacks that do nothing
        NO_OPS: lambda: fit(no_ops, verbose=0),
        "Keras progress bar, to a file": keras_bar(sinks.file),
        "Keras progress bar, to a terminal": keras_bar(sinks.pty),
        f"{ours}, to a file": report(sinks.file),
        f"{ours}, to a terminal": report(sinks.pty),
    }
    if tqdm_keras is not None:
        variants["tqdm TqdmCallback, to a file"] = tqdm(sinks.file)
        variants["tqdm TqdmCallback, to a terminal"] = tqdm(sinks.pty)
    return variants, ours


def _tqdm_keras():
    try:
        import tqdm.keras
    except ImportError:
        return None
    return tqdm.keras


def alternate(variants, rounds):
    """Wall and CPU time of each variant per round; odd rounds run in reverse order.

    CPU time is this process's, all its threads: on a shared machine it moves far
    less with the load of other processes than wall time does.

    As ``timeit`` does, the garbage collector is off while a variant runs and
    collects between runs: with TensorFlow loaded a full collection scans some
    400,000 objects (a quarter of a second), which would land in whichever fit
    it happened to interrupt. The objects alive after the warm-up are frozen
    (``gc.freeze``) so that the collections between runs stay short.
    """
    names = list(variants)
    for name in names:  # warm-up: tracing, first-call costs
        variants[name]()
    gc.collect()
    gc.freeze()
    wall = {name: [] for name in names}
    cpu = {name: [] for name in names}
    try:
        for r in range(rounds):
            for name in names if r % 2 == 0 else reversed(names):
                gc.collect()
                gc.disable()
                start, start_cpu = time.perf_counter(), time.process_time()
                variants[name]()
                wall[name].append(time.perf_counter() - start)
                cpu[name].append(time.process_time() - start_cpu)
                gc.enable()
    finally:
        gc.enable()
        gc.unfreeze()
    return wall, cpu


def paired_ratio(samples, name, baseline):
    return statistics.median(a / b for a, b in zip(samples[name], samples[baseline]))


def median_standard_error(ratios):
    """Standard error of the median of ``ratios``: 1.253 sigma / sqrt(n), sigma = IQR / 1.349."""
    if len(ratios) < 4:
        return 0.0
    q1, _, q3 = statistics.quantiles(ratios, n=4)
    return 1.253 * (q3 - q1) / 1.349 / len(ratios) ** 0.5


def spread(values):
    values = sorted(values)
    if len(values) < 4:
        return (values[-1] - values[0]) / 2 / statistics.median(values)
    q1, _, q3 = statistics.quantiles(values, n=4)
    return (q3 - q1) / 2 / statistics.median(values)


HOOKS = ("on_train_begin", "on_epoch_begin", "on_train_batch_end", "on_test_begin",
         "on_test_batch_end", "on_epoch_end", "on_train_end")


def time_in_hooks(model, data, sink, *, epochs, batch_size):
    """One fit with our callbacks, their hooks timed: seconds in hooks, in redraws, in fit.

    Only the hooks a callback overrides are wrapped (wrapping an inherited batch hook
    would switch off Keras's background dispatch). Redraws run on rich's refresh
    thread; their time is measured by wrapping ``Live.refresh``.
    """
    from rich.live import Live

    x, y, val = data
    console = Console(file=sink, width=120)
    callbacks = [RichTrainingReport(console), OverfittingGapMonitor(console=console)]
    trace = shape_trace_callback(console)
    if trace is not None:
        callbacks.insert(0, trace)
    spent = {"hooks": 0.0, "redraws": 0.0}

    def timed(fn, key):
        def wrapper(*a, **k):
            start = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                spent[key] += time.perf_counter() - start
        return wrapper

    for cb in callbacks:
        for name in HOOKS:
            if getattr(type(cb), name) is not getattr(keras.callbacks.Callback, name):
                setattr(cb, name, timed(getattr(cb, name), "hooks"))
    original = Live.refresh
    Live.refresh = timed(original, "redraws")
    try:
        start = time.perf_counter()
        model.fit(x, y, validation_data=val, epochs=epochs, batch_size=batch_size, callbacks=callbacks)
        total = time.perf_counter() - start
    finally:
        Live.refresh = original
    return spent["hooks"], spent["redraws"], total


def build_model(input_shape, num_classes):
    model = keras.Sequential([
        keras.Input(input_shape),
        keras.layers.Conv2D(8, 3, padding="same", activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(num_classes, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


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
    return prefix + shlex.join(["python", "bench/bench_callbacks.py", *kept])


def machine() -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = f", load {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    return (f"{cores} cores{load}, {keras.backend.backend()}, keras {keras.__version__}, "
            f"python {platform.python_version()}")


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a tiny run (seconds) that checks the script works")
    parser.add_argument("--json", metavar="PATH", help="also write the rows as JSON to PATH")
    parser.add_argument("--rounds", type=int, default=None, help="timed rounds (default 40, smoke 2)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per fit (default 3, smoke 1)")
    parser.add_argument("--batch-size", type=int, default=32, help="batch size (default 32)")
    parser.add_argument("--threads", type=int, default=1,
                        help="TensorFlow intra- and inter-op threads (default 1: a tiny model gains "
                             "nothing from more, and one thread keeps timings steady; 0: TF's default)")
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    rounds = args.rounds or (2 if args.smoke else 40)
    epochs = args.epochs or (1 if args.smoke else 3)
    command = command_line(argv)
    if args.threads and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)

    digits = load_dataset("digits")
    n = 256 if args.smoke else len(digits.x_train)
    data = (digits.x_train[:n], digits.y_train[:n], (digits.x_val, digits.y_val))
    keras.utils.set_random_seed(0)
    model = build_model(digits.input_shape, digits.num_classes)

    with tempfile.TemporaryDirectory() as directory:
        sinks = Sinks(directory)
        try:
            variants, ours = make_variants(model, data, sinks, epochs=epochs, batch_size=args.batch_size)
            samples, cpu = alternate(variants, rounds)
            hooks = {sink: time_in_hooks(model, data, getattr(sinks, key), epochs=epochs,
                                         batch_size=args.batch_size)
                     for sink, key in (("to a file", "file"), ("to a terminal", "pty"))}
        finally:
            sinks.close()

    base = "verbose=0"
    steps = -(-n // args.batch_size)
    # "No slower than Keras's bar" is judged on the paired ratio to the bar, within what
    # this run can resolve: the standard error of a median of per-round ratios, estimated
    # from the two identical variants (sigma from their interquartile range).
    noise = median_standard_error([a / b for a, b in zip(samples[NOISE], samples[base])])
    rows = []
    for name, values in samples.items():
        ratio = cpu_ratio = None
        if name != base:
            ratio, cpu_ratio = paired_ratio(samples, name, base), paired_ratio(cpu, name, base)
        target = met = None
        if name.startswith(ours):
            sink = name.rsplit(", ", 1)[1]
            versus_bar = paired_ratio(samples, name, f"Keras progress bar, {sink}")
            target = (f"<= {TARGET}, and <= 1 + noise ({1 + noise:.3f}) against Keras's bar "
                      f"{sink} (measured {versus_bar:.3f})")
            met = ratio <= TARGET and versus_bar <= 1 + noise
        min_ratio = None if name == base else min(values) / min(samples[base])
        rows.append({
            "figure": f"fit, {epochs} epoch(s) x {steps} steps of {args.batch_size} on digits: {name}",
            "value": f"{statistics.median(values):.3f} s (+/-{spread(values):.0%})",
            "baseline": None if name == base else f"verbose=0: {statistics.median(samples[base]):.3f} s",
            "ratio": ratio,
            "target": target,
            "met": met,
            "command": command,
            "machine": machine(),
            "cpu_seconds": statistics.median(cpu[name]),
            "cpu_ratio": cpu_ratio,
            "min_ratio": min_ratio,
        })

    print("| variant | median fit time | ratio to verbose=0 | ratio of fastest runs | CPU time "
          "| ratio (CPU) | target met? |\n|---|---|---|---|---|---|---|")
    for name, row in zip(samples, rows):
        def cell(value):
            return "-" if value is None else f"{value:.3f}"

        met = "-" if row["met"] is None else ("yes" if row["met"] else "**no**")
        print(f"| {name} | {row['value']} | {cell(row['ratio'])} | {cell(row['min_ratio'])} "
              f"| {row['cpu_seconds']:.3f} s | {cell(row['cpu_ratio'])} | {met} |")
    print()
    for sink, (in_hooks, in_redraws, total) in hooks.items():
        print(f"{ours}, {sink}: {in_hooks * 1e3:.1f} ms in callback hooks + {in_redraws * 1e3:.1f} ms "
              f"in redraws (refresh thread) of a {total:.3f} s fit = {(in_hooks + in_redraws) / total:.2%}")
        share = (in_hooks + in_redraws) / total
        rows.append({
            "figure": f"time inside {ours} hooks and redraws, {sink}, one fit",
            "value": f"{(in_hooks + in_redraws) * 1e3:.1f} ms of {total:.3f} s",
            "baseline": "the fit's wall time", "ratio": share, "target": f"<= {TARGET - 1:.0%} of the fit",
            "met": share <= TARGET - 1, "command": command, "machine": machine(),
        })
    threads = f"TF threads {args.threads}" if args.threads else "TF threads: default"
    print(f"\n{rounds} rounds, alternating; {machine()}, {threads}\ncommand: {command}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    return rows


if __name__ == "__main__":
    main()
