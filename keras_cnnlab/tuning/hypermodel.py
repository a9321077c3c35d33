"""CNNHyperModel: a KerasTuner HyperModel built from ConvBlock and ClassifierHead."""

from __future__ import annotations

import dataclasses
import gc
import math
import numbers
import re
import time
import warnings
import weakref

import keras
import keras_tuner
import numpy as np

from keras_cnnlab import _internals, shapes
from keras_cnnlab._validation import check_data_format, check_positive_int
from keras_cnnlab.blocks import ConvBlock
from keras_cnnlab.models import (
    assemble_cnn,
    check_input_shape,
    check_labels,
    compile_for,
    label_encoding,
)
from keras_cnnlab.tuning.objectives import GapPenalizedAccuracy, gap_metric_name
from keras_cnnlab.tuning.search_space import (
    Choice,
    Fixed,
    IntRange,
    SearchSpace,
    as_search_space,
)

__all__ = ["CNNHyperModel", "BlockPlan", "plan_blocks", "tunable_conv_block"]

_DEFAULT_MAX_BLOCKS = 4
_BLOCK_INDEX = re.compile(r"^block([1-9][0-9]*)$")


# --- how many blocks fit the input --------------------------------------------------------


def _block_ops(pool: str, pool_size: int) -> list[shapes.SpatialOp]:
    # Convolutions use padding="same", so only the downsampling step changes the size.
    if pool == "strided":
        return shapes.conv_block_ops(kernel_size=3, strides=pool_size, padding="same", pool=None)
    if pool == "none":
        return shapes.conv_block_ops(kernel_size=3, padding="same", pool=None)
    return shapes.conv_block_ops(kernel_size=3, padding="same", pool=pool, pool_size=pool_size)


def _block_output(size, pool: str, pool_size: int):
    """Spatial size after a block, or None when the block would collapse it."""
    try:
        steps = shapes.trace_spatial(size, _block_ops(pool, pool_size))
    except shapes.ShapeError:
        return None
    return steps[-1].output_size


@dataclasses.dataclass(frozen=True)
class BlockPlan:
    """How many blocks an input fits, and the pool sizes each block may use.

    Computed from the search space with :mod:`keras_cnnlab.shapes`: block
    ``i`` may only use the pool sizes that keep the spatial size >= 1 even
    when every earlier block took the most aggressive downsampling of the
    space, so no trial can collapse the feature map.

    Attributes:
        input_size: spatial ``(height, width)`` of the input.
        pool_sizes: per possible block, the allowed pool sizes (``None`` for a
            block that never downsamples).
        worst_sizes: per possible block, the smallest spatial size after it.
        stop_reason: why no further block fits (``""`` when the cap was reached).
    """

    input_size: tuple
    pool_sizes: tuple
    worst_sizes: tuple
    stop_reason: str = ""

    @property
    def max_blocks(self) -> int:
        """The largest number of blocks the input fits."""
        return len(self.pool_sizes)

    def explain(self) -> str:
        """The worst-case sizes block by block, e.g. ``8x8 -> 2x2 -> 1x1``."""
        sizes = [self.input_size, *self.worst_sizes]
        text = " -> ".join(shapes.format_size(s) for s in sizes)
        return text + (f"; {self.stop_reason}" if self.stop_reason else "")


def plan_blocks(space: SearchSpace, input_size, max_blocks: int) -> BlockPlan:
    """Plan up to ``max_blocks`` blocks of ``space`` on a spatial ``input_size``."""
    size = tuple(input_size)
    pool_sizes, worst_sizes = [], []
    reason = ""
    for i in range(1, max_blocks + 1):
        block = f"block{i}"
        pools = space.spec("pool", block=block).candidates()
        down = [p for p in pools if p != "none"]
        if not down:
            pool_sizes.append(None)
            worst_sizes.append(size)
            continue
        sizes = space.spec("pool_size", block=block).candidates()
        fits, outputs = [], []
        for s in sizes:
            outs = [_block_output(size, p, s) for p in down]
            if all(o is not None for o in outs):
                fits.append(s)
                outputs.extend(outs)
        if not fits:
            reason = (
                f"block {i} cannot downsample {shapes.format_size(size)} with pool {tuple(down)} "
                f"and pool_size {tuple(sizes)} without reaching zero"
            )
            break
        pool_sizes.append(tuple(fits))
        size = tuple(min(o[axis] for o in outputs) for axis in range(len(size)))
        worst_sizes.append(size)
    return BlockPlan(tuple(input_size), tuple(pool_sizes), tuple(worst_sizes), reason)


