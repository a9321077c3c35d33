"""Benchmark: CNNHyperModel searches on digits against the default recipe.

Measures, in one run with the variants alternating from repeat to repeat:

* ``default_recipe("digits")``'s network trained with that recipe (the
  ``cnnlab demo`` set-up):
  accuracy on the held-out test split, trained on the same images as the
  trials (a quarter of the training split is held out to rank them:
  ``--validation-split``);
* a Hyperband search (fixed budget: ``--max-epochs``, factor 3, one iteration):
  test accuracy of its best model, and of its best configuration retrained
  like the baseline;
* a RandomSearch given the same wall-clock budget as that Hyperband run;
* the tuner's own overhead per trial: search time not spent in ``model.fit``
  (building, compiling, checkpoints, the oracle), as a share of the trial time;
* the same Hyperband search with ``CNNHyperModel(freeze_gc=True)`` against the
  default ``freeze_gc=False``: its search time as a ratio (the two alternate
  which runs first from repeat to repeat).

Each search runs in a fresh interpreter, as a user's script would (TensorFlow
keeps the graph of every model it traced, so searches sharing one process slow
each other's garbage collections down). Prints a markdown table of medians over
the repeats and the command that made it.

``--memory`` measures instead the resident memory after each of ``--trials``
trials, each variant in a fresh process: CNNHyperModel searches in graph and in
eager mode, and a plain Keras build/fit loop with ``clear_session`` (TensorFlow's
own baseline).

    python bench/bench_tuning.py              # about 10-20 minutes on a laptop CPU
    python bench/bench_tuning.py --smoke      # seconds: tiny budgets, one repeat
    python bench/bench_tuning.py --memory     # a few minutes
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import _common

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

OVERHEAD_TARGET = 0.10  # the tuner's own share of a trial's time
# Trials are ranked on the validation images. load_dataset's default 10% is 144 digits,
# where one image is 0.7% of accuracy and Hyperband's one-epoch trials rank on noise;
# a quarter (360 digits) ranks them. The baseline trains on the same 1,078 images.
VALIDATION_SPLIT = 0.25


def _tuners():
    import keras_tuner as kt

    class Timed:
        """Records the search's wall time and stops at a time budget when given one."""

        budget_s: float | None = None

        def on_search_begin(self):
            super().on_search_begin()
            self.search_start = time.perf_counter()

        def on_trial_end(self, trial):
            super().on_trial_end(trial)
            if self.budget_s is not None and time.perf_counter() - self.search_start >= self.budget_s:
                self.oracle.max_trials = len(self.oracle.trials)  # the oracle stops here

        def on_search_end(self):
            super().on_search_end()
            self.search_seconds = time.perf_counter() - self.search_start

    class TimedHyperband(Timed, kt.Hyperband):
        pass

    class TimedRandomSearch(Timed, kt.RandomSearch):
        pass

    return TimedHyperband, TimedRandomSearch


def _space(smoke: bool):
    from keras_cnnlab.tuning import SearchSpace
    from keras_cnnlab.tuning.search_space import augmentation_available

    # downsample_factor=2 lets 8x8 digits take up to 3 blocks, like build_cnn's default.
    space = SearchSpace(downsample_factor=2)
    if augmentation_available():
        space.choose(augmentation=["none", "digits"])
    if smoke:
        space.fix(num_blocks=1, kernel_size=3, head_units=0).choose(filters=[4, 8])
    return space


def _test_accuracy(model, data) -> float:
    return float(model.evaluate(data.x_test, data.y_test, verbose=0)[1])


def run_baseline(data, epochs: int, seed: int) -> dict:
    """default_recipe's network for the data trained with it (its preset included)."""
    import keras

    from keras_cnnlab import default_recipe

    keras.utils.set_random_seed(seed)
    recipe = default_recipe(data, epochs=epochs)
    model = recipe.build_model(data, seed=seed)
    start = time.perf_counter()
    recipe.fit(model, data.x_train, data.y_train, validation_data=(data.x_val, data.y_val), verbose=0)
    return dict(test_accuracy=recipe.evaluate(model, data.x_test, data.y_test),
                seconds=time.perf_counter() - start)


