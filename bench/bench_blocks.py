"""ConvBlock network vs the same network written layer by layer with plain Keras layers.

Both networks are build_cnn's default (three ConvBlocks of 32, 64 and 128
filters with batch norm, max pooling and dropout, then a ClassifierHead) on the
digits dataset; the plain one spells out every Conv2D, BatchNormalization,
Activation, MaxPooling2D, Dropout and Dense layer. The script checks that the
two have the same parameter count, given the same weights the same outputs,
and (on TensorFlow) the same operations in their training-step graph. Then it
times one training epoch of each, alternating, and quotes the median of the
per-round ratios (target <= 1.02). A second, identical plain network runs in
the same rounds as a control: its ratio to the first is the noise floor of the
run (1.0 on a quiet machine).

    python bench/bench_blocks.py            # about a minute on 2 cores
    python bench/bench_blocks.py --smoke    # seconds
"""

from __future__ import annotations

import _common
import numpy as np

TARGET = 1.02


def plain_cnn(input_shape, num_classes, *, filters, dropout, head_units, head_dropout, seed=None):
    """build_cnn's default network, written with plain Keras layers only."""
    import keras
    from keras import layers

    inputs = keras.Input(input_shape, name="image")
    x = inputs
    for i, f in enumerate(filters):
        x = layers.Conv2D(f, 3, padding="same", use_bias=False, kernel_initializer="he_normal")(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.MaxPooling2D(2)(x)
        if dropout:
            x = layers.Dropout(dropout, seed=None if seed is None else seed + i)(x)
    x = layers.Flatten()(x)
    for units in head_units:
        x = layers.Dense(units)(x)
        x = layers.Activation("relu")(x)
        if head_dropout:
            x = layers.Dropout(head_dropout, seed=None if seed is None else seed + len(filters))(x)
    x = layers.Dense(num_classes)(x)
    outputs = layers.Activation("softmax")(x)
    return keras.Model(inputs, outputs, name="plain")


def train_graph_ops(model, x, y):
    """Operation counts of the model's traced training step (TensorFlow only), or None."""
    import collections

    import keras

    if keras.backend.backend() != "tensorflow":
        return None
    import tensorflow as tf

    step = tf.function(model.train_step)
    graph = step.get_concrete_function((tf.constant(x), tf.constant(y))).graph
    return collections.Counter(op.type for op in graph.get_operations())


def main(argv=None) -> int:
    parser = _common.make_parser(__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=None, help="timed epochs per variant (default 30; smoke 2)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--tile", type=int, default=None,
        help="repeat the training images this many times per epoch, for longer epochs (default 2; smoke 1)",
    )
    args = parser.parse_args(argv)

    import keras

    from keras_cnnlab import build_cnn, compile_for, load_dataset

    repeats = args.repeats or (2 if args.smoke else 30)
    tile = args.tile or (1 if args.smoke else 2)
    data = load_dataset("digits", seed=0, limit=128 if args.smoke else None)
    x = np.concatenate([data.x_train] * tile)
    y = np.concatenate([data.y_train] * tile)
    recipe = dict(filters=(8, 16) if args.smoke else (32, 64, 128), dropout=0.1, head_units=(128,), head_dropout=0.3)

    keras.utils.set_random_seed(0)
    blocks = build_cnn(data.input_shape, data.num_classes, **recipe, seed=0)
    plain = plain_cnn(data.input_shape, data.num_classes, **recipe, seed=0)
    control = plain_cnn(data.input_shape, data.num_classes, **recipe, seed=0)
    block_params, plain_params = blocks.count_params(), plain.count_params()

    # Same weights in, same outputs out: the two really are one network.
    plain.set_weights(blocks.get_weights())
    probe = data.x_test[:64]
    same = np.allclose(
        keras.ops.convert_to_numpy(blocks(probe, training=False)),
        keras.ops.convert_to_numpy(plain(probe, training=False)),
        atol=1e-5,
    )

    models = {"ConvBlock": blocks, "plain layers": plain, "plain copy": control}
    timers = {}
    for name, model in models.items():
        compile_for(model, y)
        timers[name] = _common.EpochTimer()

    def epoch(name, model):
        def run():
            model.fit(x, y, batch_size=args.batch_size, epochs=1, verbose=0, shuffle=True,
                      callbacks=[timers[name].callback])
            return timers[name].seconds
        return run

    timings = _common.alternate({name: epoch(name, model) for name, model in models.items()}, repeats=repeats, warmup=1)
    ratio = timings.ratio("ConvBlock", "plain layers")
    floor = timings.ratio("plain copy", "plain layers")
    batch = (x[: args.batch_size], y[: args.batch_size])
    graphs = {name: train_graph_ops(models[name], *batch) for name in ("ConvBlock", "plain layers")}
    steps = -(-len(x) // args.batch_size)
    where = f"digits 8x8x1, {len(x)} images/epoch, batch {args.batch_size} ({steps} steps), {repeats} epochs each, alternating"
    rows = [
        _common.make_row(
            "Blocks: training time per epoch, build_cnn (ConvBlock + ClassifierHead)",
            f"{_common.fmt_seconds(timings.median('ConvBlock'))} (+/-{timings.spread('ConvBlock'):.0%})",
            baseline=f"same network in plain Keras layers: {_common.fmt_seconds(timings.median('plain layers'))} "
            f"(+/-{timings.spread('plain layers'):.0%}); {where}",
            ratio=ratio,
            target=f"<= {TARGET}",
            met=ratio <= TARGET,
            note=f"ratio: median of per-round ratios; the identical plain copy measured {floor:.3f} in the same rounds"
            + ("" if graphs["ConvBlock"] is None else
               f"; training-step graphs {'identical' if graphs['ConvBlock'] == graphs['plain layers'] else 'differ'}"),
        ),
        _common.make_row(
            "Blocks: noise floor, plain layers vs an identical plain copy",
            f"{_common.fmt_seconds(timings.median('plain copy'))} (+/-{timings.spread('plain copy'):.0%})",
            baseline=f"plain layers: {_common.fmt_seconds(timings.median('plain layers'))}; same rounds",
            ratio=floor,
        ),
        _common.make_row(
            "Blocks: parameter count, build_cnn vs plain layers",
            f"{block_params:,}",
            baseline=f"{plain_params:,}",
            ratio=block_params / plain_params,
            target="equal",
            met=block_params == plain_params,
        ),
        _common.make_row(
            "Blocks: same outputs given the same weights",
            "yes" if same else "no",
            baseline="plain layers",
            target="identical (atol 1e-5)",
            met=bool(same),
        ),
    ]
    if graphs["ConvBlock"] is not None:
        ops = {name: sum(counts.values()) for name, counts in graphs.items()}
        rows.append(_common.make_row(
            "Blocks: operations in the traced training step (TensorFlow graph)",
            f"{ops['ConvBlock']:,}",
            baseline=f"plain layers: {ops['plain layers']:,}",
            target="same operations",
            met=graphs["ConvBlock"] == graphs["plain layers"],
        ))
    _common.emit(rows, args, title="ConvBlock vs plain Keras layers")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
