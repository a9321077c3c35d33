"""``cnnlab trace``: the shape trace of a saved model or of a named architecture, and its exports."""

from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path

from keras_cnnlab.cli.common import PROG, CLIError, build_model, import_keras, need


def trace(args: argparse.Namespace) -> int:
    """``cnnlab trace``."""
    if (args.model is None) == (args.arch is None):
        raise CLIError("give either a saved model (cnnlab trace model.keras) or --arch NAME, not both.")
    for path in (args.html, args.svg, args.json):
        if path is not None and path.exists() and not args.overwrite:
            raise CLIError(f"{path} exists; pass --overwrite to replace it.")
    import_keras()
    trace_module = need("trace", "cnnlab trace")
    if args.model is not None:
        model = _load_model(args.model)
        input_shape = args.input_shape
    else:
        try:
            model = build_model(args.arch, args.input_shape or (32, 32, 3), args.num_classes)
        except ValueError as error:
            # The arithmetic is the point of this command: show all of it.
            print(f"{PROG}: error: {error}", file=sys.stderr)
            return 1
        input_shape = None
    columns = None
    if args.columns:
        columns = "all" if args.columns == "all" else [c.strip() for c in args.columns.split(",") if c.strip()]
    options = {"batch_size": args.batch_size}
    if args.depth is not None:
        options["depth"] = args.depth
    trace_module.print_shape_trace(model, input_shape, columns=columns, **options)
    if args.html or args.svg or args.json:
        _export(args, trace_module.trace_shapes(model, input_shape, **options), columns)
    return 0


def _export(args, trace, columns) -> None:
    """Save ``trace`` to the files of --html, --svg and --json."""
    written = []
    if args.html is not None:
        trace.save_html(args.html, columns)
        written.append(args.html)
    if args.svg is not None:
        trace.save_svg(args.svg, columns)
        written.append(args.svg)
    if args.json is not None:
        args.json.write_text(trace.to_json() + "\n", encoding="utf-8")
        written.append(args.json)
    for path in written:
        print(f"saved {path}")


def _load_model(path: Path):
    """The model saved at ``path``, with keras_cnnlab's layers registered; one-line errors."""
    if not path.exists():
        raise CLIError(f"{path}: no such file.")
    if path.suffix not in (".keras", ".h5", ".hdf5"):
        raise CLIError(f"{path}: expected a model saved as .keras.")
    if path.is_dir():
        raise CLIError(f"{path} is a directory; give the .keras file a model was saved to.")
    if path.suffix == ".keras" and not zipfile.is_zipfile(path):
        raise CLIError(
            f"{path} is not a Keras model file: a .keras file is the zip archive `model.save(path)` "
            "writes, and this one is not a zip archive."
        )
    from keras_cnnlab.saving import load_model

    try:
        return load_model(path, compile=False)
    except Exception as error:  # Keras raises many types for a file it cannot read
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CLIError(f"{path}: could not load it as a Keras model ({first})") from None