def _fit_seconds(tuner) -> float:
    return sum(
        t.metrics.get_last_value("fit_seconds")
        for t in tuner.oracle.trials.values()
        if t.metrics.exists("fit_seconds")
    )


def _summary(tuner, data) -> dict:
    trials = len(tuner.oracle.trials)
    search = tuner.search_seconds
    overhead = (search - _fit_seconds(tuner)) / trials
    return dict(
        trials=trials,
        seconds=search,
        test_accuracy=_test_accuracy(tuner.get_best_models(1)[0], data),
        overhead_s=overhead,
        overhead_share=overhead / (search / trials),
    )


def run_hyperband(
    data, space, max_epochs: int, seed: int, directory: str, compile_kwargs=None, objective="val_accuracy",
    freeze_gc: bool = False,
) -> dict:
    import keras

    from keras_cnnlab.tuning import CNNHyperModel

    TimedHyperband, _ = _tuners()
    keras.utils.set_random_seed(seed)
    hypermodel = CNNHyperModel(
        data.input_shape, data.num_classes, search_space=space, seed=seed, compile_kwargs=compile_kwargs,
        freeze_gc=freeze_gc,
    )
    tuner = TimedHyperband(
        hypermodel, objective=objective, max_epochs=max_epochs, factor=3,
        hyperband_iterations=1, seed=seed, directory=directory,
        project_name=f"hyperband{seed}" + ("_frozen" if freeze_gc else ""), overwrite=True,
    )
    tuner.search(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val), verbose=0)
    result = _summary(tuner, data)
    result.update(tuner=tuner, hypermodel=hypermodel)
    return result


def run_random(
    data, space, epochs: int, budget_s: float, seed: int, directory: str, compile_kwargs=None,
    objective="val_accuracy",
) -> dict:
    import keras

    from keras_cnnlab.tuning import CNNHyperModel

    _, TimedRandomSearch = _tuners()
    keras.utils.set_random_seed(seed)
    hypermodel = CNNHyperModel(
        data.input_shape, data.num_classes, search_space=space, seed=seed, compile_kwargs=compile_kwargs
    )
    tuner = TimedRandomSearch(
        hypermodel, objective=objective, max_trials=10_000, seed=seed,
        directory=directory, project_name=f"random{seed}", overwrite=True,
    )
    tuner.budget_s = budget_s
    tuner.search(
        data.x_train, data.y_train, validation_data=(data.x_val, data.y_val), epochs=epochs,
        verbose=0,
    )
    return _summary(tuner, data)


def one_search(args, data, space, directory, compile_kwargs) -> dict:
    """One search (``--one-search``), run in a process of its own by the parent."""
    seed = args.seed
    if args.one_search == "random":
        return run_random(
            data, space, args.random_epochs, args.budget, seed, directory, compile_kwargs, args.objective
        )
    frozen = args.one_search == "hyperband_frozen"
    result = run_hyperband(
        data, space, args.max_epochs, seed, directory, compile_kwargs, args.objective, freeze_gc=frozen
    )
    if frozen:  # timed only: the default search's best model is the one retrained
        del result["tuner"], result["hypermodel"]
        return result
    result["retrained"] = retrain_best(result, data, args.baseline_epochs, seed)
    result["config"] = build_cnn_config(result["tuner"].get_best_hyperparameters(1)[0])
    del result["tuner"], result["hypermodel"]
    return result


def search_in_fresh_process(variant: str, seed: int, budget: float, directory: str, argv) -> dict:
    """Run one search in a new interpreter, as a user's script would: what one search
    leaves behind (TensorFlow keeps every traced model's graph) does not slow the next."""
    command = [sys.executable, __file__, *argv, "--one-search", variant, "--seed", str(seed),
               "--budget", str(budget), "--directory", directory]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{variant} search failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def retrain_best(result: dict, data, epochs: int, seed: int) -> float:
    """The best Hyperband configuration trained from scratch like the baseline."""
    import keras

    keras.utils.set_random_seed(seed)
    tuner, hypermodel = result["tuner"], result["hypermodel"]
    hp = tuner.get_best_hyperparameters(1)[0]
    model = hypermodel.build(hp)
    hypermodel.fit(
        hp, model, data.x_train, data.y_train, validation_data=(data.x_val, data.y_val),
        epochs=epochs, verbose=0,
    )
    return _test_accuracy(model, data)


