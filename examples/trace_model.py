"""Trace tutorial D's CIFAR-10 network, export the trace, and trace a model as it trains.

Tutorial D builds three stages of [Conv2D -> BatchNorm] x2 -> MaxPool -> Dropout
(32, 64, 128 filters), then Flatten -> Dense(128) -> Dense(10). The trace checks
every shape the tutorial asks readers to verify by hand, counts the cost and
memory, says where the architecture wastes pixels or parameters, gives the
input window each output position sees (padding included), and exports the rows
as CSV.

    python examples/trace_model.py                      # print, export to trace_output/
    python examples/trace_model.py --svg docs/img/trace_vgg_bn.svg   # the docs' image
    python examples/trace_model.py --smoke              # a few seconds
"""

from __future__ import annotations

import argparse
import os

from keras_cnnlab import (
    ShapeTraceCallback,
    build_architecture,
    build_cnn,
    compile_for,
    load_dataset,
    print_shape_trace,
    trace_shapes,
)


def show_figures(trace) -> None:
    """Read figures from the trace: shapes, totals, input windows, warnings."""
    flatten = trace.row("head/flatten")
    print(f"\nFlatten: {flatten.input_shape} -> {flatten.output_shape} ({flatten.explanation})")
    totals = trace.totals
    print(f"Params {totals.params:,}; {totals.flops / 1e6:.1f} MFLOPs per image; last feature map: "
          f"receptive field {totals.receptive_field} of {totals.input_size}, effective stride "
          f"{totals.effective_stride}, effective padding {totals.effective_padding}")
    # Which input pixels one output position of block3 (a 4x4 map) sees: a corner, the centre.
    for position in ((0, 0), (2, 2)):
        (r0, r1), (c0, c1) = trace.input_window("block3", position)  # padding included
        (a0, a1), (b0, b1) = trace.input_window("block3", position, clip=True)
        print(f"block3 {position} sees rows {r0}..{r1 - 1}, columns {c0}..{c1 - 1}; "
              f"of the image: rows {a0}..{a1 - 1}, columns {b0}..{b1 - 1}")
    for finding in trace.warnings:
        print(f"warning ({finding.kind}): {finding.message}")


def export(trace, model, out, svg=None) -> None:
    """Export the trace: parameter share and backward memory, CSV, SVG, HTML, JSON."""
    # Where the parameters sit and what training keeps for the backward pass, per block.
    top = trace_shapes(model, batch_size=32, depth=0)
    print(top.to_text(columns=["layer", "output", "params", "param_share", "memory", "saved"]))
    # The same column names in CSV: one row per layer, for a spreadsheet or pandas.
    top.to_csv(
        os.path.join(out, "trace_vgg_bn.csv"),
        columns=["path", "output_shape", "params", "param_share", "saved", "rf", "effective_padding"],
    )
    svg = trace.save_svg(
        svg or os.path.join(out, "trace_vgg_bn.svg"),
        columns=["layer", "output", "params", "flops", "rf", "explain"],
        title="trace_shapes(build_architecture('vgg_bn', (32, 32, 3), 10))",
    )
    trace.save_html(os.path.join(out, "trace_vgg_bn.html"))
    trace.save(os.path.join(out, "trace_vgg_bn.json"))
    print(f"Wrote {svg} and the CSV, HTML and JSON beside it in {out}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny training run (a few seconds)")
    parser.add_argument("--out", default="trace_output", help="folder for the exported files")
    parser.add_argument("--svg", default=None, help="where to write the SVG (default OUT/trace_vgg_bn.svg)")
    args = parser.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)

    # 1. Tutorial D's model, traced without any data.
    model = build_architecture("vgg_bn", (32, 32, 3), 10)
    print_shape_trace(model, batch_size=32, optimizer="adam", depth=0)

    # 2. The same trace as an object: read figures, export it.
    trace = trace_shapes(model, batch_size=32, optimizer="adam", depth=1)
    show_figures(trace)
    export(trace, model, args.out, args.svg)

    # 3. Tracing as training starts: the callback writes the trace before the first batch.
    data = load_dataset("digits", limit=64 if args.smoke else None)
    digits = build_cnn(data.input_shape, data.num_classes, filters=(16, 32), pool_padding="same")
    # --smoke: two eager steps, no compilation.
    compile_for(digits, data.y_train, run_eagerly=args.smoke)
    log = os.path.join(args.out, "digits_trace.txt")
    digits.fit(
        data.x_train,
        data.y_train,
        validation_data=None if args.smoke else (data.x_val, data.y_val),
        epochs=1 if args.smoke else 10,
        batch_size=32,
        verbose=0 if args.smoke else 2,
        callbacks=[ShapeTraceCallback(path=log, batch_size=32)],
    )
    print(f"Wrote the digits model's trace to {log}")


if __name__ == "__main__":
    main()
