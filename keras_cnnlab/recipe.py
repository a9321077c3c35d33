"""How to train: :class:`Recipe`, one object for the network, optimizer, schedule and regularizers.

A recipe holds every training choice: the changes to build_cnn's default network
that suit the data, the optimizer, learning
rate with warmup and cosine decay, weight decay, label smoothing, an exponential
moving average of the weights, epochs, batch size, the augmentation preset for the
data and flip test-time augmentation. :func:`default_recipe` gives the measured
default for a dataset; every field can be overridden, one at a time::

    recipe = default_recipe(data)                      # the network and preset for the data
    model = recipe.build_model(data, seed=0)           # build_cnn with recipe.network
    recipe.fit(model, data.x_train, data.y_train, validation_data=(data.x_val, data.y_val))
    recipe.evaluate(model, data.x_test, data.y_test)   # accuracy, with flip TTA if set

The command line, ``make demo``, the examples and the benchmarks all train this way.
"""

from __future__ import annotations

import dataclasses
import math
import numbers

import numpy as np

from keras_cnnlab.distribute import check_fit_batches, replica_count
from keras_cnnlab.losses import check_label_smoothing

__all__ = ["Recipe", "RECIPES", "default_recipe"]

SCHEDULES = ("cosine", "constant")


def _check(condition: bool, name: str, expected: str, value) -> None:
    if not condition:
        raise ValueError(
            f"Invalid value for argument `{name}`. Expected {expected}. Received {name}={value!r}."
        )


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


