"""CNNHyperModel: a KerasTuner HyperModel built from ConvBlock and ClassifierHead.

The class ties the tuning modules together: :mod:`.block_plan` bounds the
blocks, :mod:`.trial_choices` declares a trial's hyperparameters,
:mod:`.search_checks` and :mod:`.search_guard` stop a search that cannot
succeed, :mod:`.trial_fit` trains a trial and :mod:`.gc_freeze` keeps the
collector fast.
"""

from __future__ import annotations

import numbers
import time
import warnings

import keras
import keras_tuner
import numpy as np

from keras_cnnlab import _internals
from keras_cnnlab._validation import check_data_format, check_positive_int
from keras_cnnlab.compiling import check_labels, compile_for, label_encoding
from keras_cnnlab.models import assemble_cnn, check_input_shape
from keras_cnnlab.tuning.block_plan import BlockPlan, plan_block_count, plan_blocks
from keras_cnnlab.tuning.gc_freeze import _FREEZER
from keras_cnnlab.tuning.global_settings import KerasSettings
from keras_cnnlab.tuning.objectives import GapPenalizedAccuracy
from keras_cnnlab.tuning.search_checks import check_search, resolve_encoding
from keras_cnnlab.tuning.search_guard import guard_search
from keras_cnnlab.tuning.search_space import as_search_space
from keras_cnnlab.tuning.trial_choices import augmentation_layer, declare_batch_size, declare_trial
from keras_cnnlab.tuning.trial_fit import (
    CosineSchedule,
    check_trial_batches,
    fit_search,
    record_trial_figures,
    tell_reports,
    trial_callbacks,
    trial_verbosity,
)
from keras_cnnlab.tuning.tunable_block import tunable_conv_block

# BlockPlan, plan_blocks and tunable_conv_block live in their own modules; importable from here as before.
__all__ = ["CNNHyperModel", "BlockPlan", "plan_blocks", "tunable_conv_block"]

_DEFAULT_MAX_BLOCKS = 4


def _check_output_activation(output_activation):
    if output_activation not in ("softmax", "sigmoid", None, "linear"):
        raise ValueError(
            "Invalid value for argument `output_activation`. Expected 'softmax', 'sigmoid' "
            f"or None (logits). Received output_activation={output_activation!r}."
        )
    return output_activation


def _check_compile_kwargs(compile_kwargs) -> dict:
    if compile_kwargs is not None and not isinstance(compile_kwargs, dict):
        raise ValueError(
            "Invalid value for argument `compile_kwargs`. Expected a dict of model.compile "
            f"arguments or None. Received compile_kwargs={compile_kwargs!r}."
        )
    reserved = {"optimizer", "loss", "metrics"} & set(compile_kwargs or {})
    if reserved:
        raise ValueError(
            f"Invalid value for argument `compile_kwargs`: {sorted(reserved)} are set by the "
            "hypermodel (tune the optimizer in the SearchSpace; pass metrics= to CNNHyperModel)."
        )
    return dict(compile_kwargs or {})


def _check_seed(seed):
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise ValueError(f"Invalid value for argument `seed`. Expected an int or None. Received seed={seed!r}.")
    return seed


def _is_array_like(x) -> bool:
    return hasattr(x, "shape") or isinstance(x, (list, tuple, dict))


