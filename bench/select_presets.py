"""How the presets and recipes were chosen: validation accuracy only, test images untouched.

For each split seed, ``load_dataset(name, seed=s, validation_split=v)`` holds out its
test images as usual; the candidates are trained with ``default_recipe(name)`` (its
augmentation replaced by each candidate spec) on the remaining training images and
scored on the validation images carved out of them. The test split never enters,
so the choices made from this table can be judged on it by bench_accuracy.py.

    python bench/select_presets.py --dataset digits --validation-split 0.2 --splits 5 \\
        none padcrop0.125-fillconstant padcrop0.125-contrast0.2-fillconstant
    python bench/select_presets.py --dataset lfw_subset --splits 10 none flip light standard
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("specs", nargs="+", help="augmentation presets or spec strings ('none' for none)")
    p.add_argument("--dataset", default="digits", help="an offline dataset: digits or lfw_subset")
    p.add_argument("--validation-split", type=float, default=0.25)
    p.add_argument("--splits", type=int, default=5)
    p.add_argument("--epochs", type=int, default=None, help="default: the recipe's")
    args = p.parse_args(argv)

    import keras

    from keras_cnnlab import augmentation_preset, build_cnn, default_recipe, load_dataset

    results = {spec: [] for spec in args.specs}
    start = time.perf_counter()
    for split in range(args.splits):
        data = load_dataset(args.dataset, seed=split, validation_split=args.validation_split)
        recipe = default_recipe(data, augmentation="none")
        if args.epochs:
            recipe = recipe.replace(epochs=args.epochs)
        for spec in args.specs:
            keras.utils.set_random_seed(split)
            augmentation = None if spec == "none" else augmentation_preset(spec, seed=split)
            model = build_cnn(data.input_shape, data.num_classes, seed=split, augmentation=augmentation)
            recipe.fit(model, data.x_train, data.y_train, verbose=0)
            results[spec].append(recipe.evaluate(model, data.x_val, data.y_val))
            keras.backend.clear_session()
        print(f"split {split}: " + ", ".join(f"{s} {v[-1]:.4f}" for s, v in results.items())
              + f" ({time.perf_counter() - start:.0f} s)", flush=True)
    print(f"\n| augmentation | validation accuracy, mean +/- std over {args.splits} splits "
          f"({len(data.y_val)} validation images each) |\n|---|---|")
    for spec, values in results.items():
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        print(f"| `{spec}` | {statistics.mean(values):.4f} +/- {std:.4f} |")
    print("\ncommand: python bench/select_presets.py " + " ".join(sys.argv[1:] if argv is None else argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