# --- one tuned block ----------------------------------------------------------------------


def _filters_default(spec, name: str):
    # Tutorial habit: the n-th block gets the n-th filter count (16, 32, 64, ...).
    match = _BLOCK_INDEX.match(name)
    if not match or not isinstance(spec, Choice):
        return None
    values = sorted(spec.values)
    return values[min(int(match.group(1)) - 1, len(values) - 1)]


def tunable_conv_block(
    hp,
    name: str = "block",
    *,
    search_space=None,
    pool_sizes=None,
    data_format=None,
    seed=None,
    **block_kwargs,
):
    """Declare one block's hyperparameters on ``hp`` and return the ConvBlock they pick.

    The hyperparameters are named ``<name>_filters``, ``<name>_kernel_size``,
    ``<name>_convs``, ``<name>_activation``, ``<name>_batch_norm``,
    ``<name>_pool``, ``<name>_pool_size`` (only active when the block
    downsamples) and ``<name>_dropout``. Their ranges come from
    ``search_space`` (a :class:`SearchSpace`; per-block overrides such as
    ``block2_filters`` apply to the block named ``"block2"``).

    ``pool="strided"`` makes the first convolution stride by ``pool_size``
    instead of pooling; ``pool="none"`` keeps the spatial size.

    Args:
        hp: a ``keras_tuner.HyperParameters``.
        name: the block's name (and the prefix of its hyperparameters).
        search_space: a :class:`SearchSpace`, a dict of overrides, or ``None``.
        pool_sizes: if given, the pool sizes this block may use (to keep a
            small input from collapsing; see :func:`plan_blocks`).
        data_format: ``"channels_last"`` or ``"channels_first"``.
        seed: seed of the block's dropout.
        **block_kwargs: other ConvBlock arguments, fixed (e.g. ``kernel_regularizer``).

    Returns:
        A ``ConvBlock``, or ``None`` inside an inactive conditional scope (a
        block the current trial does not use).

    Example:

    ```python
    def build(hp):
        inputs = keras.Input((28, 28, 1))
        x = inputs
        for i in range(hp.Int("blocks", 1, 3)):
            x = tunable_conv_block(hp, f"block{i + 1}")(x)
        outputs = ClassifierHead(10)(x)
        model = keras.Model(inputs, outputs)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        return model
    ```
    """
    if not isinstance(name, str) or not re.match(r"^[A-Za-z][A-Za-z0-9_]*$", name):
        raise ValueError(
            "Invalid value for argument `name`. Expected an identifier such as 'block1'. "
            f"Received name={name!r}."
        )
    space = as_search_space(search_space)

    def register(param, spec=None, default=None):
        spec = space.spec(param, block=name) if spec is None else spec
        return spec.register(hp, f"{name}_{param}", default)

    filters_spec = space.spec("filters", block=name)
    filters = register("filters", filters_spec, _filters_default(filters_spec, name))
    kernel_size = register("kernel_size")
    convs = register("convs")
    activation = register("activation")
    batch_norm = register("batch_norm")
    pool_spec = space.spec("pool", block=name)
    pool = register("pool", pool_spec)

    size_spec = space.spec("pool_size", block=name)
    if pool_sizes is not None:
        restricted = size_spec.restricted(tuple(pool_sizes))
        if restricted is None:
            raise shapes.ShapeError(
                f"No pool size of {size_spec!r} fits block {name!r}: allowed here are "
                f"{tuple(pool_sizes)}. Widen `pool_size` or use a larger input."
            )
        size_spec = restricted
    pools = pool_spec.candidates()
    down = [p for p in pools if p != "none"]
    pool_size = None
    if down and len(down) < len(pools):
        with hp.conditional_scope(f"{name}_pool", down):
            pool_size = register("pool_size", size_spec)
    elif down:
        pool_size = register("pool_size", size_spec)
    dropout = register("dropout")

    if filters is None:  # an inactive scope: this trial has no such block
        return None
    return ConvBlock(
        filters,
        kernel_size,
        convs=convs,
        strides=pool_size if pool == "strided" else 1,
        padding="same",
        activation=activation,
        batch_norm=batch_norm,
        pool=pool if pool in ("max", "avg") else None,
        pool_size=pool_size if pool in ("max", "avg") else 2,
        dropout=dropout,
        data_format=data_format,
        seed=seed,
        name=name,
        **block_kwargs,
    )