class CNNHyperModel(keras_tuner.HyperModel):
    """A KerasTuner HyperModel of CNN classifiers made of ConvBlocks and a ClassifierHead.

    Every trial builds ``augmentation -> ConvBlock x num_blocks -> ClassifierHead``
    and compiles it with the loss that fits the labels (as ``build_cnn`` and
    ``compile_for`` do). It tunes the number of blocks; per block (each in
    the conditional scope of ``num_blocks``) the filters, kernel size,
    convolutions, downsampling (``"max"``, ``"avg"``, ``"strided"``, ``"none"``)
    and its factor, dropout and batch norm; the head's pooling, width and dropout;
    the optimizer and learning rate; the augmentation preset and its strength;
    and the batch size, given to ``fit``. :class:`SearchSpace` fixes, narrows
    or widens any of them.

    The number of blocks is bounded by the input size (see :func:`plan_blocks`):
    with the default space, 8x8 digits get at most 2 blocks and 28x28 images 4,
    and no trial can shrink a feature map to zero. Setting ``num_blocks``
    beyond the bound raises a ShapeError that shows the arithmetic.

    ``fit`` records the parameter count, the time spent in ``model.fit`` and
    the epochs trained with each trial, for :func:`results_table`; with
    ``gap_penalty`` set it adds :class:`GapPenalizedAccuracy`, for
    ``objective=gap_objective()``.

    In a search, ``fit`` checks the labels (and the validation labels) against
    ``num_classes`` and ``gap_penalty`` against the tuner's objective before
    training: these errors would repeat in every trial, so they stop the search
    at once (a ``keras_tuner.errors.FatalValueError``, a ValueError). When every
    trial of a search fails anyway, ``search()`` raises a RuntimeError with the
    first trial's error instead of returning with no best model.

    Without ``report`` and without ``verbose`` given to ``search()``, trials
    train with Keras's ``verbose=2`` (one plain line per epoch) when standard
    output is a file, a pipe or CI, so logs hold no progress-bar control codes.

    Args:
        input_shape: ``(height, width, channels)`` of one image.
        num_classes: number of classes.
        search_space: a :class:`SearchSpace`, a dict of overrides, or ``None``
            for the defaults.
        labels: how labels are encoded, for the loss: ``"sparse"`` (integer
            ids), ``"one_hot"``, or an array of labels. When left ``None`` it
            is learned from the labels passed to ``search()``; set it to load
            best models in another process with the right loss compiled.
        output_activation: ``"softmax"``, ``"sigmoid"`` or ``None`` (logits).
        metrics: compiled metrics (``"accuracy"`` drives the default objectives).
        gap_penalty: ``None`` (default) adds nothing; a weight such as ``1.0``
            adds ``val_accuracy_minus_gap`` (the train/validation accuracy gap,
            times this weight, taken from ``val_accuracy``) to every trial's
            logs, for ``objective=gap_objective()``. That objective without a
            ``gap_penalty`` raises a ValueError at the first trial.
        report: add a :class:`~keras_cnnlab.callbacks.RichTrainingReport` to
            every trial (and silence Keras's progress bar). Its header numbers
            the trial as KerasTuner does (``Trial #1``) and lists the
            hyperparameters, whole, only when KerasTuner printed no table of
            them (``search(..., verbose=0)``).
        gap_monitor: add an :class:`~keras_cnnlab.callbacks.OverfittingGapMonitor`
            to every trial.
        max_blocks: upper bound on ``num_blocks`` when the space leaves it at
            its default.
        compile_kwargs: other ``model.compile`` arguments for every trial
            (e.g. ``jit_compile``, ``steps_per_execution``, ``run_eagerly``).
        data_format: ``"channels_last"`` or ``"channels_first"``.
        seed: seed of the dropout and augmentation layers.
        name: name of the built models and of the hypermodel.
        tunable: KerasTuner's flag: whether the declared hyperparameters join
            the search space.
        freeze_gc: before every trial KerasTuner runs two full garbage
            collections, which with TensorFlow loaded scan some 400,000 objects,
            plus about 10,000 more for every model TensorFlow has traced (it
            never frees their graphs): 0.5 s a trial on 2 CPU cores at first,
            growing trial by trial. ``False`` (the default) leaves the collector
            alone: ``gc.freeze()`` changes the whole process, so it is done only
            when asked. With ``True`` each build in a search, after KerasTuner's
            full collections, calls ``gc.freeze()``, so the next collections scan
            only what the trial creates. Builds elsewhere (outside a tuner) freeze
            nothing. A frozen object is never collected as cyclic garbage, so each
            build checks that the previous trial's model was freed; when a
            callback of the search keeps it alive through a reference cycle,
            freezing stops for the process and the frozen objects are thawed and
            collected (on PyTorch that happens after the first trial: Keras 3.15
            itself keeps any two callbacks of a fit in a reference cycle there).
            With ``True``, call ``gc.unfreeze()`` after the search if the process
            goes on to other work.

    The ``keras.distribution`` (e.g. ``DataParallel`` under JAX) and the global
    dtype policy (e.g. ``"mixed_float16"``) in force when the hypermodel is
    created are set again before every trial's model is built: KerasTuner's
    ``keras.backend.clear_session()`` before each trial would otherwise drop
    them (:mod:`keras_cnnlab.tuning.global_settings`).

    Example:

    ```python
    data = load_dataset("digits")
    hypermodel = CNNHyperModel(data.input_shape, data.num_classes,
                               search_space=SearchSpace(kernel_size=3))
    tuner = keras_tuner.Hyperband(hypermodel, objective="val_accuracy",
                                  max_epochs=9, directory="runs", project_name="digits")
    tuner.search(data.x_train, data.y_train, validation_data=(data.x_val, data.y_val))
    results_table(tuner)
    ```
    """

    def __init__(
        self,
        input_shape,
        num_classes,
        *,
        search_space=None,
        labels=None,
        output_activation="softmax",
        metrics=("accuracy",),
        gap_penalty: float | None = None,
        report: bool = False,
        gap_monitor: bool = False,
        max_blocks: int = _DEFAULT_MAX_BLOCKS,
        compile_kwargs: dict | None = None,
        data_format=None,
        seed: int | None = None,
        name: str = "cnn",
        tunable: bool = True,
        freeze_gc: bool = False,
    ):
        super().__init__(name=name, tunable=tunable)
        self.freeze_gc = bool(freeze_gc)
        if self.freeze_gc:
            _FREEZER.listen()  # before the search's first collection
        self.keras_settings = KerasSettings.now()  # KerasTuner's clear_session forgets them
        self.data_format = check_data_format(data_format)
        self.input_shape = check_input_shape(input_shape, self.data_format)
        self.num_classes = check_positive_int(num_classes, "num_classes")
        self.search_space = as_search_space(search_space)
        self._label_encoding = resolve_encoding(labels)
        self.output_activation = _check_output_activation(output_activation)
        if isinstance(metrics, str):
            metrics = (metrics,)
        self.metrics = tuple(metrics)
        if gap_penalty is not None:
            GapPenalizedAccuracy(gap_penalty)  # validates
        self.gap_penalty = gap_penalty
        self.report = bool(report)
        self.gap_monitor = bool(gap_monitor)
        self.max_blocks = check_positive_int(max_blocks, "max_blocks")
        self.compile_kwargs = _check_compile_kwargs(compile_kwargs)
        self.seed = _check_seed(seed)
        self._num_blocks_spec, self.plan = plan_block_count(
            self.search_space, self.input_shape, self.spatial_size, self.max_blocks
        )

    # -- the space ---------------------------------------------------------------------

    @property
    def spatial_size(self) -> tuple:
        """``(height, width)`` of the input."""
        if self.data_format == "channels_last":
            return tuple(self.input_shape[:2])
        return tuple(self.input_shape[1:])

    @property
    def block_count_range(self) -> tuple[int, ...]:
        """The block counts a trial may use."""
        return tuple(self._num_blocks_spec.candidates())

    def declare_hyperparameters(self, hp):
        """Declare every hyperparameter (all blocks and scopes) on ``hp`` without building."""
        declare_batch_size(hp, self.search_space)
        self._declare(hp)

    def _declare(self, hp) -> dict:
        return declare_trial(
            hp, self.search_space, num_blocks_spec=self._num_blocks_spec, plan=self.plan,
            data_format=self.data_format, seed=self.seed,
        )

    # -- building ----------------------------------------------------------------------

    def build(self, hp):
        # KerasTuner gives build only the hyperparameters: the tuner is read off the call stack
        tuner, _ = _internals.calling_search()
        if self.freeze_gc:
            _FREEZER.before_build(in_search=tuner is not None)
        if tuner is not None:
            guard_search(tuner)
        self.keras_settings.restore()
        choice = self._declare(hp)
        augmentation = None
        if choice["preset"] not in (None, "none"):
            augmentation = augmentation_layer(choice["preset"], choice["strength"], self.seed)
        model = assemble_cnn(
            self.input_shape,
            choice["blocks"],
            self.num_classes,
            head=choice["head"],
            output_activation=self.output_activation,
            augmentation=augmentation,
            data_format=self.data_format,
            seed=self.seed,
            name=self.name or "cnn",
        )
        config = {"learning_rate": choice["learning_rate"]}
        if choice["weight_decay"]:
            config["weight_decay"] = choice["weight_decay"]
        compile_for(
            model,
            self._example_labels(),
            optimizer=keras.optimizers.get({"class_name": choice["optimizer"], "config": config}),
            label_smoothing=choice["label_smoothing"],
            metrics=self.metrics,
            **self.compile_kwargs,
        )
        # Built optimizer variables let a reloaded checkpoint restore the optimizer state
        # too (Hyperband continues trials from them) instead of skipping it with a warning.
        model.optimizer.build(model.trainable_variables)
        return model

    def _example_labels(self):
        if self._label_encoding == "one_hot" and self.num_classes > 1:
            return np.eye(self.num_classes, dtype="float32")[:1]
        return np.zeros((1,), dtype="int64")

    # -- training ----------------------------------------------------------------------

    def _fit_labels(self, model, labels) -> None:
        y = np.asarray(labels)
        encoding = label_encoding(y)
        if encoding != self._label_encoding:
            # Labels seen at fit time decide the loss; later builds follow them.
            self._label_encoding = encoding
            compile_for(
                model, y, optimizer=model.optimizer,
                label_smoothing=getattr(model.loss, "label_smoothing", 0.0),
                metrics=self.metrics, **self.compile_kwargs,
            )
        else:
            check_labels(model, y)

    def _pass_batch_size(self, hp, x, kwargs) -> None:
        """Give ``fit`` the trial's batch size, unless search() gave one or the data batches itself."""
        batch_size = declare_batch_size(hp, self.search_space)
        if batch_size is None or "batch_size" in kwargs:
            return
        if _is_array_like(x):
            kwargs["batch_size"] = batch_size
        elif len(self.search_space.spec("batch_size").candidates()) > 1:
            warnings.warn(
                "batch_size is tuned, but the training data batches itself (a dataset "
                "or generator), so the tuned value is ignored. Use "
                "SearchSpace(batch_size=None) to stop tuning it.",
                UserWarning,
                stacklevel=3,
            )

    def fit(self, hp, model, *args, **kwargs):
        """Train one trial's model: labels checked, batch size from ``hp``, figures recorded."""
        tuner, trial = fit_search(kwargs.get("callbacks"))
        if tuner is not None:
            guard_search(tuner)
        try:
            labels = check_search(tuner, args, kwargs, num_classes=self.num_classes, gap_penalty=self.gap_penalty)
            if labels is not None:
                self._fit_labels(model, labels)
        except ValueError as error:
            # The labels and the hypermodel's arguments are the same in every trial:
            # a FatalValueError stops the search at once instead of failing each trial.
            raise keras_tuner.errors.FatalValueError(str(error)) from None
        same_batch = "batch_size" in kwargs or len(self.search_space.spec("batch_size").candidates()) <= 1
        self._pass_batch_size(hp, kwargs.get("x", args[0] if args else None), kwargs)
        check_trial_batches(model, args, kwargs, same_batch=same_batch)
        callbacks = trial_callbacks(
            report=self.report, gap_monitor=self.gap_monitor, gap_penalty=self.gap_penalty,
            batch_size=kwargs.get("batch_size"),
        ) + list(kwargs.pop("callbacks", None) or [])
        if trial is not None:
            tell_reports(callbacks, trial, tuner)
        if self.search_space.spec("schedule").register(hp, "schedule") == "cosine":
            callbacks.insert(0, CosineSchedule(hp.get("learning_rate"), kwargs.get("epochs", 1)))
        if "verbose" not in kwargs:
            verbose = trial_verbosity(self.report)
            if verbose is not None:
                kwargs["verbose"] = verbose
        if self.freeze_gc:
            _FREEZER.watch(model)
        start = time.perf_counter()
        history = model.fit(*args, callbacks=callbacks, **kwargs)
        record_trial_figures(history, model, time.perf_counter() - start)
        return history

    def __repr__(self) -> str:
        return (
            f"CNNHyperModel(input_shape={self.input_shape}, num_classes={self.num_classes}, "
            f"blocks={self.block_count_range}, search_space={self.search_space!r})"
        )
