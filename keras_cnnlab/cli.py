"""The ``cnnlab`` command line."""

from __future__ import annotations

import argparse
import os
import sys
import time


def _quiet_backend_logs() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _demo(args: argparse.Namespace) -> int:
    from keras_cnnlab.data import load_dataset
    from keras_cnnlab.models import build_cnn, compile_for

    start = time.perf_counter()
    data = load_dataset("digits", seed=args.seed)
    print(data)
    model = build_cnn(data.input_shape, data.num_classes, seed=args.seed)
    compile_for(model, data.y_train, images=data.x_train)
    model.fit(
        data.x_train,
        data.y_train,
        validation_data=(data.x_val, data.y_val),
        epochs=args.epochs,
        batch_size=args.batch_size,
        verbose=2,
    )
    _, accuracy = model.evaluate(data.x_test, data.y_test, verbose=0)
    print(f"test accuracy: {accuracy:.4f} on {len(data.x_test)} held-out digits "
          f"({time.perf_counter() - start:.1f}s in all)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``cnnlab``."""
    parser = argparse.ArgumentParser(
        prog="cnnlab",
        description="Build, trace, train and tune CNN image classifiers with Keras 3.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo",
        help="train a CNN on the offline digits dataset and report test accuracy",
        description="Train build_cnn's default network on scikit-learn's digits (offline).",
        epilog="example: cnnlab demo --epochs 20",
    )
    demo.add_argument("--epochs", type=int, default=20, help="training epochs (default 20)")
    demo.add_argument("--batch-size", type=int, default=32, help="batch size (default 32)")
    demo.add_argument("--seed", type=int, default=0, help="seed of the splits and layers")
    demo.set_defaults(func=_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``cnnlab``; returns the exit code."""
    _quiet_backend_logs()
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
