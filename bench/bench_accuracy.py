"""Test accuracy on the digits dataset over five stratified splits: CNN vs tuned SVC vs dense network.

Each split (``load_dataset("digits", seed=s, validation_split=0)`` for
s = 0..4) holds out 20% of the 1,797 images for testing, stratified by class;
every method learns from the same other 80%:

- build_cnn's default recipe: build_cnn's default network, with a digit-safe
  augmentation preset when keras_cnnlab.augment has one (and then also
  without, to show what augmentation does), compiled by compile_for with Adam
  and a cosine learning-rate decay from 1e-3 to 0 over 30 epochs, batch 32;
- the best configuration of a tuner search, when bench_tuning.py's JSON
  (``--tuning-json``) has a row with a ``config`` entry (build_cnn keyword
  arguments, plus optional ``augmentation``, ``learning_rate``, ``batch_size``
  and ``epochs``), trained the same way;
- scikit-learn's SVC with an RBF kernel, C and gamma chosen by a 5-fold
  stratified GridSearchCV on the training images;
- a plain dense network (Flatten, Dense 256 and 128 with dropout) trained
  exactly as the CNN.

Quoted: mean and standard deviation of test accuracy over the splits, on how
many splits a network beats the SVC, and the mean wall time per split
(building, training or searching, and predicting). The goal is to beat the
SVC's mean accuracy.

    python bench/bench_accuracy.py            # a few minutes on 2 cores
    python bench/bench_accuracy.py --smoke    # seconds
"""

from __future__ import annotations

import json
import statistics
import time
import warnings
from pathlib import Path

import _common

# Names tried in turn for a preset that keeps digits' meaning (no flips).
DIGIT_SAFE_PRESETS = ("digits", "characters", "glyphs", "text", "light")


def digit_augmentation(choice: str, seed: int, strength: float = 1.0):
    """(layer or None, description) for ``--augment`` (``auto``, ``none`` or a preset/spec)."""
    if choice == "none":
        return None, "no augmentation"
    try:
        from keras_cnnlab import augment
    except ImportError:
        return None, "no augmentation (keras_cnnlab.augment not available)"
    names = DIGIT_SAFE_PRESETS if choice == "auto" else (choice,)
    for name in names:
        for make in ("augmentation_preset", "parse_augment_spec"):
            factory = getattr(augment, make, None)
            if factory is None:
                continue
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    extra = dict(strength=strength) if make == "augmentation_preset" else {}
                    return factory(name, seed=seed, **extra), f"augmentation {name!r}"
            except (ValueError, TypeError, KeyError):
                continue
    if choice != "auto":
        raise SystemExit(f"--augment {choice!r}: keras_cnnlab.augment knows no such preset or spec.")
    return None, "no augmentation (no digit-safe preset found)"


def fit_keras(model, data, *, epochs, batch_size, learning_rate=None):
    """Train with the shared recipe (Adam, cosine decay to 0); return test accuracy."""
    import keras

    from keras_cnnlab import compile_for

    steps = -(-len(data.x_train) // batch_size) * epochs
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate or 1e-3, steps)
    compile_for(model, data.y_train, optimizer=keras.optimizers.Adam(schedule))
    model.fit(data.x_train, data.y_train, epochs=epochs, batch_size=batch_size, verbose=0)
    _, accuracy = model.evaluate(data.x_test, data.y_test, verbose=0, batch_size=256)
    return float(accuracy)


def dense_network(input_shape, num_classes, *, units=(256, 128), dropout=0.2, seed=0):
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
    y = data.y_train
    search = GridSearchCV(
        SVC(kernel="rbf"), grid, cv=StratifiedKFold(folds, shuffle=True, random_state=0), n_jobs=1
    )
    search.fit(x, y)
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


