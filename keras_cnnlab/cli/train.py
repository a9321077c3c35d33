"""``cnnlab demo`` and ``cnnlab train``: build, trace, train, evaluate and save one network.

Both run :func:`fit_and_save`: ``demo`` on the offline digits with everything
at its default, ``train`` with the dataset, network, augmentation and recipe of
the command line.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import time
import warnings

from keras_cnnlab.cli.common import CLIError, build_model, import_keras, load_data, need, one_line
from keras_cnnlab.cli.parser import RECIPE_OPTIONS
from keras_cnnlab.cli.run_files import (
    LastEpochWeights,
    history_dict,
    print_saved,
    run_dir,
    save_interrupted,
    save_run,
)

#: Library argument names that are options of ``cnnlab train`` too.
_OPTION_NAMES = {"strength", "label_smoothing", "learning_rate", "weight_decay", "warmup_epochs",
                 "epochs", "batch_size", "ema", "schedule", "optimizer"}


def demo(args: argparse.Namespace) -> int:
    """``cnnlab demo``: the digits recipe's network on the digits."""
    # With 144 validation images val_loss is noisy, so the gap monitor waits 5 epochs
    # (its patience in fit_and_save) before it calls a rise overfitting.
    return fit_and_save(args, dataset="digits", arch="default", preset="auto")


def train(args: argparse.Namespace) -> int:
    """``cnnlab train``."""
    return fit_and_save(
        args, dataset=args.dataset, arch=args.arch, preset=args.augmentation,
        strength=args.strength, limit=args.limit,
    )


def fit_and_save(args, *, dataset: str, arch: str, preset: str, strength=None, limit=None,
                 patience=5) -> int:
    """Train ``arch`` on ``dataset`` with the recipe of ``args``, evaluate it, save the run."""
    start = time.perf_counter()
    import_keras(seed=args.seed)
    data = load_data(dataset, seed=args.seed, limit=limit)
    out = run_dir(args.out, args.overwrite)
    recipe, augmentation, preset = _recipe_and_augmentation(args, dataset, preset, data, strength)
    model = _build(arch, data, recipe, augmentation, seed=args.seed)
    described = preset if strength is None else f"{preset}, strength {strength:g}"
    print(data)
    network = f" ({recipe.describe_network()})" if arch == "default" else ""
    print(f"network {arch!r}{network} with augmentation {described!r}")
    print(f"recipe: {recipe.describe()}")
    need("trace", "The shape trace").print_shape_trace(model, depth=0)

    callbacks = need("callbacks", "The training report")
    report = callbacks.RichTrainingReport(batch_size=recipe.batch_size)
    monitor = callbacks.OverfittingGapMonitor(monitor="accuracy", patience=patience)
    last_epoch = LastEpochWeights()
    recipe.compile(model, data.y_train, images=data.x_train)
    title = f"{dataset}: network {arch!r}, augmentation {described!r}"
    try:
        history = model.fit(
            data.x_train, data.y_train,
            validation_data=(data.x_val, data.y_val),
            epochs=recipe.epochs, batch_size=recipe.batch_size,
            callbacks=[monitor, report, last_epoch], verbose=0,
        )
    except KeyboardInterrupt:
        return save_interrupted(out, model, last_epoch, report, title)
    test_loss, _ = model.evaluate(data.x_test, data.y_test, batch_size=256, verbose=0)
    test_accuracy = recipe.evaluate(model, data.x_test, data.y_test)
    seconds = time.perf_counter() - start

    metrics = {
        "dataset": dataset, "arch": arch, "augmentation": preset, "strength": strength,
        "recipe": dataclasses.asdict(recipe), "seed": args.seed,
        "train_images": int(len(data.x_train)), "test_images": int(len(data.x_test)),
        "test_loss": float(test_loss), "test_accuracy": float(test_accuracy),
        "params": int(model.count_params()), "seconds": round(seconds, 1),
        "history": history_dict(history),
    }
    curves = save_run(out, model, history, report, title, metrics)
    print(
        f"test accuracy {test_accuracy:.4f} (loss {test_loss:.4f}) on {len(data.x_test)} "
        f"held-out {dataset} images; {seconds:.0f}s in all"
    )
    print_saved(out, curves)
    return 0


