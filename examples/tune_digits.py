"""Tune a CNN on scikit-learn's 8x8 digits with CNNHyperModel (works offline).

    python examples/tune_digits.py                        # Hyperband, a few minutes on a CPU
    python examples/tune_digits.py --tuner random --max-trials 20
    python examples/tune_digits.py --objective gap        # penalise train/validation gaps
    python examples/tune_digits.py --smoke                # two tiny trials, seconds

Distributed: run the same command in every process (sharing --directory), with
KerasTuner's variables giving each its role; the chief prints the results:

    KERASTUNER_TUNER_ID=chief  KERASTUNER_ORACLE_IP=127.0.0.1 KERASTUNER_ORACLE_PORT=8000 \\
        python examples/tune_digits.py --directory runs/shared &
    KERASTUNER_TUNER_ID=tuner0 KERASTUNER_ORACLE_IP=127.0.0.1 KERASTUNER_ORACLE_PORT=8000 \\
        python examples/tune_digits.py --directory runs/shared &
    KERASTUNER_TUNER_ID=tuner1 KERASTUNER_ORACLE_IP=127.0.0.1 KERASTUNER_ORACLE_PORT=8000 \\
        python examples/tune_digits.py --directory runs/shared
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def make_tuner(name, hypermodel, objective, args):
    import keras_tuner as kt

    common = dict(
        objective=objective, directory=args.directory, project_name="tune_digits",
        overwrite=args.overwrite, seed=args.seed,
    )
    if name == "hyperband":
        return kt.Hyperband(hypermodel, max_epochs=args.max_epochs, factor=3, **common)
    if name == "bayesian":
        return kt.BayesianOptimization(hypermodel, max_trials=args.max_trials, **common)
    if name == "grid":
        return kt.GridSearch(hypermodel, max_trials=args.max_trials, **common)
    return kt.RandomSearch(hypermodel, max_trials=args.max_trials, **common)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Tune a CNN on the digits dataset.")
    parser.add_argument("--tuner", choices=["hyperband", "random", "bayesian", "grid"], default="hyperband")
    parser.add_argument("--max-trials", type=int, default=12, help="trials (random, bayesian, grid)")
    parser.add_argument("--max-epochs", type=int, default=9, help="Hyperband's max_epochs")
    parser.add_argument("--epochs", type=int, default=9, help="epochs per trial (random, bayesian, grid)")
    parser.add_argument("--objective", choices=["val_accuracy", "gap"], default="val_accuracy",
                        help="'gap': validation accuracy minus the train/validation gap")
    parser.add_argument("--directory", default=None, help="where trials are stored (shared when distributed)")
    parser.add_argument("--overwrite", action="store_true", help="start over instead of resuming")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="two tiny trials of one epoch")
    args = parser.parse_args(argv)

    import keras
    from keras.callbacks import EarlyStopping

    from keras_cnnlab.data import load_dataset
    from keras_cnnlab.tuning import (
        CNNHyperModel,
        SearchSpace,
        gap_objective,
        results_table,
        tuner_role,
    )
    from keras_cnnlab.tuning.search_space import augmentation_available

    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.get_logger().setLevel("ERROR")  # each trial's new model retraces; expected here
    keras.utils.set_random_seed(args.seed)
    data = load_dataset("digits", seed=args.seed, limit=300 if args.smoke else None)
    # downsample_factor=2 lets the 8x8 digits take up to three blocks (8 -> 4 -> 2 -> 1).
    space = SearchSpace(downsample_factor=2)
    if augmentation_available():
        space.choose(augmentation=["none", "digits"])
    if args.smoke:
        space.fix(num_blocks=1, kernel_size=3, head_units=0).choose(filters=[4, 8])
        args.tuner, args.max_trials, args.epochs = "random", 2, 1
        if args.directory is None:
            args.directory, args.overwrite = tempfile.mkdtemp(prefix="tune_digits_"), True
    args.directory = args.directory or os.path.join("runs", "tune_digits")

    hypermodel = CNNHyperModel(
        data.input_shape, data.num_classes, search_space=space, seed=args.seed,
        gap_penalty=1.0 if args.objective == "gap" else None,  # what gap_objective() ranks by
        # Tiny smoke models train faster step by step than traced.
        compile_kwargs=dict(run_eagerly=True) if args.smoke else None,
    )
    objective = gap_objective() if args.objective == "gap" else "val_accuracy"
    tuner = make_tuner(args.tuner, hypermodel, objective, args)
    fit_kwargs = dict(validation_data=(data.x_val, data.y_val), verbose=0)
    if args.tuner != "hyperband":
        fit_kwargs.update(epochs=args.epochs, callbacks=[EarlyStopping(patience=3)])
    tuner.search(data.x_train, data.y_train, **fit_kwargs)

    if tuner_role() == "worker":
        return 0  # the chief reports
    results_table(tuner, num_trials=10)
    best = tuner.get_best_models(1)[0]
    _, accuracy = best.evaluate(data.x_test, data.y_test, verbose=0)
    print(f"best model: test accuracy {accuracy:.4f} on {len(data.x_test)} held-out digits")
    return 0


if __name__ == "__main__":
    sys.exit(main())
