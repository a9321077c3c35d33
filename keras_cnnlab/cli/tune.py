"""``cnnlab tune``: a KerasTuner search over ``CNNHyperModel``, its table and its best model.

Trials are kept in ``DIRECTORY/PROJECT``; the command refuses to mix a new
search with one found there unless told to ``--resume`` or ``--overwrite`` it.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

from keras_cnnlab.cli.common import CLIError, import_keras, load_data, need


def tune(args: argparse.Namespace) -> int:
    """``cnnlab tune``."""
    if args.tuner == "hyperband" and args.max_trials is not None:
        raise CLIError(
            "--max-trials does not apply to --tuner hyperband: its trials follow from --epochs "
            "(the most epochs one trial gets) and its factor of 3."
        )
    project = args.project_name or args.dataset
    folder = args.directory / project
    exists = folder.exists() and any(folder.iterdir())
    if exists and not (args.resume or args.overwrite):
        raise CLIError(
            f"{folder} holds a search; pass --resume to continue it or --overwrite to start again."
        )
    if args.resume and not exists:
        raise CLIError(f"--resume: no search in {folder} to continue.")
    import_keras(seed=args.seed)
    data = load_data(args.dataset, seed=args.seed, limit=args.limit)
    tuning = need("tuning", "cnnlab tune")
    tuner = _tuner(args, tuning, data, project)
    print(f"{data}; {args.tuner} search in {folder}")
    search = dict(validation_data=(data.x_val, data.y_val), verbose=0)
    if args.tuner != "hyperband":
        search["epochs"] = args.epochs
    done = _completed(tuner)
    tuner.search(data.x_train, data.y_train, **search)
    tuning.results_table(tuner)
    best = folder / "best.keras"
    if args.resume and _completed(tuner) == done and best.exists():
        print(f"The search in {folder} had already run all its trials ({done} completed): none ran now,\n"
              f"and {best} is still its best model. Raise --max-trials (or --epochs for hyperband)\n"
              "to run more, or pass --overwrite to start again.")
        return 0
    _save_best(tuner, data, best, overwrite=args.overwrite)
    return 0


def _completed(tuner) -> int:
    """How many trials of ``tuner``'s search have completed."""
    return sum(trial.status == "COMPLETED" for trial in tuner.oracle.trials.values())


def _tuner(args, tuning, data, project: str):
    """The KerasTuner tuner of ``--tuner`` over keras_cnnlab's hypermodel for ``data``."""
    import keras_tuner

    space = None
    augment = need("augment", "cnnlab tune") if tuning.search_space.augmentation_available() else None
    if augment is not None and args.dataset in augment.FLIP_SENSITIVE:
        # A flipped digit is another digit (or none): search only flip-free augmentation.
        space = tuning.SearchSpace(augmentation=["none", "digits"])
    hypermodel = tuning.CNNHyperModel(
        data.input_shape, data.num_classes, search_space=space, labels=data.y_train,
        report=True, gap_monitor=True, seed=args.seed,
        freeze_gc=True,  # the command owns its process: keep KerasTuner's collections short
    )
    common = dict(
        objective="val_accuracy", directory=str(args.directory), project_name=project,
        overwrite=args.overwrite, seed=args.seed,
    )
    max_trials = args.max_trials or 10
    if args.tuner == "hyperband":
        return keras_tuner.Hyperband(hypermodel, max_epochs=args.epochs, factor=3, **common)
    if args.tuner == "bayesian":
        return keras_tuner.BayesianOptimization(hypermodel, max_trials=max_trials, **common)
    if args.tuner == "grid":
        # Every combination in order, the last hyperparameter changing first, until max_trials.
        return keras_tuner.GridSearch(hypermodel, max_trials=max_trials, **common)
    return keras_tuner.RandomSearch(hypermodel, max_trials=max_trials, **common)


def _save_best(tuner, data, path: Path, *, overwrite: bool) -> None:
    """Evaluate the best model on the test split and save it to ``path`` (or the next free name)."""
    with warnings.catch_warnings():
        # The best model is reloaded for evaluation only: its optimizer state is not needed.
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        best = tuner.get_best_models(1)[0]
    loss, accuracy = best.evaluate(data.x_test, data.y_test, batch_size=256, verbose=0)
    if path.exists() and not overwrite:
        # a resumed search keeps the model saved before: best-2.keras, best-3.keras, ...
        path = _free_name(path)
    best.save(path)
    print(f"best model: test accuracy {accuracy:.4f} (loss {loss:.4f}); saved to {path}")


def _free_name(path: Path) -> Path:
    """The first of ``path``'s ``STEM-N.SUFFIX`` siblings that does not exist yet."""
    n = 2
    while (candidate := path.with_name(f"{path.stem}-{n}{path.suffix}")).exists():
        n += 1
    return candidate