@dataclasses.dataclass(frozen=True)
class Recipe:
    """Every training choice, with the measured defaults.

    Args:
        network: :func:`~keras_cnnlab.build_cnn` arguments that change its
            default network for the data (``{}``: build_cnn's defaults), used by
            :meth:`build_model`.
        epochs: training epochs.
        batch_size: images per step.
        optimizer: a Keras optimizer name (``"adamw"``, ``"adam"``, ``"sgd"``, ...).
        learning_rate: the peak learning rate.
        weight_decay: decoupled weight decay of the optimizer (AdamW's
            ``weight_decay``); 0 turns it off.
        warmup_epochs: epochs of linear warmup from 0 to ``learning_rate``.
        schedule: ``"cosine"`` (decay to 0 at the last step) or ``"constant"``.
        label_smoothing: in [0, 1); works with integer ids and one-hot labels.
        ema: momentum of an exponential moving average of the weights, which
            replaces the weights at the end of ``fit`` (Keras optimizers'
            ``use_ema``), e.g. 0.99; ``None`` turns it off.
        augmentation: a preset name or spec string for
            :func:`~keras_cnnlab.augment.augmentation_preset`, ``"auto"`` (the
            preset for the data, see :data:`~keras_cnnlab.augment.PRESET_FOR_DATA`)
            or ``"none"``.
        flip_tta: average the predictions for each image and its mirror image in
            :meth:`predict` and :meth:`evaluate` (only where a mirror keeps the class).

    Example:

    ```python
    recipe = Recipe()                                   # build_cnn's defaults, no network change
    recipe = Recipe(epochs=30, label_smoothing=0.0)     # two choices changed
    recipe = default_recipe("cifar10").replace(batch_size=128)
    ```
    """

    network: dict = dataclasses.field(default_factory=dict)
    epochs: int = 60
    batch_size: int = 32
    optimizer: str = "adam"
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    warmup_epochs: int = 0
    schedule: str = "cosine"
    label_smoothing: float = 0.1
    ema: float | None = None
    augmentation: str = "auto"
    flip_tta: bool = False

    def __post_init__(self):
        _check(
            isinstance(self.network, dict) and all(isinstance(k, str) for k in self.network),
            "network", "a dict of build_cnn arguments such as {'filters': (64, 128)}", self.network,
        )
        object.__setattr__(self, "network", dict(self.network))
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            _check(_is_int(value) and value >= 1, name, "a strictly positive integer", value)
        _check(
            _is_int(self.warmup_epochs) and 0 <= self.warmup_epochs < self.epochs,
            "warmup_epochs", f"an integer in [0, epochs) = [0, {self.epochs})", self.warmup_epochs,
        )
        _check(isinstance(self.optimizer, str), "optimizer", "a Keras optimizer name such as 'adamw'", self.optimizer)
        _check(_is_number(self.learning_rate) and self.learning_rate > 0, "learning_rate", "a number > 0", self.learning_rate)
        _check(_is_number(self.weight_decay) and self.weight_decay >= 0, "weight_decay", "a number >= 0", self.weight_decay)
        _check(self.schedule in SCHEDULES, "schedule", f"one of {SCHEDULES}", self.schedule)
        object.__setattr__(self, "label_smoothing", check_label_smoothing(self.label_smoothing))
        _check(
            self.ema is None or (_is_number(self.ema) and 0 < self.ema < 1),
            "ema", "a momentum in (0, 1) such as 0.99, or None", self.ema,
        )
        _check(isinstance(self.augmentation, str), "augmentation", "a preset name, a spec string, 'auto' or 'none'", self.augmentation)
        _check(isinstance(self.flip_tta, bool), "flip_tta", "True or False", self.flip_tta)

    def describe(self) -> str:
        """The recipe in words, e.g. ``"adam, learning rate 0.001 (cosine), label smoothing 0.1,
        60 epochs of batch 32"`` (fields left at off are not named; the network and the
        augmentation are not included: :meth:`describe_network` says the one, and
        ``"auto"`` depends on the data)."""
        first = f"{self.optimizer}, learning rate {self.learning_rate:g} ({self.schedule}"
        parts = [first + (f", {self.warmup_epochs} warmup epochs)" if self.warmup_epochs else ")")]
        if self.weight_decay:
            parts.append(f"weight decay {self.weight_decay:g}")
        if self.label_smoothing:
            parts.append(f"label smoothing {self.label_smoothing:g}")
        if self.ema is not None:
            parts.append(f"weight EMA {self.ema:g}")
        parts.append(f"{self.epochs} epoch{'s' if self.epochs != 1 else ''} of batch {self.batch_size}")
        if self.flip_tta:
            parts.append("flip test-time augmentation")
        return ", ".join(parts)

    def describe_network(self) -> str:
        """The network in words: ``"build_cnn's defaults"`` or its changes, e.g.
        ``"build_cnn with filters=(64, 128)"``."""
        if not self.network:
            return "build_cnn's defaults"
        return "build_cnn with " + ", ".join(f"{k}={v!r}" for k, v in self.network.items())

    def replace(self, **changes) -> Recipe:
        """A copy with some fields changed (each checked like the constructor's)."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise TypeError(
                f"Recipe has no field(s) {unknown}. Fields: "
                f"{', '.join(f.name for f in dataclasses.fields(self))}."
            )
        return dataclasses.replace(self, **changes)

    # -- the parts ---------------------------------------------------------------------

    def steps_per_epoch(self, train_size: int) -> int:
        """Optimizer steps in one epoch over ``train_size`` images."""
        return -(-int(train_size) // self.batch_size)

    def learning_rate_schedule(self, train_size: int):
        """The learning rate: a float, or a Keras schedule (warmup, then cosine decay)."""
        import keras

        steps = self.steps_per_epoch(train_size)
        total, warmup = steps * self.epochs, steps * self.warmup_epochs
        if self.schedule == "constant":
            if not warmup:
                return self.learning_rate
            return keras.optimizers.schedules.CosineDecay(
                0.0, 1, alpha=1.0, warmup_target=self.learning_rate, warmup_steps=warmup
            )
        if warmup:
            return keras.optimizers.schedules.CosineDecay(
                0.0, total - warmup, warmup_target=self.learning_rate, warmup_steps=warmup
            )
        return keras.optimizers.schedules.CosineDecay(self.learning_rate, total)

    def make_optimizer(self, train_size: int):
        """A fresh Keras optimizer for ``train_size`` training images."""
        import keras

        config = {"learning_rate": self.learning_rate_schedule(train_size)}
        if self.weight_decay:
            config["weight_decay"] = self.weight_decay
        if self.ema is not None:
            config.update(use_ema=True, ema_momentum=self.ema)
        try:
            return keras.optimizers.get({"class_name": self.optimizer, "config": config})
        except (ValueError, TypeError) as error:
            raise ValueError(
                f"Invalid value for argument `optimizer`: {self.optimizer!r} is not a Keras "
                f"optimizer that takes {sorted(config)} ({error}). Try 'adamw', 'adam', 'sgd' "
                "or 'rmsprop'."
            ) from None

    def augmentation_for(self, data, *, seed=None, value_range=(0, 1)):
        """The augmentation layer for ``data`` (a Dataset or a dataset name), or None."""
        from keras_cnnlab.augment.presets import preset_for

        name = self.augmentation
        if name == "auto":
            name = preset_for(data)
        if name == "none":
            return None
        from keras_cnnlab.augment import augmentation_preset

        return augmentation_preset(name, seed=seed, value_range=value_range, data=_data_hint(data))

    def build_model(self, data, *, seed=None, value_range=(0, 1), **overrides):
        """:func:`~keras_cnnlab.build_cnn` for ``data`` (a :class:`~keras_cnnlab.Dataset`)
        with this recipe's ``network`` and augmentation; ``overrides`` go to build_cnn
        last (e.g. ``name=``). Uncompiled: :meth:`fit` compiles it."""
        from keras_cnnlab.models import build_cnn

        kwargs = {"seed": seed, **self.network, **overrides}
        kwargs.setdefault("augmentation", self.augmentation_for(data, seed=seed, value_range=value_range))
        return build_cnn(data.input_shape, data.num_classes, **kwargs)

    # -- training ----------------------------------------------------------------------

    def compile(self, model, labels, **compile_kwargs):
        """Compile ``model`` for ``labels`` with this recipe's optimizer and loss.

        The loss comes from :func:`~keras_cnnlab.compile_for` (checked against the
        labels), with ``label_smoothing``. Returns the model.
        """
        from keras_cnnlab.compiling import compile_for

        return compile_for(
            model, labels, optimizer=self.make_optimizer(len(labels)),
            label_smoothing=self.label_smoothing, **compile_kwargs,
        )

    def fit(self, model, x, y, **fit_kwargs):
        """Compile ``model`` with :meth:`compile` and train it for ``epochs``.

        ``fit_kwargs`` go to ``model.fit`` (``validation_data``, ``callbacks``,
        ``verbose``, ...); ``epochs`` and ``batch_size`` come from the recipe.
        Under data parallelism the batches are checked first with
        :func:`~keras_cnnlab.distribute.check_fit_batches`: a batch size the
        replicas cannot split is a ``ValueError`` naming ``batch_size``.
        Returns the ``History``.
        """
        for name in ("epochs", "batch_size"):
            if name in fit_kwargs:
                raise TypeError(
                    f"Recipe.fit() sets `{name}` from the recipe ({getattr(self, name)}); change "
                    f"it with recipe.replace({name}=...) instead of passing it."
                )
        self.compile(model, y)
        check_fit_batches(
            model, self.batch_size, x, validation_data=fit_kwargs.get("validation_data"),
            validation_split=fit_kwargs.get("validation_split", 0.0),
            validation_batch_size=fit_kwargs.get("validation_batch_size"),
        )
        return model.fit(x, y, epochs=self.epochs, batch_size=self.batch_size, **fit_kwargs)

    def predict(self, model, x, *, batch_size=256, data_format=None) -> np.ndarray:
        """Class probabilities, averaged with the mirror images' when ``flip_tta``.

        Under data parallelism any number of images works: the last batch is
        padded to split over the replicas, and the padding's predictions dropped.
        """
        from keras_cnnlab._validation import check_data_format

        x = np.asarray(x)
        probabilities = _predict(model, x, batch_size)
        if self.flip_tta:
            axis = -2 if check_data_format(data_format) == "channels_last" else -1
            probabilities = (probabilities + _predict(model, np.flip(x, axis=axis), batch_size)) / 2
        return probabilities

    def evaluate(self, model, x, y, *, batch_size=256, data_format=None) -> float:
        """Accuracy of ``model`` on ``(x, y)``, with flip TTA when ``flip_tta``."""
        probabilities = self.predict(model, x, batch_size=batch_size, data_format=data_format)
        y = np.asarray(y)
        truth = y.argmax(axis=-1) if y.ndim == 2 and y.shape[1] > 1 else y.reshape(-1)
        if probabilities.shape[-1] == 1:  # one sigmoid unit
            predicted = (probabilities.reshape(-1) > 0.5).astype(int)
        else:
            predicted = probabilities.argmax(axis=-1)
        return float(np.mean(predicted == truth))


def _data_hint(data):
    """What augmentation_preset(data=...) checks: a Dataset, or a known name."""
    from keras_cnnlab.augment import DATA_HINTS

    if isinstance(data, str):
        return data if data in DATA_HINTS else None
    return data


#: dataset name -> its measured default :class:`Recipe` (see docs/recipe.md).
RECIPES: dict[str, Recipe] = {
    # Chosen on validation images only (bench/select_presets.py, 5 splits of 288 held
    # out of the training images): two blocks of 64-128 filters (8 -> 4 -> 2; a third
    # block would pool 2x2 to 1x1) 0.9958 against build_cnn's defaults 0.9944; without
    # augmentation 0.9958 against 0.9917 with the 'digits' pad-and-crop, which these
    # 8x8 glyphs do not need; batch 64 at learning rate 0.002 0.9965 and faster.
    "digits": Recipe(
        network={"filters": (64, 128)}, batch_size=64, learning_rate=2e-3, augmentation="none"
    ),
}

# Datasets with no offline copy here: the digits recipe with fewer epochs, since
# each epoch holds 30x more images.
_LARGE = Recipe(epochs=15, batch_size=64)


def default_recipe(data="digits", **overrides) -> Recipe:
    """The default :class:`Recipe` for a dataset, with ``overrides`` applied.

    Args:
        data: a :class:`~keras_cnnlab.Dataset` or a dataset name. Datasets without
            a measured recipe get the digits recipe with 15 epochs of batch 64.
        **overrides: :class:`Recipe` fields to change.

    Example:

    ```python
    recipe = default_recipe(load_dataset("digits"))
    recipe = default_recipe("lfw_subset", epochs=30)
    ```
    """
    name = data if isinstance(data, str) else getattr(data, "name", None)
    recipe = RECIPES.get(name, _LARGE if name in ("mnist", "fashion_mnist", "cifar10") else Recipe())
    return recipe.replace(**overrides) if overrides else recipe


def _predict(model, x, batch_size) -> np.ndarray:
    """``model.predict`` on every image of ``x``, whatever the replicas of its strategy or distribution.

    Each batch must split evenly over the replicas (JAX needs every batch to,
    TensorFlow the first), so ``x`` is padded with copies of its last image to
    a multiple of the replica count, and the batch size rounded to one.
    """
    replicas = replica_count(model)
    if replicas > 1 and len(x):
        batch_size = max(batch_size // replicas, 1) * replicas
        pad = -len(x) % replicas
        if pad:
            padded = np.concatenate([x, np.repeat(x[-1:], pad, axis=0)])
            return np.asarray(model.predict(padded, batch_size=batch_size, verbose=0))[: len(x)]
    return np.asarray(model.predict(x, batch_size=batch_size, verbose=0))