class _TrialFreezer:
    """``gc.freeze()`` before every trial's build, for as long as it is safe (``freeze_gc=True``).

    KerasTuner runs two full collections just before it builds each trial's model.
    What survives them outlives the trial: modules, the data, the tuner, and the
    graphs TensorFlow keeps of every model it traced (about 10,000 objects a trial,
    never freed). Freezing the survivors keeps the next collections from scanning
    them again: over a 23-trial Hyperband search on digits, each collection took
    5-20 ms throughout, instead of growing to 0.2 s by the last trial.

    Freezing is unsafe only for an object alive then that later becomes cyclic
    garbage: it would never be collected. The one such object that matters is a
    trial's callbacks (KerasTuner copies the search's callbacks just before the
    collections), and a callback holds its trial's model. So each build checks
    that the previous trial's model was freed. If it was not, freezing stops for
    the rest of the process, and the frozen objects are thawed and collected,
    which frees that model.
    """

    # Objects gc-tracked since a full collection, below which "the collector has just run".
    FRESH = 2_000

    def __init__(self):
        self.enabled = True
        self.previous = None  # weak reference to the model the last trial trained

    @classmethod
    def collector_just_ran(cls) -> bool:
        # A full collection zeroes all three counts; a younger one leaves a later count > 0.
        young, middle, old = gc.get_count()
        return not middle and not old and young <= cls.FRESH

    def before_build(self) -> None:
        """Freeze if KerasTuner has just collected and the last trial's model is gone."""
        if not self.enabled or not self.collector_just_ran():
            return
        previous, self.previous = self.previous, None
        if previous is not None and previous() is not None:
            # Something frozen holds the last trial's model: stop, and let it go.
            self.enabled = False
            gc.unfreeze()
            gc.collect()
            return
        gc.freeze()

    def watch(self, model) -> None:
        """Remember a trial's model (a model ``fit`` trains; not one reloaded for the user)."""
        try:
            self.previous = weakref.ref(model)
        except TypeError:
            self.previous = None


_FREEZER = _TrialFreezer()  # one per process, as the collector is


# --- the hypermodel -----------------------------------------------------------------------


def _resolve_encoding(labels, num_classes: int) -> str:
    if labels is None:
        return "sparse"
    if isinstance(labels, str):
        if labels not in ("sparse", "one_hot"):
            raise ValueError(
                "Invalid value for argument `labels`. Expected 'sparse' (integer ids), "
                f"'one_hot', an array of labels or None. Received labels={labels!r}."
            )
        return labels
    return label_encoding(labels)


def _find_labels(args, kwargs):
    if "y" in kwargs:
        return kwargs["y"]
    if len(args) >= 2:
        return args[1]
    x = kwargs.get("x", args[0] if args else None)
    if x is not None and hasattr(x, "take") and hasattr(x, "element_spec"):  # tf.data
        for batch in x.take(1):
            if isinstance(batch, (tuple, list)) and len(batch) >= 2:
                return np.asarray(batch[1])
    return None


