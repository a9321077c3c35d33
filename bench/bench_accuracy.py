"""Test accuracy of the default recipe on real images: CNN vs tuned SVC vs dense network.

Two offline datasets, each over repeated stratified splits; every method learns
from the same training images of a split and is scored on its held-out test images:

- digits (scikit-learn's 1,797 8x8 digits): ``load_dataset("digits", seed=s,
  validation_split=0)`` for s = 0..4 holds out 20% (359-360 images) for testing.
  Rows: ``default_recipe("digits")`` (its network, build_cnn with two blocks of
  64-128 filters, and no augmentation), the same recipe with the 'digits' preset, the
  tuner's best configuration when bench_tuning.py's JSON (``--tuning-json``) has a
  ``config`` row, a plain dense network under the same recipe, and scikit-learn's
  SVC (RBF; C and gamma by a 5-fold stratified GridSearchCV on the training images).
- lfw_subset (scikit-image's 200 25x25 faces and non-faces, flips keep the class):
  ``load_dataset("lfw_subset", seed=s, validation_split=0)`` for s = 0..9 holds out
  40 images; 40 images are coarse (one is 2.5%), hence ten splits. Rows: the
  natural-image presets 'light' and 'standard' against 'none' under
  ``default_recipe("lfw_subset")``, and the SVC.

Quoted: mean and standard deviation of test accuracy over the splits, on how many
splits a method beats the SVC (or the 'none' row), and the mean wall time per split
(building, training or searching, and predicting). No choice of this script or of
the recipes was made on these test splits: the recipes and presets were chosen on
validation splits carved out of the training images (see docs/augmentation.md).

    python bench/bench_accuracy.py            # about 15 minutes on 2 cores
    python bench/bench_accuracy.py --smoke    # seconds
"""

from __future__ import annotations

import json
import statistics
import time
import warnings
from pathlib import Path

import _common

# Targets of the default recipe on digits.
DIGITS_MEAN_TARGET = 0.994
SECONDS_PER_SPLIT_TARGET = 20.0
TUNED_MEAN_TARGET = 0.995
SVC_GRID = {"C": [1.0, 3.0, 10.0, 30.0], "gamma": [0.03, 0.1, 0.3, 1.0]}
# 625 pixels a face: gamma around 1 / (pixels * variance) = 0.003-0.03.
LFW_SVC_GRID = {"C": [1.0, 3.0, 10.0, 30.0], "gamma": [0.001, 0.003, 0.01, 0.03]}


def dense_network(input_shape, num_classes, *, units=(256, 128), dropout=0.2, seed=0, augmentation=None):
    import keras
    from keras import layers

    inputs = keras.Input(input_shape)
    x = layers.Flatten()(inputs)
    for i, width in enumerate(units):
        x = layers.Dense(width, activation="relu")(x)
        x = layers.Dropout(dropout, seed=seed + i)(x)
    outputs = layers.Dense(num_classes, activation="softmax")(x)
    return keras.Model(inputs, outputs, name="dense")


def svc_accuracy(data, *, grid, folds):
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.svm import SVC

    x = data.x_train.reshape(len(data.x_train), -1)
    search = GridSearchCV(
        SVC(kernel="rbf"), grid, cv=StratifiedKFold(folds, shuffle=True, random_state=0), n_jobs=1
    )
    search.fit(x, data.y_train)
    accuracy = search.score(data.x_test.reshape(len(data.x_test), -1), data.y_test)
    return float(accuracy), search.best_params_


def tuned_config(path):
    """The ``config`` of the first row of bench_tuning's JSON that has one, or None."""
    if not path or not Path(path).exists():
        return None
    try:
        rows = json.loads(Path(path).read_text())
    except ValueError:
        return None
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, dict) and isinstance(row.get("config"), dict):
            return dict(row["config"])
    return None


# Keys of a tuning `config` that belong to the recipe rather than to build_cnn.
RECIPE_KEYS = ("learning_rate", "batch_size", "epochs", "optimizer", "weight_decay", "label_smoothing", "schedule")


def split_config(config: dict, recipe):
    """(build_cnn kwargs, recipe, augmentation spec, strength) from a tuning ``config``."""
    kwargs = dict(config)
    changes = {key: kwargs.pop(key) for key in RECIPE_KEYS if key in kwargs}
    spec = kwargs.pop("augmentation", "none")
    # JSON that bench_tuning.py wrote before the rename says "augment_strength"
    strength = kwargs.pop("augmentation_strength", kwargs.pop("augment_strength", 1.0))
    return kwargs, recipe.replace(**changes, augmentation=spec or "none"), strength


