"""How the presets, networks and recipes were chosen: validation accuracy only, test images untouched.

For each split seed, ``load_dataset(name, seed=s, validation_split=v)`` holds out its
test images as usual; the candidates are trained with ``default_recipe(name)`` (its
augmentation replaced by each candidate spec, its network by each ``--network``) on
the remaining training images and scored on the validation images carved out of
them. The test split never enters, so the choices made from this table can be judged
on it by bench_accuracy.py.

    python bench/select_presets.py --dataset digits --validation-split 0.2 --splits 5 \\
        none padcrop0.125-fillconstant padcrop0.125-contrast0.2-fillconstant
    python bench/select_presets.py --dataset lfw_subset --splits 10 none flip light standard
    python bench/select_presets.py --dataset digits --validation-split 0.2 --splits 5 \\
        --network 'default={}' --network 'two={"filters": [64, 128]}' none padcrop0.125-fillconstant
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time


def _named_json(text: str) -> tuple[str, dict]:
    name, sep, body = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected NAME=JSON, got {text!r}")
    try:
        value = json.loads(body)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"{text!r}: {error}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"{text!r}: the JSON must be an object")
    return name, value


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("specs", nargs="+", help="augmentation presets or spec strings ('none' for none)")
    p.add_argument("--dataset", default="digits", help="an offline dataset: digits or lfw_subset")
    p.add_argument("--validation-split", type=float, default=0.25)
    p.add_argument("--splits", type=int, default=5)
    p.add_argument("--epochs", type=int, default=None, help="default: the recipe's")
    p.add_argument("--network", type=_named_json, action="append", default=None,
                   help="NAME=JSON of build_cnn arguments; repeat for several (default: 'default={}')")
    p.add_argument("--recipe", type=_named_json, action="append", default=None,
                   help="NAME=JSON of Recipe fields to change; repeat for several (default: 'default={}')")
    args = p.parse_args(argv)

    import keras

    from keras_cnnlab import augmentation_preset, build_cnn, default_recipe, load_dataset

    networks = dict(args.network or [("default", {})])
    recipes = dict(args.recipe or [("default", {})])
    candidates = [(n, r, s) for n in networks for r in recipes for s in args.specs]
    results = {c: [] for c in candidates}
    seconds = {c: 0.0 for c in candidates}
    start = time.perf_counter()
    for split in range(args.splits):
        data = load_dataset(args.dataset, seed=split, validation_split=args.validation_split)
        for network, recipe_name, spec in candidates:
            recipe = default_recipe(data, augmentation="none", **recipes[recipe_name])
            if args.epochs:
                recipe = recipe.replace(epochs=args.epochs)
            keras.utils.set_random_seed(split)
            began = time.perf_counter()
            augmentation = None if spec == "none" else augmentation_preset(spec, seed=split)
            model = build_cnn(data.input_shape, data.num_classes, seed=split, augmentation=augmentation,
                              **networks[network])
            recipe.fit(model, data.x_train, data.y_train, verbose=0)
            results[(network, recipe_name, spec)].append(recipe.evaluate(model, data.x_val, data.y_val))
            seconds[(network, recipe_name, spec)] += time.perf_counter() - began
            keras.backend.clear_session()
        print(f"split {split}: " + ", ".join(f"{'/'.join(c)} {v[-1]:.4f}" for c, v in results.items())
              + f" ({time.perf_counter() - start:.0f} s)", flush=True)
    print(f"\n| network | recipe changes | augmentation | validation accuracy, mean +/- std over "
          f"{args.splits} splits ({len(data.y_val)} validation images each) | s per fit |\n|---|---|---|---|---|")
    for (network, recipe_name, spec), values in results.items():
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        print(f"| {network} `{json.dumps(networks[network])}` | `{json.dumps(recipes[recipe_name])}` | `{spec}` "
              f"| {statistics.mean(values):.4f} +/- {std:.4f} "
              f"| {seconds[(network, recipe_name, spec)] / args.splits:.1f} |")
    print("\ncommand: python bench/select_presets.py " + " ".join(sys.argv[1:] if argv is None else argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
