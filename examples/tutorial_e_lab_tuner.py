"""Tutorial E: the lab, Load -> Reshape -> Normalize -> Encode -> ... -> Adjust, ending in a search.

The lab walks through the whole workflow on Fashion-MNIST (or CIFAR-10):
load, reshape to (N, 28, 28, 1), scale to [0, 1], encode the labels; build a
Sequential CNN; compile; train with validation_split=0.1 for 10-20 epochs at
batch 32-128; monitor the training and validation curves for overfitting;
evaluate on the test set; and adjust filters, kernel size, pool size, layers,
dropout and batch norm in a "conceptual exploration" left to manual
experiments. It reports no accuracy figure.

Here each step is one call: ``load_dataset`` (Load, Reshape, Normalize,
Encode), ``build_cnn``, ``compile_for``, ``fit`` with the training report and
the gap monitor (Monitor), ``evaluate``, and the Adjust step is a
``tuner.search()`` over ``CNNHyperModel``'s space: blocks, filters, kernel
size, pooling, dropout, batch norm, head, optimizer and augmentation.

Measured (2 CPU cores, TensorFlow backend):

* Fashion-MNIST could not be measured here (no network to download it); run
  ``python examples/tutorial_e_lab_tuner.py`` where it is cached.
* ``python examples/tutorial_e_lab_tuner.py --dataset digits`` (8x8 digits,
  10 epochs, 8 random-search trials): hand-picked network
  test accuracy 0.9499; best of the 8-trial search 0.9415 test (0.9444
  validation); 52 s in all. Eight random trials at 10 epochs do not beat the
  hand-picked network here; ``examples/tune_digits.py`` (Hyperband) and
  ``bench/bench_accuracy.py`` run longer searches.
* ``--smoke``: 13 s (two one-epoch trials on 192 images).
"""

from __future__ import annotations

import sys
import tempfile

import keras_tuner
from _common import heading, load, parser

from keras_cnnlab import (
    CNNHyperModel,
    OverfittingGapMonitor,
    RichTrainingReport,
    build_cnn,
    compile_for,
    results_table,
)

INPUT_SHAPES = {"digits": (8, 8, 1), "mnist": (28, 28, 1), "fashion_mnist": (28, 28, 1), "cifar10": (32, 32, 3)}


def main(argv=None) -> int:
    p = parser(__doc__, dataset="fashion_mnist", epochs=10, batch_size=64)
    p.add_argument("--trials", type=int, default=8, help="trials of the search (default 8)")
    p.add_argument("--directory", default=None, help="where the tuner keeps its trials (default: a new temporary directory)")
    args = p.parse_args(argv)
    epochs = 1 if args.smoke else args.epochs

    heading("Load, Reshape, Normalize, Encode")
    data = load(args.dataset, input_shape=INPUT_SHAPES[args.dataset], smoke=args.smoke,
                seed=args.seed, validation_split=0.1)

    heading("Build, Compile")
    model = build_cnn(data.input_shape, data.num_classes, filters=(32, 64), dropout=0.25, seed=args.seed)
    compile_for(model, data.y_train, run_eagerly=args.smoke)  # --smoke: no graph tracing

    heading("Train and Monitor")
    monitor = OverfittingGapMonitor(patience=2)
    model.fit(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val),
              epochs=epochs, batch_size=args.batch_size, callbacks=[monitor, RichTrainingReport()])

    heading("Evaluate")
    _, baseline = model.evaluate(data.x_test, data.y_test, verbose=0)
    print(f"  hand-picked network: test accuracy {baseline:.4f}")

    heading("Adjust: the hyperparameter exploration as one tuner.search()")
    directory = args.directory or tempfile.mkdtemp(prefix="tutorial-e-")
    tuner = keras_tuner.RandomSearch(
        CNNHyperModel(data.input_shape, data.num_classes, seed=args.seed),
        objective="val_accuracy",
        max_trials=1 if args.smoke else args.trials,
        directory=directory,
        project_name="lab",
        overwrite=True,
        seed=args.seed,
    )
    tuner.search(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val),
                 epochs=epochs, verbose=0)
    results_table(tuner)
    best = tuner.get_best_models(1)[0]
    _, tuned = best.evaluate(data.x_test, data.y_test, verbose=0)
    heading(f"Test accuracy: hand-picked {baseline:.4f}, best of the search {tuned:.4f} "
            f"(trials kept in {directory})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