def _rounded(value):
    """Floats to 4 significant digits (0.30000000000000004 -> 0.3); other values as they are."""
    return float(f"{value:.4g}") if isinstance(value, float) else value


def build_cnn_config(hp) -> dict:
    """A trial's hyperparameters as ``build_cnn`` keyword arguments, plus the fit settings.

    The keys follow bench/README.md's ``config`` row: build_cnn's arguments,
    ``augmentation`` (a preset name) with ``augmentation_strength``, ``learning_rate``
    and ``batch_size``, and the recipe's levers the trial set (``optimizer``,
    ``weight_decay``, ``label_smoothing``, ``schedule``).
    """
    values = hp.values
    blocks = range(1, int(values["num_blocks"]) + 1)

    def per_block(param):
        return [_rounded(values.get(f"block{i}_{param}")) for i in blocks]

    # build_cnn pools with pool/pool_size, and strides a "strided" block's first convolution
    downsamples, factors = per_block("downsample"), per_block("downsample_factor")
    config = dict(
        filters=per_block("filters"),
        kernel_size=per_block("kernel_size"),
        convs=per_block("convs"),
        activation=per_block("activation"),
        batch_norm=per_block("batch_norm"),
        strides=[f if d == "strided" else 1 for d, f in zip(downsamples, factors)],
        pool=[d if d in ("max", "avg") else None for d in downsamples],
        pool_size=[f if d in ("max", "avg") else 2 for d, f in zip(downsamples, factors)],
        dropout=per_block("dropout"),
        head_pooling=values["head_pooling"],
        head_units=[values["head_units"]] if values.get("head_units") else [],
        head_dropout=_rounded(values.get("head_dropout") or 0.0),
        learning_rate=_rounded(values["learning_rate"]),
    )
    # The recipe's levers the trial tuned (bench_accuracy.py trains with them).
    for key in ("optimizer", "weight_decay", "label_smoothing", "schedule"):
        if key in values:
            config[key] = _rounded(values[key])
    if values.get("batch_size"):
        config["batch_size"] = values["batch_size"]
    if values.get("augmentation") not in (None, "none"):
        config["augmentation"] = values["augmentation"]
        config["augmentation_strength"] = values.get("augmentation_strength") or 1.0
    return config


# --- memory -------------------------------------------------------------------------------


def resident_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("--memory needs /proc (Linux)")


def memory_variant(variant: str, trials: int) -> list[float]:
    """RSS (MiB) after each trial of one variant; run in a fresh process."""
    import keras
    import keras_tuner as kt

    from keras_cnnlab import build_cnn, compile_for
    from keras_cnnlab.data import load_dataset
    from keras_cnnlab.tuning import CNNHyperModel, SearchSpace

    _quiet_tensorflow()
    data = load_dataset("digits", limit=300, seed=0)
    rss = []
    if variant == "keras":
        for i in range(trials):
            keras.backend.clear_session()
            model = build_cnn(data.input_shape, data.num_classes, filters=(4 + 4 * (i % 2),), head_units=())
            compile_for(model, data.y_train)
            model.fit(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val),
                      epochs=1, batch_size=64, verbose=0)
            del model
            rss.append(resident_mib())
        return rss

    class Measured(kt.RandomSearch):
        def on_trial_end(self, trial):
            super().on_trial_end(trial)
            rss.append(resident_mib())

    space = SearchSpace(num_blocks=[1, 2], filters=[4, 8], kernel_size=3, head_units=[0, 8], batch_size=64)
    hypermodel = CNNHyperModel(
        data.input_shape, data.num_classes, search_space=space,
        compile_kwargs=dict(run_eagerly=variant == "eager"),
    )
    with tempfile.TemporaryDirectory() as directory:
        tuner = Measured(hypermodel, objective="val_accuracy", max_trials=trials, seed=0,
                         directory=directory, project_name="memory", overwrite=True)
        tuner.search(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val),
                     epochs=1, verbose=0)
    return rss


