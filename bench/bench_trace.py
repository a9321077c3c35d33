"""How long tracing a 200-layer model takes, next to Keras's own model.summary().

Variants, alternated round by round (``_common.alternate``) so machine noise
hits them alike, reported as medians and as ratios to ``model.summary()``:

* ``trace_shapes`` on a Sequential model (shapes read from its graph);
* ``trace_shapes`` on the same layers in a subclassed model (one symbolic call);
* ``trace.to_text()``: rendering the table;
* ``model.summary()`` (printing to nowhere), the anchor.

A second row traces every keras.applications model of :data:`APPLICATIONS`
(``weights=None``, their default input sizes; MobileNetV3 at 224x224): each must
trace with no layer of unknown cost, parameters equal to ``count_params()``, in
under a second (the median of 3 traces; building the model is not timed).

    python bench/bench_trace.py            # 200 layers, every application
    python bench/bench_trace.py --smoke    # 20 layers, a few rounds, two applications
"""

from __future__ import annotations

import _common
import keras

from keras_cnnlab import trace_shapes

TRACE_TARGET_SECONDS = 1.0  # a 200-layer trace, shapes and costs, in under a second

APPLICATIONS = (
    "VGG16", "VGG19", "ResNet50", "ResNet101", "ResNet152", "ResNet50V2", "ResNet101V2",
    "ResNet152V2", "MobileNet", "MobileNetV2", "MobileNetV3Small", "MobileNetV3Large",
    "DenseNet121", "InceptionV3", "InceptionResNetV2", "Xception", "EfficientNetB0",
    "EfficientNetV2B0", "ConvNeXtTiny", "NASNetMobile",
)


def trace_application(name: str, rounds: int = 3) -> dict:
    """Build ``keras.applications.<name>(weights=None)`` and time tracing it."""
    import statistics
    import time

    kwargs = {"input_shape": (224, 224, 3)} if name.startswith("MobileNetV3") else {}
    model = getattr(keras.applications, name)(weights=None, **kwargs)
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        trace = trace_shapes(model)
        times.append(time.perf_counter() - start)
    totals = trace.totals
    result = {
        "name": name, "seconds": statistics.median(times), "layers": len(trace.rows),
        "params_match": totals.params == model.count_params(),
        "unknown": len(totals.unknown_cost_layers), "macs": totals.macs,
        "rf": totals.receptive_field, "stride": totals.effective_stride,
        "padding": totals.effective_padding,
    }
    keras.backend.clear_session()
    return result


def applications_row(names) -> dict:
    results = [trace_application(name) for name in names]
    for r in results:
        rf = "?" if r["rf"] is None else r["rf"][0]
        print(
            f"{r['name']}: {r['layers']} rows, {_common.fmt_seconds(r['seconds'])}, "
            f"{r['macs'] / 1e9:.2f} G MACs, RF {rf} stride {r['stride']} padding {r['padding']}, "
            f"params match {r['params_match']}, unknown-cost layers {r['unknown']}"
        )
    slowest = max(results, key=lambda r: r["seconds"])
    good = all(r["params_match"] and not r["unknown"] for r in results)
    return _common.make_row(
        f"Trace: {len(results)} keras.applications models (weights=None), slowest trace",
        f"{_common.fmt_seconds(slowest['seconds'])} ({slowest['name']}, {slowest['layers']} rows)",
        baseline="params == count_params() and no unknown-cost layer: "
        + ("all" if good else "not all"),
        target=f"< {TRACE_TARGET_SECONDS:g} s each, params match, no unknown cost",
        met=good and slowest["seconds"] < TRACE_TARGET_SECONDS,
    )


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


def _discarding(fn):
    def run() -> None:
        fn()
    return run


def main(argv=None) -> int:
    parser = _common.make_parser(__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=None, help="default 200; smoke 20")
    parser.add_argument("--rounds", type=int, default=None, help="default 7; smoke 3")
    args = parser.parse_args(argv)
    n_layers = args.layers or (20 if args.smoke else 200)
    rounds = args.rounds or (3 if args.smoke else 7)

    shape = (32, 32, 3)
    sequential = keras.Sequential([keras.Input(shape), *layer_stack(n_layers)], name="seq")
    subclassed = Stack(layer_stack(n_layers), name="sub")
    trace = trace_shapes(sequential)
    if len(trace.rows) != n_layers:
        raise RuntimeError(f"the trace has {len(trace.rows)} rows for {n_layers} layers")

    anchor = "model.summary()"
    variants = {
        "trace_shapes, Sequential (graph)": lambda: trace_shapes(sequential),
        "trace_shapes, subclassed (symbolic call)": lambda: trace_shapes(subclassed, shape),
        "ShapeTrace.to_text() (rendering)": lambda: trace.to_text(),
        anchor: lambda: sequential.summary(print_fn=lambda *a, **k: None),
    }
    # alternate() takes a variant's float return value as its own timing: return nothing
    timings = _common.alternate({name: _discarding(fn) for name, fn in variants.items()}, repeats=rounds)
    summary_time = timings.median(anchor)
    rows = []
    for name in variants:
        if name == anchor:
            continue
        median = timings.median(name)
        traced = name.startswith("trace_shapes")
        rows.append(_common.make_row(
            f"Trace: {name}, {n_layers} layers",
            f"{_common.fmt_seconds(median)} (+/-{timings.spread(name):.0%})",
            baseline=f"{anchor}: {_common.fmt_seconds(summary_time)}",
            ratio=timings.ratio(name, anchor),
            target=f"< {TRACE_TARGET_SECONDS:g} s" if traced else None,
            met=median < TRACE_TARGET_SECONDS if traced else None,
        ))
    rows.append(applications_row(("MobileNet", "EfficientNetB0") if args.smoke else APPLICATIONS))
    _common.emit(rows, args, title=f"Shape trace of a {n_layers}-layer model ({timings.rounds} rounds)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