def _is_array_like(x) -> bool:
    return hasattr(x, "shape") or isinstance(x, (list, tuple, dict))


def _plain_stdout() -> bool:
    """Standard output is a file, a pipe or CI (not a terminal, not Jupyter)."""
    from keras_cnnlab.display.console import make_console, render_mode

    return render_mode(make_console(None)) == "plain"


def _fit_search(callbacks):
    """(tuner, trial) of the KerasTuner search calling ``fit``, each ``None`` outside one.

    KerasTuner's own callback among the trial's ``callbacks`` tells; a tuner's own
    ``run_trial`` adds none, and the call stack is then read (both in
    :mod:`keras_cnnlab._internals`).
    """
    tuner, trial = _internals.search_from_callbacks(callbacks)
    if tuner is None:
        tuner, trial = _internals.calling_search()
    return tuner, trial


def _tell_reports(callbacks, trial, tuner) -> None:
    """Tell each RichTrainingReport among ``callbacks`` the trial it reports on."""
    from keras_cnnlab.callbacks.report import RichTrainingReport

    for callback in callbacks:
        if isinstance(callback, RichTrainingReport):
            callback.set_trial(trial, tuner)


def _objective_names(oracle) -> list:
    objective = getattr(oracle, "objective", None)
    parts = getattr(objective, "objectives", None) or [objective]
    return [getattr(o, "name", None) for o in parts]


def _error_line(message) -> str:
    """The exception line that closes a trial's traceback (``trial.message``), without the module path."""
    lines = (message or "").rstrip().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("Traceback (most recent call last)")]
    body = lines[starts[-1] + 1:] if starts else lines
    error = []
    for line in body:
        if not error:
            if line and not line[0].isspace():
                error.append(line.strip())
        elif line.strip() and not line[0].isspace():
            error.append(line.strip())
        else:
            break
    text = " ".join(error) or (lines[-1].strip() if lines else "") or "no error message was recorded"
    text = re.sub(r"^(?:[A-Za-z_]\w*\.)+(?=[A-Za-z_]\w*:)", "", text)  # tensorflow....InvalidArgumentError:
    return text if len(text) <= 400 else text[:397] + "..."


def _trial_number(oracle, trial_id) -> str:
    """The trial's number as KerasTuner prints it ("Running Trial #1" for trial_id "0")."""
    number = _internals.tuner_display(oracle)[0].get(trial_id)
    if number is None and trial_id in oracle.trials:
        number = list(oracle.trials).index(trial_id) + 1
    return f"#{number}" if number is not None else repr(trial_id)


def _failure_message(oracle, consecutive: bool):
    """Why the search must raise: every trial failed, or KerasTuner's limit of failures in a row."""
    ended = [oracle.trials[t] for t in oracle.end_order if t in oracle.trials]
    failed = [t for t in ended if t.status == keras_tuner.engine.trial.TrialStatus.FAILED]
    completed = any(t.status == keras_tuner.engine.trial.TrialStatus.COMPLETED for t in oracle.trials.values())
    if not failed or (completed and not consecutive):
        return None
    if completed:  # the streak that reached max_consecutive_failed_trials
        streak = []
        for trial in reversed(ended):
            if trial.status != keras_tuner.engine.trial.TrialStatus.FAILED:
                break
            streak.insert(0, trial)
        first = streak[0] if streak else failed[0]
        what = (
            f"{len(streak)} trials in a row failed (the tuner's max_consecutive_failed_trials="
            f"{getattr(oracle, 'max_consecutive_failed_trials', '?')}), so the search stopped"
        )
    else:
        first = failed[0]
        stopped = ", so the search stopped" if consecutive else ""
        what = f"All {len(failed)} trial(s) of the search failed{stopped}; there is no best model"
    return (
        f"{what}. The first, trial {_trial_number(oracle, first.trial_id)}, failed with: "
        f"{_error_line(first.message).rstrip('.')}. Fix that and run the search again (each "
        "trial's traceback: tuner.oracle.trials[trial_id].message)."
    )