def _slope(values: list[float], skip: int) -> float:
    """Least-squares growth per trial (MiB) after the first ``skip`` trials."""
    ys = values[skip:]
    xs = range(len(ys))
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def run_memory(trials: int, argv) -> int:
    variants = (
        ("hypermodel", "CNNHyperModel + RandomSearch, graph mode"),
        ("eager", "CNNHyperModel + RandomSearch, run_eagerly=True"),
        ("keras", "plain Keras: clear_session, build_cnn, fit (no tuner)"),
    )
    rows = []
    for variant, label in variants:
        out = subprocess.run(
            [sys.executable, __file__, "--memory-variant", variant, "--trials", str(trials)],
            check=True, capture_output=True, text=True,
        ).stdout
        rss = json.loads(out.strip().splitlines()[-1])
        rows.append((label, rss))
        print(f"{variant}: " + ", ".join(f"{r:.0f}" for r in rss), flush=True)
    skip = min(5, trials // 4)
    print()
    print(f"| variant ({trials} trials of a tiny model on digits, TensorFlow) | RSS after trial {skip} (MiB) "
          f"| after trial {trials} | growth per trial after {skip} (MiB) |")
    print("|---|---|---|---|")
    for label, rss in rows:
        print(f"| {label} | {rss[skip - 1]:.0f} | {rss[-1]:.0f} | {_slope(rss, skip):.2f} |")
    print()
    print("command: " + " ".join(["python", "bench/bench_tuning.py", *argv]))
    return 0


def _quiet_tensorflow() -> None:
    import keras

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        # Every trial's new model retraces; TensorFlow's retracing warning is expected here.
        tf.get_logger().setLevel("ERROR")


def _median(rows, key):
    return statistics.median(r[key] for r in rows)


def main(argv=None) -> int:
    parser = _common.make_parser(__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3, help="repeats (seeds); medians are reported")
    parser.add_argument("--max-epochs", type=int, default=9, help="Hyperband's max_epochs (budget)")
    parser.add_argument("--random-epochs", type=int, default=9, help="epochs of each random trial")
    parser.add_argument("--baseline-epochs", type=int, default=None,
                        help="epochs of the default and of the retrained best (default: the recipe's)")
    parser.add_argument("--objective", default="val_accuracy", help="the tuners' objective")
    parser.add_argument("--validation-split", type=float, default=VALIDATION_SPLIT,
                        help="share of the training images the trials are ranked on")
    parser.add_argument("--directory", default=None, help="where the tuners write (default: a temp dir)")
    parser.add_argument("--memory", action="store_true", help="measure resident memory per trial instead")
    parser.add_argument("--trials", type=int, default=20, help="trials per --memory variant")
    parser.add_argument("--memory-variant", help=argparse.SUPPRESS)
    parser.add_argument("--one-search", choices=["hyperband", "hyperband_frozen", "random"], help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--budget", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    argv = list(sys.argv[1:] if argv is None else argv)
    if args.memory_variant:
        print(json.dumps(memory_variant(args.memory_variant, args.trials)))
        return 0
    if args.memory:
        return run_memory(args.trials, argv)
    _quiet_tensorflow()
    if args.smoke:
        args.repeats, args.max_epochs, args.random_epochs, args.baseline_epochs = 1, 2, 1, 1

    from keras_cnnlab.data import load_dataset

    data = load_dataset(
        "digits", seed=0, validation_split=args.validation_split, limit=300 if args.smoke else None
    )
    space = _space(args.smoke)
    # Tiny smoke models train faster step by step than traced.
    compile_kwargs = dict(run_eagerly=True) if args.smoke else None
    directory = args.directory or tempfile.mkdtemp(prefix="bench_tuning_")
    if args.baseline_epochs is None:
        from keras_cnnlab import default_recipe

        args.baseline_epochs = default_recipe(data).epochs
    if args.one_search:
        print("RESULT " + json.dumps(one_search(args, data, space, directory, compile_kwargs)))
        return 0
    base_rows, hb_rows, rs_rows, frozen_rows, retrained, best_configs = [], [], [], [], [], []
    searches = {"hyperband": hb_rows, "hyperband_frozen": frozen_rows, "random": rs_rows}
    try:
        for repeat in range(args.repeats):
            seed = repeat
            base_rows.append(run_baseline(data, args.baseline_epochs, seed))
            # Alternate the order of the searches, so drift in machine load hits them alike
            # (Hyperband with and without freeze_gc included).
            order = list(searches) if repeat % 2 == 0 else list(reversed(searches))
            for variant in order:
                # Equal budget: the latest default Hyperband run's time (repeat 0 runs it first).
                budget = hb_rows[-1]["seconds"] if variant == "random" else 0.0
                searches[variant].append(search_in_fresh_process(variant, seed, budget, directory, argv))
            hb = hb_rows[-1]
            retrained.append(hb["retrained"])
            best_configs.append(hb["config"])
            print(
                f"repeat {repeat}: baseline {base_rows[-1]['test_accuracy']:.4f}, "
                f"hyperband {hb['test_accuracy']:.4f} ({hb['trials']} trials, {hb['seconds']:.0f}s), "
                f"retrained {retrained[-1]:.4f}, random {rs_rows[-1]['test_accuracy']:.4f} "
                f"({rs_rows[-1]['trials']} trials, {rs_rows[-1]['seconds']:.0f}s), "
                f"hyperband with freeze_gc=True {frozen_rows[-1]['seconds']:.0f}s",
                flush=True,
            )
    finally:
        if args.directory is None:
            shutil.rmtree(directory, ignore_errors=True)

    import keras

    where = (f"digits ({len(data.x_train)} train / {len(data.x_val)} val / {len(data.x_test)} test), "
             f"medians of {args.repeats} seed(s)")
    base_accuracy = _median(base_rows, "test_accuracy")
    baseline = f"default_recipe ({args.baseline_epochs} epochs): {base_accuracy:.4f} test accuracy"

    def search_row(name, rows):
        accuracy = _median(rows, "test_accuracy")
        return _common.make_row(
            f"Tuning: {name}, best model's test accuracy, {where}",
            f"{accuracy:.4f} ({_median(rows, 'trials'):.0f} trials, {_median(rows, 'seconds'):.0f} s)",
            baseline=baseline, ratio=accuracy / base_accuracy,
        )

    def overhead_row(name, rows):
        share = _median(rows, "overhead_share")
        return _common.make_row(
            f"Tuning: {name}, tuner overhead per trial (search time outside model.fit)",
            f"{_median(rows, 'overhead_s'):.2f} s per trial, {share:.1%} of trial time",
            target=f"< {OVERHEAD_TARGET:.0%}", met=share < OVERHEAD_TARGET,
        )

    def freeze_row(name):
        # Each repeat runs both searches with the same seed (the same trials); the median
        # of the per-repeat ratios drops a repeat disturbed by other processes.
        ratio = statistics.median(f["seconds"] / d["seconds"] for f, d in zip(frozen_rows, hb_rows))
        return _common.make_row(
            f"Tuning: {name}, search time with CNNHyperModel(freeze_gc=True)",
            f"{_median(frozen_rows, 'seconds'):.1f} s ({_median(frozen_rows, 'trials'):.0f} trials, "
            f"overhead {_median(frozen_rows, 'overhead_s'):.2f} s per trial)",
            baseline=f"freeze_gc=False (the default): {_median(hb_rows, 'seconds'):.1f} s, "
            f"overhead {_median(hb_rows, 'overhead_s'):.2f} s per trial",
            ratio=ratio,
        )

    hyperband = f"Hyperband (max_epochs={args.max_epochs}, factor 3)"
    random = f"RandomSearch ({args.random_epochs} epochs a trial, Hyperband's time budget)"
    retrained_accuracy = statistics.median(retrained)
    rows = [
        search_row(hyperband, hb_rows),
        search_row(random, rs_rows),
        _common.make_row(
            f"Tuning: Hyperband's best configuration retrained like the default, {where}",
            f"{retrained_accuracy:.4f}",
            baseline=baseline, ratio=retrained_accuracy / base_accuracy,
            target=">= default_recipe", met=retrained_accuracy >= base_accuracy,
            # bench_accuracy.py --tuning-json evaluates this configuration on its splits
            config=best_configs[0],
        ),
        overhead_row(hyperband, hb_rows),
        overhead_row(random, rs_rows),
        freeze_row(hyperband),
    ]
    _common.emit(rows, args, title=f"Tuning on digits (keras {keras.__version__}, {keras.backend.backend()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
