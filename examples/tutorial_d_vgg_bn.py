"""Tutorial D: a VGG-style network with batch norm and dropout on CIFAR-10.

The tutorial writes three stages of [Conv2D(f, 3x3, relu, same) -> BatchNorm] x2
-> MaxPool(2) -> Dropout(0.25) with f = 32, 64, 128, then Flatten -> Dense(128)
-> Dropout(0.25) -> Dense(10, softmax); Adam, one-hot labels, categorical
crossentropy, 12 epochs, batch 32. Reported: 84.9% train accuracy, 83.00% test
accuracy.

Here the network is ``build_architecture("vgg_bn")`` (each stage is one
``ConvBlock(f, convs=2, dropout=0.25)``); ``--augment standard`` adds the
augmentation preset in front of it, the usual next step towards the 86-88% that
small VGG networks with augmentation reach.

Measured (2 CPU cores, TensorFlow backend):

* CIFAR-10 could not be measured here (no network to download it); run
  ``python examples/tutorial_d_vgg_bn.py`` where it is cached.
* ``python examples/tutorial_d_vgg_bn.py --dataset digits`` (digits resized to
  32x32x3, 12 epochs): train 0.9830, test 0.9638
  (best validation 0.9861 at epoch 11); 36 s in all.
* ``--smoke``: 9 s (192 training images, one epoch).
"""

from __future__ import annotations

import sys

from _common import heading, load, parser

from keras_cnnlab import (
    OverfittingGapMonitor,
    RichTrainingReport,
    augmentation_preset,
    build_architecture,
    compile_for,
    print_shape_trace,
)


def main(argv=None) -> int:
    p = parser(__doc__, dataset="cifar10", epochs=12, batch_size=32)
    p.add_argument("--augmentation", "--augment", default="none", metavar="PRESET",
                   help="augmentation preset in front of the network (default none, as the tutorial)")
    args = p.parse_args(argv)
    data = load(args.dataset, input_shape=(32, 32, 3), smoke=args.smoke, one_hot=True, seed=args.seed)

    augmentation = None
    if args.augmentation != "none":
        augmentation = augmentation_preset(args.augmentation, seed=args.seed)
    model = build_architecture("vgg_bn", data.input_shape, data.num_classes,
                               augmentation=augmentation, seed=args.seed)
    print_shape_trace(model, depth=0)
    # One-hot labels -> categorical crossentropy. --smoke: a few eager steps, no graph tracing.
    compile_for(model, data.y_train, optimizer="adam", run_eagerly=args.smoke)

    history = model.fit(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val),
                        epochs=1 if args.smoke else args.epochs, batch_size=args.batch_size,
                        callbacks=[OverfittingGapMonitor(), RichTrainingReport()])
    _, accuracy = model.evaluate(data.x_test, data.y_test, verbose=0)
    heading(f"train {history.history['accuracy'][-1]:.4f}, test {accuracy:.4f} "
            "(tutorial D on CIFAR-10: train 0.849, test 0.8300)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
