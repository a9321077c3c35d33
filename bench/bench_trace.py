"""How long tracing a 200-layer model takes, next to Keras's own model.summary().

Variants, alternated round by round so machine noise hits them alike, reported
as medians:

* ``trace_shapes`` on a Sequential model (shapes read from its graph);
* ``trace_shapes`` on the same layers in a subclassed model (one symbolic call);
* ``trace.to_text()``: rendering the table;
* ``model.summary()`` (printing to nowhere), the anchor.

    python bench/bench_trace.py            # 200 layers
    python bench/bench_trace.py --smoke    # 20 layers, a few rounds
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

import keras

from keras_cnnlab import trace_shapes


def layer_stack(n_layers: int) -> list:
    """``n_layers`` layers: (Conv2D, BatchNormalization, ReLU) repeated, then a head."""
    layers = []
    while len(layers) < n_layers - 2:
        for layer in (
            keras.layers.Conv2D(8, 3, padding="same", kernel_initializer="zeros"),
            keras.layers.BatchNormalization(),
            keras.layers.ReLU(),
        ):
            if len(layers) < n_layers - 2:
                layers.append(layer)
    return [*layers, keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10)]


class Stack(keras.Model):
    """The same layers, called in a loop: a subclassed model with no graph."""

    def __init__(self, layers, **kwargs):
        super().__init__(**kwargs)
        self.stack = layers

    def call(self, x, training=None):
        for layer in self.stack:
            x = layer(x)
        return x


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="20 layers, 3 rounds")
    parser.add_argument("--layers", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args(argv)
    n_layers = args.layers or (20 if args.smoke else 200)
    rounds = args.rounds or (3 if args.smoke else 7)

    shape = (32, 32, 3)
    sequential = keras.Sequential([keras.Input(shape), *layer_stack(n_layers)], name="seq")
    subclassed = Stack(layer_stack(n_layers), name="sub")
    trace = trace_shapes(sequential)
    assert len(trace.rows) == n_layers, len(trace.rows)

    variants = {
        "trace_shapes, Sequential (graph)": lambda: trace_shapes(sequential),
        "trace_shapes, subclassed (symbolic call)": lambda: trace_shapes(subclassed, shape),
        "ShapeTrace.to_text() (rendering)": lambda: trace.to_text(),
        "model.summary() (anchor)": lambda: sequential.summary(print_fn=lambda *a, **k: None),
    }
    for fn in variants.values():  # warm-up: first calls compile and import
        fn()
    times = {name: [] for name in variants}
    for _ in range(rounds):
        for name, fn in variants.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)

    anchor = statistics.median(times["model.summary() (anchor)"])
    print(f"| layers | variant | median ms ({rounds} rounds) | vs model.summary() |")
    print("|---:|---|---:|---:|")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"| {n_layers} | {name} | {median * 1e3:.1f} | {median / anchor:.2f}x |")
    backend = keras.backend.backend()
    cmd = " ".join(["python", "bench/bench_trace.py", *(sys.argv[1:] if argv is None else argv)])
    print(f"\nkeras {keras.__version__}, backend {backend}; command: KERAS_BACKEND={backend} {cmd}")


if __name__ == "__main__":
    main()
