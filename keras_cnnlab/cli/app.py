"""``main``: parse the command line, run the command, turn its errors into one line."""

from __future__ import annotations

import argparse
import os
import sys
import warnings

from keras_cnnlab.cli.common import PROG, CLIError, one_line
from keras_cnnlab.cli.parser import build_parser
from keras_cnnlab.cli.trace import trace
from keras_cnnlab.cli.train import demo, train
from keras_cnnlab.cli.tune import tune

COMMANDS = {"demo": demo, "train": train, "tune": tune, "trace": trace}


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``cnnlab``; returns the exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # --help, or a bad argument (already reported)
        return exit_.code if isinstance(exit_.code, int) else 2
    if args.debug:
        os.environ["CNNLAB_DEBUG"] = "1"
    formatwarning = warnings.formatwarning
    if not args.debug:
        warnings.formatwarning = _format_warning  # one line, not the source line that warned
    try:
        return _run(args)
    finally:
        warnings.formatwarning = formatwarning


def _format_warning(message, category, filename, lineno, line=None) -> str:
    return f"{PROG}: warning: {message}\n"


def _run(args: argparse.Namespace) -> int:
    try:
        return COMMANDS[args.command](args)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except CLIError as error:
        if args.debug:
            raise
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return 1
    except (ValueError, RuntimeError, OSError, ImportError) as error:
        if args.debug:
            raise
        print(f"{PROG}: error: {one_line(error)} (--debug shows the traceback)", file=sys.stderr)
        return 1