class Results:
    """Accuracies and seconds per method, one entry per split."""

    def __init__(self):
        self.runs: dict[str, list[tuple[float, float]]] = {}

    def measure(self, name, run, *args, **kwargs):
        start = time.perf_counter()
        accuracy = run(*args, **kwargs)
        self.runs.setdefault(name, []).append((accuracy, time.perf_counter() - start))

    def accuracies(self, name) -> list[float]:
        return [a for a, _ in self.runs[name]]

    def mean(self, name) -> float:
        return statistics.mean(self.accuracies(name))

    def text(self, name, versus=None, versus_name="the SVC") -> str:
        accuracies = self.accuracies(name)
        std = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
        out = f"{self.mean(name):.4f} +/- {std:.4f} test accuracy"
        if versus is not None:
            others = self.accuracies(versus)
            wins = sum(a > b for a, b in zip(accuracies, others))
            ties = sum(a == b for a, b in zip(accuracies, others))
            out += f", beats {versus_name} on {wins}/{len(accuracies)} splits" + (f" ({ties} tied)" if ties else "")
        return f"{out}; {_common.fmt_seconds(self.seconds(name))} per split"

    def wins(self, name, versus) -> int:
        return sum(a > b for a, b in zip(self.accuracies(name), self.accuracies(versus)))

    def seconds(self, name) -> float:
        return statistics.mean(t for _, t in self.runs[name])

    def last(self) -> str:
        return ", ".join(f"{name} {runs[-1][0]:.4f} ({runs[-1][1]:.0f} s)" for name, runs in self.runs.items())


def train(build, data, split, recipe, *, strength=1.0, **build_kwargs) -> float:
    """Train ``build``'s network with ``recipe`` (its augmentation for the data); test accuracy."""
    import keras

    keras.utils.set_random_seed(split)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        augmentation = recipe.augmentation_for(data, seed=split)
    if augmentation is not None and strength != 1.0:
        from keras_cnnlab.augment import AugmentationPipeline

        augmentation = AugmentationPipeline(augmentation.spec.scaled(strength), seed=split)
    model = build(data.input_shape, data.num_classes, seed=split, augmentation=augmentation, **build_kwargs)
    recipe.fit(model, data.x_train, data.y_train, verbose=0)
    return recipe.evaluate(model, data.x_test, data.y_test)


def digits_rows(args, results, recipe, config, small, grid, folds) -> list[dict]:
    import keras

    from keras_cnnlab import build_cnn, load_dataset

    splits = args.splits or (2 if args.smoke else 5)
    svc_params = []

    def svc(data):
        accuracy, params = svc_accuracy(data, grid=grid, folds=folds)
        svc_params.append(params)
        return accuracy

    for split in range(splits):
        data = load_dataset("digits", seed=split, validation_split=0.0, limit=300 if args.smoke else None)
        network = {**recipe.network, **small}
        results.measure("cnn", train, build_cnn, data, split, recipe, **network)
        results.measure("cnn_digits", train, build_cnn, data, split, recipe.replace(augmentation="digits"), **network)
        if config is not None:
            kwargs, tuned, strength = split_config(config, recipe)
            results.measure("tuned", train, build_cnn, data, split, tuned, strength=strength, **kwargs)
        results.measure("svc", svc, data)
        results.measure("dense", train, dense_network, data, split, recipe.replace(augmentation="none"))
        keras.backend.clear_session()
        print(f"digits split {split + 1}/{splits}: {results.last()}", flush=True)

    where = f"digits, {splits} stratified 80/20 splits"
    cs = sorted({p["C"] for p in svc_params})
    gammas = sorted({p["gamma"] for p in svc_params})
    svc_text = results.text("svc").split(";")[0]
    svc_baseline = f"SVC: {svc_text} (C {cs}, gamma {gammas} chosen)"
    svc_mean = results.mean("svc")
    described = f"{recipe.describe_network()}; {_describe(recipe)}"

    def row(figure, name, target=None, met=None, **extra):
        return _common.make_row(
            figure, results.text(name, "svc"), baseline=svc_baseline,
            ratio=results.mean(name) / svc_mean, target=target, met=met, **extra,
        )

    mean, wins, seconds = results.mean("cnn"), results.wins("cnn", "svc"), results.seconds("cnn")
    rows = [
        row(
            f"Accuracy: default_recipe('digits') ({described}), {where}", "cnn",
            target=f"mean >= {DIGITS_MEAN_TARGET}, beats the SVC on >= 4/5 splits, <= {SECONDS_PER_SPLIT_TARGET:g} s per split",
            met=mean >= DIGITS_MEAN_TARGET and wins >= min(4, splits - 1) and seconds <= SECONDS_PER_SPLIT_TARGET,
        ),
        _common.make_row(
            f"Accuracy: preset 'digits' against 'none' under default_recipe('digits'), {where}",
            results.text("cnn_digits", "cnn", "'none'"),
            baseline=f"'none': {results.text('cnn').split(';')[0]}",
            ratio=results.mean("cnn_digits") / mean,
            target="mean > 'none' mean", met=results.mean("cnn_digits") > mean,
        ),
    ]
    if config is not None:
        tuned_mean = results.mean("tuned")
        rows.append(row(
            f"Accuracy: tuner-best configuration {json.dumps(config, sort_keys=True)} retrained with the recipe, {where}",
            "tuned", target=f"mean >= {TUNED_MEAN_TARGET}", met=tuned_mean >= TUNED_MEAN_TARGET,
        ))
    else:
        rows.append(_common.make_row(
            "Accuracy: tuner-best configuration",
            "not available (no bench_tuning.py JSON with a `config` row; see --tuning-json)",
        ))
    rows.append(row(f"Accuracy: plain dense network (Flatten, Dense 256-128) under the same recipe without augmentation, {where}", "dense"))
    rows.append(_common.make_row(
        f"Accuracy: SVC (RBF; C in {grid['C']}, gamma in {grid['gamma']} by {folds}-fold GridSearchCV), {where}",
        results.text("svc"),
    ))
    return rows


