"""Tutorial C: MNIST with 5x5 "valid" convolutions and one-hot labels.

The study notes build Conv2D(32, 5x5) -> MaxPool(2) -> Conv2D(64, 5x5) ->
MaxPool(2) -> Flatten -> Dense(10, softmax), check by hand that "valid" padding
takes 28 -> 24 -> 12 -> 8 -> 4, one-hot encode the labels with
``to_categorical``, and train with categorical crossentropy, SGD, batch 100, for
5 epochs. The notes report no test figure.

Here the network is ``build_architecture("lenet")``, ``load_dataset(...,
one_hot=True)`` encodes the labels, ``compile_for`` picks categorical
crossentropy because the labels are one-hot (and refuses the sparse loss with a
message that says why), and the shape trace prints the 28 -> 24 -> 12 -> 8 -> 4
arithmetic.

Measured (2 CPU cores, TensorFlow backend):

* MNIST could not be measured here (no network to download it); run
  ``python examples/tutorial_c_mnist_onehot.py`` where it is cached.
* ``python examples/tutorial_c_mnist_onehot.py --dataset digits`` (digits
  resized to 28x28x1, 5 epochs): test accuracy 0.8914
  (SGD at the tutorial's settings, 5 epochs); 8 s in all.
* ``--smoke``: 8 s (192 training images, one epoch).
"""

from __future__ import annotations

import sys

from _common import heading, load, parser

from keras_cnnlab import (
    OverfittingGapMonitor,
    RichTrainingReport,
    build_architecture,
    compile_for,
    print_shape_trace,
)


def main(argv=None) -> int:
    args = parser(__doc__, dataset="mnist", epochs=5, batch_size=100).parse_args(argv)
    data = load(args.dataset, input_shape=(28, 28, 1), smoke=args.smoke, one_hot=True, seed=args.seed)
    print(f"labels are one-hot: y_train.shape = {data.y_train.shape}")

    model = build_architecture("lenet", data.input_shape, data.num_classes, seed=args.seed)
    heading("Shapes, with the arithmetic of every step (28 -> 24 -> 12 -> 8 -> 4)")
    print_shape_trace(model, depth=1, columns=["layer", "output", "params", "explain"])

    heading("The classic mix-up is caught before training")
    try:
        compile_for(model, data.y_train, loss="sparse_categorical_crossentropy")
    except ValueError as error:
        print(f"  ValueError: {error}")

    compile_for(model, data.y_train, optimizer="sgd", learning_rate=0.05,
                run_eagerly=args.smoke)  # --smoke: no graph tracing
    print(f"  compile_for chose: {type(model.loss).__name__}")

    heading("Training")
    model.fit(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val),
              epochs=1 if args.smoke else args.epochs, batch_size=args.batch_size,
              callbacks=[OverfittingGapMonitor(), RichTrainingReport()])
    loss, accuracy = model.evaluate(data.x_test, data.y_test, verbose=0)
    heading(f"Test accuracy {accuracy:.4f} (loss {loss:.4f}); the notes report no figure")
    return 0


if __name__ == "__main__":
    sys.exit(main())