def _recipe_and_augmentation(args, dataset: str, preset: str, data, strength):
    """The recipe, the augmentation layer and its preset's name; errors name the options."""
    try:
        recipe = _recipe(args, dataset)
        augmentation, preset = _augmentation(recipe, preset, data, strength=strength, seed=args.seed)
    except ValueError as error:  # a recipe field or the strength: say it with the option's name
        raise CLIError(_as_options(one_line(error))) from None
    return recipe, augmentation, preset


def _recipe(args, dataset: str):
    """The dataset's default recipe with the command line's changes."""
    from keras_cnnlab.recipe import default_recipe

    changes = {name: getattr(args, name, None) for name in RECIPE_OPTIONS}
    changes = {name: value for name, value in changes.items() if value is not None}
    recipe = default_recipe(dataset, **changes)
    import keras

    try:
        keras.optimizers.get(recipe.optimizer)
    except ValueError:
        raise CLIError(
            f"--optimizer {recipe.optimizer!r} is not a Keras optimizer; try adam, adamw, sgd or rmsprop."
        ) from None
    return recipe


def _augmentation(recipe, preset: str, data, *, strength, seed):
    """The augmentation layer of the run and the name it is shown by."""
    name = recipe.augmentation if preset == "auto" else preset
    if name == "none":
        if strength is not None:
            raise ValueError(
                f"--strength {strength:g} scales an augmentation preset, but this run has none "
                "(--augmentation none, or the recipe for the data trains without one). Add "
                "--augmentation PRESET, e.g. --augmentation digits."
            )
        return None, name
    augment = need("augment", f"--augmentation {name}")
    if name == "auto":
        name = augment.preset_for(data)
    kwargs = {"seed": seed, "data": data}  # checks the preset against the data (no flips on digits)
    if strength is not None:
        kwargs["strength"] = strength
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            layer = augment.augmentation_preset(name, **kwargs)
        except ValueError as error:  # --strength's limits say their option; an unknown preset, this one
            message = one_line(error)
            if not message.startswith("Invalid value for argument"):
                message = f"--augmentation {name}: {message}"
            raise CLIError(_as_options(message)) from None
    for warning in caught:  # the library's advice, in this command's options
        message = warning.message
        if isinstance(message, augment.FlipWarning):
            message = (
                f"--augmentation {name} flips images ({message.flip}), but the {message.data} "
                "dataset holds digits or characters, whose meaning a mirror image changes (a "
                "flipped 2 is no digit). Use --augmentation digits, or a spec string without flip."
            )
        warnings.warn(message, stacklevel=2)
    return layer, name


def _build(arch: str, data, recipe, augmentation, *, seed: int):
    """The network; too small an input for it is one line, with the command that shows why."""
    from keras_cnnlab.shapes import ShapeError

    try:
        return build_model(arch, data.input_shape, data.num_classes, network=recipe.network,
                           augmentation=augmentation, seed=seed)
    except ShapeError as error:
        shape = ",".join(str(n) for n in data.input_shape)
        raise CLIError(f"{one_line(error)} Every step: cnnlab trace --arch {arch} --input-shape {shape}") from None


def _as_options(message: str) -> str:
    """A library message with the command line's names: `label_smoothing` -> --label-smoothing."""
    message = re.sub(r"Invalid value for argument `(\w+)`[.:] ?", lambda m: f"{_option(m[1])}: ", message)
    message = re.sub(r"\b(\w+)=(?=\S)", lambda m: f"{_option(m[1])} " if m[1] in _OPTION_NAMES else m[0], message)
    return re.sub(r"`(\w+)`", lambda m: _option(m[1]) if m[1] in _OPTION_NAMES else m[0], message)


def _option(name: str) -> str:
    return f"--{name.replace('_', '-')}" if name in _OPTION_NAMES else f"`{name}`"