def lfw_rows(args, results, grid, folds, small) -> list[dict]:
    import keras

    from keras_cnnlab import build_cnn, default_recipe, load_dataset

    try:
        import skimage  # noqa: F401
    except ImportError:
        return [_common.make_row("Accuracy on lfw_subset", "not measured: scikit-image is not installed")]
    recipe = default_recipe("lfw_subset")
    if args.smoke:
        recipe = recipe.replace(epochs=1)
    splits = args.lfw_splits or (2 if args.smoke else 10)
    lfw_grid = grid if args.smoke else LFW_SVC_GRID
    presets = ("none", "light", "standard")
    for split in range(splits):
        data = load_dataset("lfw_subset", seed=split, validation_split=0.0)
        for preset in presets:
            results.measure(f"lfw_{preset}", train, build_cnn, data, split, recipe.replace(augmentation=preset), **small)
        results.measure("lfw_svc", lambda d: svc_accuracy(d, grid=lfw_grid, folds=folds)[0], data)
        keras.backend.clear_session()
        print(f"lfw_subset split {split + 1}/{splits}: {results.last()}", flush=True)
    where = f"lfw_subset (200 25x25 faces / non-faces), {splits} stratified 80/20 splits"
    base = results.mean("lfw_none")
    rows = []
    for preset in presets[1:]:
        name = f"lfw_{preset}"
        rows.append(_common.make_row(
            f"Accuracy: preset {preset!r} against 'none' under default_recipe('lfw_subset') "
            f"({_describe(recipe.replace(augmentation=preset))}), {where}",
            results.text(name, "lfw_none", "'none'"),
            baseline=f"'none': {results.text('lfw_none')}",
            ratio=results.mean(name) / base, target="mean > 'none' mean", met=results.mean(name) > base,
        ))
    rows.append(_common.make_row(
        f"Accuracy: SVC (RBF; C in {lfw_grid['C']}, gamma in {lfw_grid['gamma']} by {folds}-fold "
        f"GridSearchCV), {where}",
        results.text("lfw_svc"),
    ))
    return rows


def _describe(recipe) -> str:
    return f"{recipe.describe()}; augmentation {recipe.augmentation!r}"


def main(argv=None) -> int:
    parser = _common.make_parser(__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=None, help="digits splits (default 5; smoke 2)")
    parser.add_argument("--lfw-splits", type=int, default=None, help="lfw_subset splits (default 10; smoke 2)")
    parser.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs (smoke: 1)")
    parser.add_argument("--tuning-json", metavar="PATH", help="bench_tuning.py's JSON, for the tuner-best row")
    parser.add_argument("--skip-lfw", action="store_true", help="digits only")
    args = parser.parse_args(argv)

    from keras_cnnlab import default_recipe

    recipe = default_recipe("digits")
    if args.epochs or args.smoke:
        recipe = recipe.replace(epochs=args.epochs or 1)
    grid = {"C": [10.0], "gamma": [0.1]} if args.smoke else SVC_GRID
    folds = 2 if args.smoke else 5
    small = dict(filters=(8, 16)) if args.smoke else {}
    results = Results()
    rows = digits_rows(args, results, recipe, tuned_config(args.tuning_json), small, grid, folds)
    if not args.skip_lfw:
        rows += lfw_rows(args, results, grid, folds, small)
    _common.emit(rows, args, title="Accuracy on real images: CNN with the default recipe vs SVC vs dense network")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