def _guard_search(tuner) -> None:
    """Make ``tuner.search()`` raise, with the first failed trial's error, when its trials all fail.

    KerasTuner 1.4 records a failed trial and goes on: a search whose every trial
    fails returns normally (silently at ``verbose=0``) when it has fewer trials
    than ``max_consecutive_failed_trials`` (3), and raises its RuntimeError with
    the last trial's whole traceback otherwise. Wraps the tuner's
    ``on_trial_end`` and ``on_search_end`` hooks once, on this tuner instance.
    """
    if getattr(tuner.on_search_end, "_keras_cnnlab_guard", False):
        return
    oracle = getattr(tuner, "oracle", None)
    if not isinstance(getattr(oracle, "trials", None), dict) or not hasattr(oracle, "end_order"):
        return  # a worker's client of a distributed search: the chief keeps the trials
    on_trial_end, on_search_end = tuner.on_trial_end, tuner.on_search_end

    def guarded_on_trial_end(trial):
        try:
            on_trial_end(trial)
        except RuntimeError as error:
            message = "consecutive failures" in str(error) and _failure_message(oracle, True)
            if not message:
                raise
            raise RuntimeError(message) from None

    def guarded_on_search_end():
        on_search_end()
        message = _failure_message(oracle, False)
        if message:
            raise RuntimeError(message)

    guarded_on_search_end._keras_cnnlab_guard = True
    tuner.on_trial_end, tuner.on_search_end = guarded_on_trial_end, guarded_on_search_end


class _CosineSchedule(keras.callbacks.Callback):
    """Cosine decay of the learning rate over a trial's ``epochs``, epoch by epoch.

    A trial's epoch count is only known in ``fit`` (Hyperband gives each round its
    own), so the schedule is set per epoch here rather than built into the
    optimizer; unlike ``keras.callbacks.LearningRateScheduler`` it adds nothing to
    the logs, so reports and trial tables stay as they were.
    """

    def __init__(self, peak: float, epochs: int):
        super().__init__()
        self.peak, self.epochs = float(peak), max(int(epochs), 1)

    def on_epoch_begin(self, epoch, logs=None):
        self.model.optimizer.learning_rate = self.peak * 0.5 * (1 + math.cos(math.pi * epoch / self.epochs))


