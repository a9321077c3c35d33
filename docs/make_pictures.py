"""Regenerate the pictures of the documentation, made by keras_cnnlab itself.

    python docs/make_pictures.py                  # all of them, into docs/img/
    python docs/make_pictures.py trace demo       # some of them

Each picture is made by the code a user runs: the example script that
demonstrates the feature (the shape trace and the training report exported as
SVG, the augmentation grids, the training curves), or ``cnnlab demo`` for the
command line's curves. Training runs on the offline digits dataset with fixed
seeds. A picture whose script is not in this checkout is skipped with a message.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import runpy
import shutil
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
IMG = ROOT / "docs" / "img"
EXAMPLES = ROOT / "examples"

# name -> (script in examples/, its arguments, the files it writes into docs/img/)
PICTURES = {
    "trace": ("trace_model.py", ["--out", "{tmp}", "--svg", "{img}/trace_vgg_bn.svg"], ["trace_vgg_bn.svg"]),
    "report": ("report_and_gap.py", ["--out", "{img}"], ["report.svg", "curves.png"]),
    "augmentation": ("augmentation_preview.py", ["--out", "{img}"], ["augment_digits.png", "augment_standard.png"]),
    "demo": (None, [], ["demo-curves.png"]),
}


def _run_example(script: str, argv: list[str]) -> None:
    """Run ``examples/<script>`` as ``__main__`` with ``argv``, its output kept quiet."""
    saved_argv, saved_path = sys.argv, list(sys.path)
    sys.argv = [str(EXAMPLES / script), *argv]
    sys.path.insert(0, str(EXAMPLES))
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            runpy.run_path(str(EXAMPLES / script), run_name="__main__")
    except SystemExit as exit_:
        if exit_.code not in (None, 0):
            raise RuntimeError(f"examples/{script} exited with {exit_.code}") from None
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path


def _demo(tmp: str) -> None:
    """``cnnlab demo``; its curves become img/demo-curves.png."""
    from keras_cnnlab import cli

    out = Path(tmp) / "demo"
    with contextlib.redirect_stdout(io.StringIO()):
        code = cli.main(["demo", "--out", str(out)])
    if code != 0:
        raise RuntimeError(f"cnnlab demo exited with {code}")
    shutil.copyfile(out / "curves.png", IMG / "demo-curves.png")


def make(name: str) -> list[Path] | None:
    """Make one entry of :data:`PICTURES`; ``None`` when its script is missing."""
    import keras

    script, argv, files = PICTURES[name]
    keras.utils.set_random_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        if script is None:
            _demo(tmp)
        elif not (EXAMPLES / script).exists():
            return None
        else:
            _run_example(script, [a.format(img=IMG, tmp=tmp) for a in argv])
    keras.backend.clear_session()
    paths = [IMG / f for f in files]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise RuntimeError(f"{name}: expected {missing} to be written")
    return paths


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"pictures to make: {', '.join(PICTURES)} (default: all)")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.names) - set(PICTURES))
    if unknown:
        parser.error(f"unknown picture {unknown[0]!r}; choose from {', '.join(PICTURES)}")
    IMG.mkdir(exist_ok=True)
    for name in args.names or PICTURES:
        paths = make(name)
        if paths is None:
            print(f"skipped {name}: examples/{PICTURES[name][0]} is not in this checkout")
            continue
        for path in paths:
            print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
