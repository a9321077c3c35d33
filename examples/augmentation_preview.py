"""What each augmentation preset does to digits: the presets table and two pictures.

Writes ``augment_digits.png`` (the "digits" preset: four digits, each with eight
augmented copies) and ``augment_standard.png`` (tutorial B's 3x3 grid with the
"standard" preset: its horizontal flips make mirror-image digits, which is why
digits get a preset of their own).

    python examples/augmentation_preview.py                # writes docs/img/
    python examples/augmentation_preview.py --smoke --out /tmp/preview
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="small pictures, a few seconds")
    parser.add_argument("--out", default=None, help="folder for the pictures (default docs/img; "
                        "with --smoke a temporary folder, so the docs' pictures stay as they are)")
    args = parser.parse_args(argv)
    if args.out is None:
        import tempfile

        args.out = tempfile.mkdtemp(prefix="augment-preview-") if args.smoke else str(ROOT / "docs" / "img")
    start = time.perf_counter()

    from keras_cnnlab import load_dataset
    from keras_cnnlab.augment import PRESETS, preview_augmentation

    print("| preset | transforms | what it is for |")
    print("|---|---|---|")
    for preset in PRESETS.values():
        print(f"| {preset.name} | `{preset.to_string()}` | {preset.description} |")

    data = load_dataset("digits")
    # One example of each of four classes.
    picks = [int((data.y_train == digit).argmax()) for digit in (2, 3, 5, 7)]
    dpi = 40 if args.smoke else 100
    out = Path(args.out)
    digits = preview_augmentation(
        "digits", data.x_train[picks], n=4 if args.smoke else 8, seed=0,
        path=out / "augment_digits.png", dpi=dpi,
    )
    standard = preview_augmentation(
        "standard", data.x_train[picks[0]], n=8, seed=0, path=out / "augment_standard.png", dpi=dpi,
    )
    print(f"\nwrote {digits} and {standard} in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