class CNNHyperModel(keras_tuner.HyperModel):
    """A KerasTuner HyperModel of CNN classifiers made of ConvBlocks and a ClassifierHead.

    Every trial builds ``augmentation -> ConvBlock x num_blocks -> ClassifierHead``
    and compiles it with the loss that fits the labels (as ``build_cnn`` and
    ``compile_for`` do). It tunes the number of blocks; per block (each in
    the conditional scope of ``num_blocks``) the filters, kernel size,
    convolutions, pooling (``"max"``, ``"avg"``, ``"strided"``, ``"none"``),
    pool size, dropout and batch norm; the head's pooling, width and dropout;
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
            when asked. With ``True`` each build that directly follows a full
            collection calls ``gc.freeze()``, so the next collections scan only
            what the trial creates. Builds elsewhere (outside a tuner) freeze
            nothing. A frozen object is never collected as cyclic garbage, so each
            build checks that the previous trial's model was freed; when a
            callback of the search keeps it alive through a reference cycle,
            freezing stops for the process and the frozen objects are thawed and
            collected. With ``True``, call ``gc.unfreeze()`` after the search if
            the process goes on to other work.

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
        self.data_format = check_data_format(data_format)
        self.input_shape = check_input_shape(input_shape, self.data_format)
        self.num_classes = check_positive_int(num_classes, "num_classes")
        self.search_space = as_search_space(search_space)
        self._label_encoding = _resolve_encoding(labels, self.num_classes)
        if output_activation not in ("softmax", "sigmoid", None, "linear"):
            raise ValueError(
                "Invalid value for argument `output_activation`. Expected 'softmax', 'sigmoid' "
                f"or None (logits). Received output_activation={output_activation!r}."
            )
        self.output_activation = output_activation
        if isinstance(metrics, str):
            metrics = (metrics,)
        self.metrics = tuple(metrics)
        if gap_penalty is not None:
            GapPenalizedAccuracy(gap_penalty)  # validates
        self.gap_penalty = gap_penalty
        self.report = bool(report)
        self.gap_monitor = bool(gap_monitor)
        self.max_blocks = check_positive_int(max_blocks, "max_blocks")
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
        self.compile_kwargs = dict(compile_kwargs or {})
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise ValueError(f"Invalid value for argument `seed`. Expected an int or None. Received seed={seed!r}.")
        self.seed = seed
        self._num_blocks_spec, self.plan = self._plan()

    # -- the space ---------------------------------------------------------------------

    @property
    def spatial_size(self) -> tuple:
        """``(height, width)`` of the input."""
        if self.data_format == "channels_last":
            return tuple(self.input_shape[:2])
        return tuple(self.input_shape[1:])

    def _plan(self):
        space = self.search_space
        user_set = space.is_set("num_blocks")
        spec = space.spec("num_blocks")
        wanted = max(spec.candidates()) if user_set else self.max_blocks
        plan = plan_blocks(space, self.spatial_size, wanted)
        if plan.max_blocks == 0:
            raise shapes.ShapeError(
                f"The input_shape={self.input_shape} fits no block of the search space: "
                f"{plan.stop_reason}. Use a larger input, smaller `pool_size`, or "
                "pool='none' in the SearchSpace."
            )
        if user_set:
            too_many = [n for n in spec.candidates() if n > plan.max_blocks]
            if too_many:
                raise shapes.ShapeError(
                    f"num_blocks={spec!r} reaches {max(too_many)} blocks, but an input of "
                    f"{shapes.format_size(self.spatial_size)} fits only {plan.max_blocks} when every "
                    f"block takes the strongest downsampling of the space: {plan.explain()}. "
                    f"Fix: num_blocks <= {plan.max_blocks}, smaller `pool_size` choices, "
                    "or pool='none'/'strided' choices for the later blocks."
                )
            return spec, plan
        if plan.max_blocks == 1:
            return Fixed(1), plan
        return IntRange(1, plan.max_blocks), plan

    @property
    def block_count_range(self) -> tuple[int, ...]:
        """The block counts a trial may use."""
        return tuple(self._num_blocks_spec.candidates())

    def declare_hyperparameters(self, hp):
        """Declare every hyperparameter (all blocks and scopes) on ``hp`` without building."""
        self._register_batch_size(hp)
        self._select(hp)

    def _register_batch_size(self, hp):
        spec = self.search_space.spec("batch_size")
        if isinstance(spec, Fixed) and spec.value is None:
            return None
        return spec.register(hp, "batch_size")

    # -- building ----------------------------------------------------------------------

    def _augmentation(self, preset: str, strength):
        try:
            from keras_cnnlab.augment import augmentation_preset
        except ImportError as error:
            raise ImportError(
                f"augmentation={preset!r} needs keras_cnnlab.augment, which could not be "
                f"imported ({error}). Fix the augmentation to 'none' in the SearchSpace."
            ) from error
        return augmentation_preset(
            preset, strength=1.0 if strength is None else strength, seed=self.seed
        )

    def _select(self, hp) -> dict:
        """Declare the hyperparameters on ``hp``; return the trial's choices and its blocks.

        Every block is declared (in the conditional scope of ``num_blocks``), so
        one call shows the whole space; the layers are created but not built.
        """
        space = self.search_space
        counts = self.block_count_range
        num_blocks = self._num_blocks_spec.register(hp, "num_blocks")

        aug_spec = space.spec("augmentation")
        preset = aug_spec.register(hp, "augmentation")
        strength = None
        presets = [p for p in aug_spec.candidates() if p != "none"]
        if presets:
            with hp.conditional_scope("augmentation", presets):
                strength = space.spec("augment_strength").register(hp, "augment_strength")

        blocks = []
        for i in range(1, max(counts) + 1):
            with hp.conditional_scope("num_blocks", [n for n in counts if n >= i]):
                block = tunable_conv_block(
                    hp,
                    f"block{i}",
                    search_space=space,
                    pool_sizes=self.plan.pool_sizes[i - 1],
                    data_format=self.data_format,
                    seed=None if self.seed is None else self.seed + i,
                )
            if block is not None and i <= num_blocks:
                blocks.append(block)

        pooling = space.spec("head_pooling").register(hp, "head_pooling")
        units_spec = space.spec("head_units")
        units = units_spec.register(hp, "head_units")
        widths = [u for u in units_spec.candidates() if u > 0]
        head_dropout = 0.0
        if widths:
            dropout_spec = space.spec("head_dropout")
            if len(widths) == len(units_spec.candidates()):
                head_dropout = dropout_spec.register(hp, "head_dropout")
            else:
                with hp.conditional_scope("head_units", widths):
                    head_dropout = dropout_spec.register(hp, "head_dropout")
        return dict(
            preset=preset,
            strength=strength,
            blocks=blocks,
            head=dict(pooling=pooling, units=(units,) if units else (), dropout=head_dropout or 0.0),
            optimizer=space.spec("optimizer").register(hp, "optimizer"),
            learning_rate=space.spec("learning_rate").register(hp, "learning_rate"),
            weight_decay=space.spec("weight_decay").register(hp, "weight_decay"),
            label_smoothing=space.spec("label_smoothing").register(hp, "label_smoothing"),
            schedule=space.spec("schedule").register(hp, "schedule"),
        )

    def build(self, hp):
        if self.freeze_gc:
            _FREEZER.before_build()
        # KerasTuner gives build only the hyperparameters: the tuner is read off the call stack
        tuner, _ = _internals.calling_search()
        if tuner is not None:
            _guard_search(tuner)
        choice = self._select(hp)
        augmentation = None
        if choice["preset"] not in (None, "none"):
            augmentation = self._augmentation(choice["preset"], choice["strength"])
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

    def _check_num_classes(self, labels, what: str = "labels") -> None:
        """A ValueError naming ``num_classes`` when ``labels`` hold more classes than it says."""
        y = np.asarray(labels)
        encoding = label_encoding(y)
        if not y.size:
            return
        n = self.num_classes
        if encoding == "one_hot":
            needed, seen = y.shape[1], f"are one-hot with {y.shape[1]} columns"
        else:
            low, high = int(y.min()), int(y.max())
            if low < 0:
                raise ValueError(
                    f"Invalid {what}: class ids must run from 0 to num_classes - 1, but the {what} "
                    f"hold {low}. Encode them as ids 0..K-1 first: "
                    "`class_names, y = np.unique(labels, return_inverse=True)`."
                )
            needed, seen = high + 1, f"run from {low} to {high}"
        if needed > n:
            raise ValueError(
                f"Invalid value for argument `num_classes`: CNNHyperModel(num_classes={n}) builds "
                f"models for classes 0..{n - 1}, but the {what} {seen}. Fix: "
                f"CNNHyperModel(..., num_classes={needed}) (`data.num_classes` for load_dataset's data)."
            )

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

    def _trial_callbacks(self, batch_size=None) -> list:
        extra = []
        if self.gap_monitor:
            from keras_cnnlab.callbacks import OverfittingGapMonitor

            extra.append(OverfittingGapMonitor())
        if self.gap_penalty is not None:
            extra.append(GapPenalizedAccuracy(self.gap_penalty))
        if self.report:
            from keras_cnnlab.callbacks import RichTrainingReport

            # the batch size fit is given, for the throughput when the data does not tell
            valid = isinstance(batch_size, numbers.Integral) and not isinstance(batch_size, bool) and batch_size > 0
            extra.append(RichTrainingReport(batch_size=int(batch_size) if valid else None))
        return extra

    def _check_search(self, tuner, args, kwargs):
        """Errors every trial would repeat, raised once (KerasTuner stops the search on them)."""
        names = _objective_names(getattr(tuner, "oracle", None)) if tuner is not None else []
        if gap_metric_name() in names and self.gap_penalty is None:
            raise ValueError(
                f"Invalid value for argument `gap_penalty`: the tuner's objective "
                f"{gap_metric_name()!r} is written by GapPenalizedAccuracy, which CNNHyperModel "
                "adds only when asked. Fix: CNNHyperModel(..., gap_penalty=1.0) with "
                "objective=gap_objective()."
            )
        needs_validation = [n for n in names if isinstance(n, str) and n.startswith("val_")]
        given = len(args) > 2 or kwargs.get("validation_data") is not None or kwargs.get("validation_split")
        if needs_validation and not given:
            raise ValueError(
                f"The tuner's objective {needs_validation[0]!r} needs validation data, and search() "
                "got none. Fix: pass validation_data=(x_val, y_val) (or validation_split=0.2) to "
                "search(), or use an objective without the val_ prefix."
            )
        labels = _find_labels(args, kwargs)
        if labels is not None:
            self._check_num_classes(labels)
        validation = kwargs.get("validation_data")
        if isinstance(validation, (tuple, list)) and len(validation) >= 2 and validation[1] is not None:
            self._check_num_classes(validation[1], "validation labels")
        return labels

    def fit(self, hp, model, *args, **kwargs):
        """Train one trial's model: labels checked, batch size from ``hp``, figures recorded."""
        tuner, trial = _fit_search(kwargs.get("callbacks"))
        if tuner is not None:
            _guard_search(tuner)
        try:
            labels = self._check_search(tuner, args, kwargs)
            if labels is not None:
                self._fit_labels(model, labels)
        except ValueError as error:
            # The labels and the hypermodel's arguments are the same in every trial:
            # a FatalValueError stops the search at once instead of failing each trial.
            raise keras_tuner.errors.FatalValueError(str(error)) from None
        x = kwargs.get("x", args[0] if args else None)
        batch_size = self._register_batch_size(hp)
        if batch_size is not None and "batch_size" not in kwargs:
            if _is_array_like(x):
                kwargs["batch_size"] = batch_size
            elif len(self.search_space.spec("batch_size").candidates()) > 1:
                warnings.warn(
                    "batch_size is tuned, but the training data batches itself (a dataset "
                    "or generator), so the tuned value is ignored. Use "
                    "SearchSpace(batch_size=None) to stop tuning it.",
                    UserWarning,
                    stacklevel=2,
                )
        callbacks = self._trial_callbacks(kwargs.get("batch_size")) + list(kwargs.pop("callbacks", None) or [])
        if trial is not None:
            _tell_reports(callbacks, trial, tuner)
        if self.search_space.spec("schedule").register(hp, "schedule") == "cosine":
            epochs = kwargs.get("epochs", 1)
            callbacks.insert(0, _CosineSchedule(hp.get("learning_rate"), epochs))
        if "verbose" not in kwargs:
            if self.report:
                kwargs["verbose"] = 0  # the report shows the epochs
            elif _plain_stdout():
                kwargs["verbose"] = 2  # one plain line per epoch: no progress bar's control codes in a log
        if self.freeze_gc:
            _FREEZER.watch(model)
        start = time.perf_counter()
        history = model.fit(*args, callbacks=callbacks, **kwargs)
        seconds = time.perf_counter() - start
        epochs = len(history.epoch)
        if epochs:
            history.history["params"] = [float(model.count_params())] * epochs
            history.history["fit_seconds"] = [seconds] * epochs
            history.history["epochs_trained"] = [float(epochs)] * epochs
        return history

    def __repr__(self) -> str:
        return (
            f"CNNHyperModel(input_shape={self.input_shape}, num_classes={self.num_classes}, "
            f"blocks={self.block_count_range}, search_space={self.search_space!r})"
        )
