"""Watch two CNNs train: one that overfits and one that does not.

Both fits print a RichTrainingReport (live in a terminal, plain lines in a log)
and carry an OverfittingGapMonitor. The first network sees only 40 training
digits and has no regularisation: it memorises them, the validation loss turns
up, and the monitor dates the onset and stops it, restoring the best weights.
The second sees the full training split with dropout and batch normalization.

    python examples/report_and_gap.py                      # about a minute on 2 cores
    python examples/report_and_gap.py --smoke              # a few seconds
    python examples/report_and_gap.py --out docs/img       # also writes report.svg and curves.png
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's keras_cnnlab

import keras  # noqa: E402

from keras_cnnlab import (  # noqa: E402
    OverfittingGapMonitor,
    RichTrainingReport,
    build_cnn,
    compile_for,
    load_dataset,
    plot_history,
)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="a few epochs on a few images")
    parser.add_argument("--out", type=Path, help="folder for report.svg and curves.png")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    epochs = 4 if args.smoke else 60

    data = load_dataset("digits", seed=args.seed)
    keras.utils.set_random_seed(args.seed)

    # 1. A network that can only memorise: 40 images, no dropout, no batch norm.
    few_x, few_y = data.x_train[:40], data.y_train[:40]
    model = build_cnn(data.input_shape, data.num_classes, filters=(32, 64), batch_norm=False,
                      dropout=0.0, head_units=(512,), head_dropout=0.0, seed=args.seed)
    compile_for(model, few_y, learning_rate=1e-2)
    report = RichTrainingReport()
    monitor = OverfittingGapMonitor(
        "accuracy",
        # Forty images are learnt long before the validation digits: the gap is wide from the
        # first epochs while validation still improves. Judge by the onset alone.
        max_gap=None,
        patience=4,
        action="stop",
        restore_best_weights=True,
        # the gap from an inference-mode pass over the training images, not the running average
        unbiased_subset=40,
        train_data=(few_x, few_y),
    )
    history = model.fit(few_x, few_y, validation_data=(data.x_val, data.y_val), epochs=epochs,
                        batch_size=16, callbacks=[report, monitor])

    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        report.save(args.out / "report.svg")
        plot_history(history, args.out / "curves.png", onset=monitor,
                     title="40 training digits, no regularisation")
        print(f"wrote {args.out / 'report.svg'} and {args.out / 'curves.png'}")

    # 2. The same family with dropout and batch norm, on the full training split.
    model = build_cnn(data.input_shape, data.num_classes, filters=(32, 64), dropout=0.25,
                      seed=args.seed)
    compile_for(model, data.y_train)
    x, y = (data.x_train[:256], data.y_train[:256]) if args.smoke else (data.x_train, data.y_train)
    monitor = OverfittingGapMonitor()
    model.fit(x, y, validation_data=(data.x_val, data.y_val), epochs=2 if args.smoke else 15,
              batch_size=32, callbacks=[RichTrainingReport(), monitor])
    print(f"regularised network: {monitor.verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
