"""Test accuracy on the digits dataset over five stratified splits: CNN vs tuned SVC vs dense network.

Each split (``load_dataset("digits", seed=s)`` for s = 0..4) holds out 20% of
the 1,797 images for testing, stratified by class; every method learns from
the other 80%:

- build_cnn's default recipe: build_cnn's defaults (with a digits-safe
  augmentation preset when keras_cnnlab.augment is available), compile_for
  (Adam), batch 32, early stopping on the validation loss (10% of the
  training images) with the best weights restored;
- scikit-learn's SVC with an RBF kernel, C and gamma chosen by a 5-fold
  GridSearchCV on the training images;
- a plain dense network (Flatten, Dense 256 and 128 with dropout) trained
  exactly as the CNN;
- the best configuration of a tuner search, when bench_tuning.py's JSON
  (``--tuning-json``) has a row with a ``config`` entry (build_cnn keyword
  arguments, plus optional ``augmentation``, ``learning_rate``, ``batch_size``
  and ``epochs``).

Quoted: mean and standard deviation of test accuracy over the splits, and
mean wall time per split (training, search and prediction). The goal is to
beat the SVC's mean accuracy.

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
import numpy as np

# Names tried in turn for a preset that keeps digits' meaning (no flips).
DIGIT_SAFE_PRESETS = ("digits", "characters", "glyphs", "text", "light")


def digit_augmentation(choice: str, seed: int):
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
                    return factory(name, seed=seed), f"augmentation {name!r}"
            except (ValueError, TypeError, KeyError):
                continue
    if choice != "auto":
        raise SystemExit(f"--augment {choice!r}: keras_cnnlab.augment knows no such preset or spec.")
    return None, "no augmentation (no digit-safe preset found)"


def fit_keras(model, data, *, epochs, batch_size, learning_rate=None, seed=0):
    """Train with the shared recipe; return test accuracy."""
    import keras

    from keras_cnnlab import compile_for

    compile_for(model, data.y_train, learning_rate=learning_rate)
    stop = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=max(2, epochs // 4), restore_best_weights=True
    )
    model.fit(
        data.x_train, data.y_train,
        validation_data=(data.x_val, data.y_val),
        epochs=epochs, batch_size=batch_size, verbose=0, callbacks=[stop],
    )
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

    # The SVC searches by cross-validation, so it gets the validation images too.
    x = np.concatenate([data.x_train, data.x_val]).reshape(-1, int(np.prod(data.input_shape)))
    y = np.concatenate([data.y_train, data.y_val])
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
    parser.add_argument("--epochs", type=int, default=None, help="most epochs per network (default 40; smoke 2)")
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
    epochs = args.epochs or (2 if args.smoke else 40)
    grid = (
        {"C": [10.0], "gamma": [0.1]}
        if args.smoke
        else {"C": [1.0, 3.0, 10.0, 30.0], "gamma": [0.03, 0.1, 0.3, 1.0]}
    )
    cnn_kwargs = dict(filters=(8, 16)) if args.smoke else {}
    config = tuned_config(args.tuning_json)

    results = {name: ([], []) for name in ("cnn", "svc", "dense", "tuned")}
    augment_text = ""
    svc_params = []

    def record(name, start, accuracy):
        results[name][0].append(accuracy)
        results[name][1].append(time.perf_counter() - start)

    for split in range(splits):
        data = load_dataset("digits", seed=split, limit=300 if args.smoke else None)

        keras.utils.set_random_seed(split)
        start = time.perf_counter()
        augmentation, augment_text = digit_augmentation(args.augment, seed=split)
        model = build_cnn(data.input_shape, data.num_classes, augmentation=augmentation, seed=split, **cnn_kwargs)
        record("cnn", start, fit_keras(model, data, epochs=epochs, batch_size=args.batch_size))

        start = time.perf_counter()
        accuracy, params = svc_accuracy(data, grid=grid, folds=2 if args.smoke else 5)
        record("svc", start, accuracy)
        svc_params.append(params)

        keras.utils.set_random_seed(split)
        start = time.perf_counter()
        model = dense_network(data.input_shape, data.num_classes, seed=split)
        record("dense", start, fit_keras(model, data, epochs=epochs, batch_size=args.batch_size))

        if config is not None:
            keras.utils.set_random_seed(split)
            start = time.perf_counter()
            kwargs = dict(config)
            fit = {key: kwargs.pop(key) for key in ("learning_rate", "batch_size", "epochs") if key in kwargs}
            spec = kwargs.pop("augmentation", None)
            if spec not in (None, "none"):
                kwargs["augmentation"], _ = digit_augmentation(str(spec), seed=split)
            model = build_cnn(data.input_shape, data.num_classes, seed=split, **kwargs)
            accuracy = fit_keras(
                model, data,
                epochs=fit.get("epochs", epochs), batch_size=fit.get("batch_size", args.batch_size),
                learning_rate=fit.get("learning_rate"),
            )
            record("tuned", start, accuracy)
        keras.backend.clear_session()

    def stats(name):
        accuracies, seconds = results[name]
        mean = statistics.mean(accuracies)
        std = statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0
        return mean, f"{mean:.4f} +/- {std:.4f} test accuracy, {_common.fmt_seconds(statistics.mean(seconds))} per split"

    svc_mean, svc_text = stats("svc")
    cnn_mean, cnn_text = stats("cnn")
    dense_mean, dense_text = stats("dense")
    gammas = sorted({p["gamma"] for p in svc_params})
    cs = sorted({p["C"] for p in svc_params})
    where = f"digits, {splits} stratified 80/20 splits"
    svc_baseline = f"SVC (RBF, GridSearchCV C in {cs}, gamma in {gammas} chosen): {svc_text}"
    rows = [
        _common.make_row(
            f"Accuracy: build_cnn default recipe ({augment_text}), {where}",
            cnn_text,
            baseline=svc_baseline,
            ratio=cnn_mean / svc_mean,
            target="mean > SVC mean",
            met=cnn_mean > svc_mean,
        ),
        _common.make_row(
            f"Accuracy: plain dense network (Flatten, Dense 256-128), {where}",
            dense_text,
            baseline=svc_baseline,
            ratio=dense_mean / svc_mean,
        ),
        _common.make_row(f"Accuracy: SVC (RBF, tuned C and gamma), {where}", svc_text),
    ]
    if config is not None:
        tuned_mean, tuned_text = stats("tuned")
        rows.insert(1, _common.make_row(
            f"Accuracy: tuner-best configuration {json.dumps(config, sort_keys=True)}, {where}",
            tuned_text,
            baseline=svc_baseline,
            ratio=tuned_mean / svc_mean,
            target="mean > SVC mean",
            met=tuned_mean > svc_mean,
        ))
    else:
        rows.insert(1, _common.make_row(
            "Accuracy: tuner-best configuration",
            "not available (no bench_tuning.py JSON with a `config` row; see --tuning-json)",
        ))
    _common.emit(rows, args, title="Accuracy on digits: CNN vs SVC vs dense network")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