def main(argv=None) -> int:
    parser = _common.make_parser(__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=None, help="number of splits (default 5; smoke 2)")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs of the networks (default 30; smoke 1)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--augment", default="auto",
        help="'auto' (a digit-safe preset when keras_cnnlab.augment has one), 'none', or a preset name or spec",
    )
    parser.add_argument("--tuning-json", metavar="PATH", help="bench_tuning.py's JSON, for the tuner-best row")
    args = parser.parse_args(argv)

    import keras

    from keras_cnnlab import build_cnn, load_dataset

    splits = args.splits or (2 if args.smoke else 5)
    epochs = args.epochs or (1 if args.smoke else 30)
    grid = (
        {"C": [10.0], "gamma": [0.1]}
        if args.smoke
        else {"C": [1.0, 3.0, 10.0, 30.0], "gamma": [0.03, 0.1, 0.3, 1.0]}
    )
    folds = 2 if args.smoke else 5
    small = dict(filters=(8, 16)) if args.smoke else {}
    config = tuned_config(args.tuning_json)
    results = {}
    svc_params = []

    def measure(name, run, *args, **kwargs):
        start = time.perf_counter()
        accuracy = run(*args, **kwargs)
        results.setdefault(name, []).append((accuracy, time.perf_counter() - start))

    def train(build, data, split, *, fit_epochs=epochs, batch_size=args.batch_size, learning_rate=None, **kwargs):
        keras.utils.set_random_seed(split)
        model = build(data.input_shape, data.num_classes, seed=split, **kwargs)
        return fit_keras(model, data, epochs=fit_epochs, batch_size=batch_size, learning_rate=learning_rate)

    def svc(data):
        accuracy, params = svc_accuracy(data, grid=grid, folds=folds)
        svc_params.append(params)
        return accuracy

    augment_text = ""
    for split in range(splits):
        data = load_dataset("digits", seed=split, validation_split=0.0, limit=300 if args.smoke else None)
        augmentation, augment_text = digit_augmentation(args.augment, seed=split)
        measure("cnn", train, build_cnn, data, split, augmentation=augmentation, **small)
        if augmentation is not None:
            measure("cnn_plain", train, build_cnn, data, split, **small)
        if config is not None:
            kwargs = dict(config)
            fit = {key: kwargs.pop(key) for key in ("learning_rate", "batch_size", "epochs") if key in kwargs}
            spec = kwargs.pop("augmentation", None)
            strength = kwargs.pop("augment_strength", 1.0)
            if spec not in (None, "none"):
                kwargs["augmentation"] = digit_augmentation(str(spec), seed=split, strength=strength)[0]
            measure(
                "tuned", train, build_cnn, data, split,
                fit_epochs=fit.get("epochs", epochs), batch_size=fit.get("batch_size", args.batch_size),
                learning_rate=fit.get("learning_rate"), **kwargs,
            )
        measure("svc", svc, data)
        measure("dense", train, dense_network, data, split)
        keras.backend.clear_session()
        done = ", ".join(f"{name} {runs[-1][0]:.4f} ({runs[-1][1]:.0f} s)" for name, runs in results.items())
        print(f"split {split + 1}/{splits}: {done}", flush=True)

    svc_accuracies = [a for a, _ in results["svc"]]
    svc_mean = statistics.mean(svc_accuracies)

    def text(name, versus_svc=True):
        accuracies = [a for a, _ in results[name]]
        mean = statistics.mean(accuracies)
        std = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
        out = f"{mean:.4f} +/- {std:.4f} test accuracy"
        if versus_svc:
            wins = sum(a > b for a, b in zip(accuracies, svc_accuracies))
            ties = sum(a == b for a, b in zip(accuracies, svc_accuracies))
            out += f", beats the SVC on {wins}/{len(accuracies)} splits" + (f" ({ties} tied)" if ties else "")
        seconds = statistics.mean(t for _, t in results[name])
        return mean, f"{out}; {_common.fmt_seconds(seconds)} per split"

    where = f"digits, {splits} stratified 80/20 splits"
    _, svc_text = text("svc", versus_svc=False)
    cs = sorted({p["C"] for p in svc_params})
    gammas = sorted({p["gamma"] for p in svc_params})
    svc_baseline = f"SVC: {svc_text.split(';')[0]} (C {cs}, gamma {gammas} chosen)"
    recipe = f"Adam + cosine decay, {epochs} epochs, batch {args.batch_size}"

    def versus_svc(figure, name, target=True):
        mean, value = text(name)
        return _common.make_row(
            figure, value, baseline=svc_baseline, ratio=mean / svc_mean,
            target="mean > SVC mean" if target else None, met=(mean > svc_mean) if target else None,
        )

    rows = [versus_svc(f"Accuracy: build_cnn default recipe ({augment_text}; {recipe}), {where}", "cnn")]
    if "cnn_plain" in results:
        rows.append(versus_svc(f"Accuracy: build_cnn default recipe without augmentation, {where}", "cnn_plain", False))
    if config is not None:
        rows.append(versus_svc(
            f"Accuracy: tuner-best configuration {json.dumps(config, sort_keys=True)}, {where}", "tuned"
        ))
    else:
        rows.append(_common.make_row(
            "Accuracy: tuner-best configuration",
            "not available (no bench_tuning.py JSON with a `config` row; see --tuning-json)",
        ))
    rows.append(versus_svc(f"Accuracy: plain dense network (Flatten, Dense 256-128; {recipe}), {where}", "dense", False))
    rows.append(_common.make_row(
        f"Accuracy: SVC (RBF; C in {grid['C']}, gamma in {grid['gamma']} by {folds}-fold GridSearchCV), {where}",
        svc_text,
    ))
    _common.emit(rows, args, title="Accuracy on digits: CNN vs SVC vs dense network")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
