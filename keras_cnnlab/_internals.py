"""Every reach into a Keras, KerasTuner or TensorFlow internal, in one module.

keras_cnnlab takes what it needs from public interfaces where they give it:
the steps and epochs of a fit from the callback's ``params``, the batch size
from ``RichTrainingReport(batch_size=...)`` (which the ``cnnlab`` command and
:class:`~keras_cnnlab.tuning.CNNHyperModel` pass), the trial from
``RichTrainingReport.set_trial`` (which ``CNNHyperModel`` calls). What no
public interface gives is read here, and nowhere else:

- base classes and a function Keras does not export (``keras.src`` imports):
  :data:`BaseImagePreprocessingLayer`, :data:`DataLayer`,
  :func:`compute_output_spec`;
- the data of a running ``fit`` (its data adapter), for the batch size, the
  batches per epoch and the size of the last batch: :func:`fit_frame`,
  :func:`fit_batch_geometry`;
- the frame of a running ``fit`` or of a loop calling the hooks by hand, which
  a live display watches, because Keras calls no callback when ``fit`` raises:
  :func:`fit_frame`, :func:`hook_caller_frame`;
- the KerasTuner tuner and trial running a fit or a build:
  :func:`search_from_callbacks` (KerasTuner's own callback, handed to
  ``HyperModel.fit``), :func:`fit_search` (the same callback, among the
  callbacks of a running ``fit``: the report's fallback when nobody called its
  ``set_trial``, as in a plain ``build`` function's search) and
  :func:`calling_search` (the call stack, for ``HyperModel.build``, to which
  KerasTuner gives only the hyperparameters, and a tuner's own ``run_trial``
  that adds no callback; the report does not use it);
- how KerasTuner numbered and printed its trials: :func:`tuner_display`.

Each function says which internal it reads and what happens when the internal
is gone: the runtime readers return ``None`` and the feature they serve
degrades (throughput in steps/s instead of images/s, no trial header, no
search guard); none of them raises into a user's ``fit``. The ``keras.src``
imports have no fallback (the augmentation layers subclass them): they raise an
ImportError that names the Keras version. ``tests/test_internals.py`` checks
each of them against the installed Keras and KerasTuner and fails with a
message naming the version and the internal when one changes.
"""

from __future__ import annotations

import numbers
import sys

import keras

__all__ = [
    "BaseImagePreprocessingLayer",
    "DataLayer",
    "compute_output_spec",
    "fit_frame",
    "fit_data_adapter",
    "fit_batch_geometry",
    "tf_data_batching",
    "hook_caller_frame",
    "search_from_callbacks",
    "fit_callbacks",
    "fit_search",
    "calling_search",
    "tuner_display",
]

# How far up the stack the frame readers look. fit is 2 frames above a callback's
# hook (CallbackList, then fit); a KerasTuner search some 10-20 frames above it
# (fit's error handler, HyperModel.fit, _build_and_fit_model, run_trial, ...).
FIT_FRAMES = 12
SEARCH_FRAMES = 40

# Modules whose frames are callback machinery, not the code that drives the hooks.
CALLBACK_MODULES = ("keras.src.callbacks", "keras_cnnlab.callbacks", "keras_cnnlab._internals")


def _import_error(what: str, error: Exception) -> ImportError:
    return ImportError(
        f"keras_cnnlab needs {what}, which Keras {keras.__version__} does not have where "
        f"keras_cnnlab looks for it ({error}). keras_cnnlab supports the Keras 3 releases "
        "named in its pyproject.toml; see keras_cnnlab/_internals.py."
    )


# --- keras.src imports ----------------------------------------------------------------
# Keras exports neither base class nor the symbolic call of its backends.

try:
    # Base of Keras's image augmentation layers (RandomFlip, RandomRotation...):
    # bounding boxes, masks, per-batch transformations, and no-op outside training.
    # The augment layers (RandomPadCrop, RandomErasing, MixUp/CutMix) subclass it.
    from keras.src.layers.preprocessing.image_preprocessing.base_image_preprocessing_layer import (
        BaseImagePreprocessingLayer,
    )
except ImportError as error:  # pragma: no cover - a Keras that moved it
    raise _import_error("keras.src...base_image_preprocessing_layer.BaseImagePreprocessingLayer", error) from None

try:  # Keras >= 3.11
    # Base of the preprocessing layers that also run inside tf.data on any backend;
    # AugmentationPipeline subclasses it.
    from keras.src.layers.preprocessing.data_layer import DataLayer
except ImportError:  # pragma: no cover - older Keras
    try:
        from keras.src.layers.preprocessing.tf_data_layer import TFDataLayer as DataLayer
    except ImportError as error:
        raise _import_error("keras.src.layers.preprocessing.data_layer.DataLayer", error) from None

try:
    # The symbolic call of every backend (TF FuncGraph, jax.eval_shape, torch meta
    # tensors), as Keras uses it to build subclassed models; the tracer runs layers with it.
    from keras.src.backend import compute_output_spec
except ImportError as error:  # pragma: no cover - a Keras that moved it
    raise _import_error("keras.src.backend.compute_output_spec", error) from None


# --- a running fit ----------------------------------------------------------------------


def fit_frame(model, *, depth: int = FIT_FRAMES):
    """The frame of the Keras ``fit`` call that is training ``model``, or ``None``.

    Reads: the call stack (``sys._getframe``, CPython), for the frame of a
    function named ``fit`` whose ``self`` is ``model`` (``Trainer.fit`` of
    every Keras 3 backend), at most ``depth`` frames above the caller.

    Missing (another interpreter, a ``fit`` renamed or called through more
    frames): ``None``. The report then has only its ``batch_size=`` argument
    for the batch size (the last batch counted whole), no trial unless
    ``set_trial`` was called, and its display watches :func:`hook_caller_frame`.
    """
    if model is None:
        return None
    try:
        frame = sys._getframe(1)
    except (AttributeError, ValueError):  # no frame access on this interpreter
        return None
    for _ in range(depth):
        if frame is None:
            return None
        if frame.f_code.co_name == "fit" and frame.f_locals.get("self") is model:
            return frame
        frame = frame.f_back
    return None


def fit_data_adapter(frame):
    """The data adapter of the ``fit`` whose frame is ``frame``, or ``None``.

    Reads: ``fit``'s local ``epoch_iterator`` (an ``EpochIterator``, every
    Keras 3 backend) and its ``data_adapter`` attribute: Keras hands callbacks
    the steps per epoch, never the data.

    Missing (a local or an attribute renamed): ``None``; the batch size then
    comes from ``RichTrainingReport(batch_size=...)``.
    """
    if frame is None:
        return None
    try:
        iterator = frame.f_locals.get("epoch_iterator")
        return getattr(iterator, "data_adapter", None)
    except Exception:  # pragma: no cover - a frame that cannot be read
        return None


def fit_batch_geometry(frame):
    """(batch size, batches per epoch, size of the last batch) of the data ``fit`` was given.

    Reads: the data adapter of :func:`fit_data_adapter` and its ``batch_size``,
    ``num_batches``, ``has_partial_batch`` and ``partial_batch_size`` properties
    (Keras's ``DataAdapter`` interface, not exported); for a ``tf.data``
    pipeline, whose adapter does not know its last batch, the adapter's
    ``_dataset`` and :func:`tf_data_batching`.

    Missing: each figure that cannot be read is ``None`` (the throughput then
    counts whole batches, or steps/s without a batch size).
    """
    adapter = fit_data_adapter(frame)
    if adapter is None:
        return None, None, None
    size = num_batches = partial = None
    try:
        size = adapter.batch_size
        size = int(size) if size is not None else None
    except Exception:
        size = None
    try:
        num_batches = adapter.num_batches
        partial = adapter.partial_batch_size
        unknown = adapter.has_partial_batch is None
    except Exception:
        num_batches = partial = None
        unknown = False
    if unknown:  # tf.data does not say: read its batch op
        counted = tf_data_batching(getattr(adapter, "_dataset", None), num_batches)
        if counted is not None:
            size, partial = counted
    return size, num_batches, partial


def tf_data_batching(dataset, num_batches=None):
    """(batch size, size of the last batch) of a ``tf.data`` pipeline made with ``.batch(n)``.

    Reads: TensorFlow's private attributes of a batch dataset,
    ``_batch_size``, ``_drop_remainder`` and ``_input_dataset`` (walked up
    through the ops after the batch op), and the public ``cardinality()`` of
    its input.

    Missing, or unknown (a filter, a generator), or not giving ``num_batches``
    batches (an op between them changed the count): ``None``.
    """
    for _ in range(32):
        if dataset is None:
            return None
        size = getattr(dataset, "_batch_size", None)
        if size is not None:
            try:
                size = int(size)
                inputs = int(dataset._input_dataset.cardinality())
                drop = bool(getattr(dataset, "_drop_remainder", False))
            except Exception:  # a batch op of another shape: cannot tell
                return None
            if size < 1 or inputs < 0:
                return None
            batches = inputs // size if drop else -(-inputs // size)
            if num_batches is not None and batches != num_batches:
                return None
            partial = 0 if drop else inputs % size
            return size, partial or None
        dataset = getattr(dataset, "_input_dataset", None)
    return None


def hook_caller_frame(skip=CALLBACK_MODULES):
    """The first frame above the caller outside callback machinery: a loop calling the hooks.

    Reads: the call stack (``sys._getframe``) and each frame's module name;
    Keras's ``CallbackList`` lives in ``keras.src.callbacks``.

    Used when no ``fit`` frame is found (a training loop of your own calling
    ``on_train_begin`` and the rest): the display stops when this frame ends.
    Missing: ``None``, and the display then only stops when told (``on_train_end``).
    """
    try:
        frame = sys._getframe(1)
    except (AttributeError, ValueError):
        return None
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if not module.startswith(tuple(skip)):
            return frame
        frame = frame.f_back
    return None


# --- a KerasTuner search -------------------------------------------------------------


def _keras_tuner_classes():
    """(BaseTuner, Trial) from KerasTuner's public ``engine`` namespace, or ``None``.

    ``None`` when KerasTuner is not imported (nothing imports it here: a fit
    outside a search stays free of it) or lacks them.
    """
    keras_tuner = sys.modules.get("keras_tuner")
    if keras_tuner is None:
        return None
    try:
        return keras_tuner.engine.base_tuner.BaseTuner, keras_tuner.engine.trial.Trial
    except AttributeError:
        return None


def search_from_callbacks(callbacks):
    """(tuner, trial) of the KerasTuner callback among ``callbacks``, or ``(None, None)``.

    Reads: the callback that ``Tuner.run_trial`` adds to every trial's
    callbacks before it calls ``HyperModel.fit`` (``TunerCallback`` in
    ``keras_tuner.src.engine.tuner_utils``), through its ``tuner`` and
    ``trial`` attributes, whatever its class is named: any callback holding a
    ``BaseTuner`` as ``tuner`` and a ``Trial`` as ``trial``.

    Missing (a ``run_trial`` of your own, or a KerasTuner that stops adding it):
    ``(None, None)``; :func:`calling_search` is then the fallback.
    """
    classes = _keras_tuner_classes()
    if classes is None or not callbacks:
        return None, None
    base_tuner, trial_class = classes
    try:
        for callback in callbacks:
            tuner, trial = getattr(callback, "tuner", None), getattr(callback, "trial", None)
            if isinstance(tuner, base_tuner) and isinstance(trial, trial_class):
                return tuner, trial
    except TypeError:  # callbacks that are not a list
        pass
    return None, None


def fit_callbacks(frame):
    """The callbacks of the ``fit`` whose frame is ``frame`` (a list), or ``None``.

    Reads: ``fit``'s local ``callbacks``, which ``fit`` has made a
    ``keras.callbacks.CallbackList`` by the time it calls ``on_train_begin``
    (every Keras 3 backend), and that list's public ``callbacks`` attribute.
    A callback is handed the model and ``params``, never its siblings.

    Missing (a local renamed, or not a CallbackList): ``None``.
    """
    if frame is None:
        return None
    try:
        callbacks = frame.f_locals.get("callbacks")
    except Exception:  # pragma: no cover - a frame that cannot be read
        return None
    if not isinstance(callbacks, keras.callbacks.CallbackList):
        return None
    listed = getattr(callbacks, "callbacks", None)
    return listed if isinstance(listed, list) else None


def fit_search(frame):
    """(tuner, trial) of KerasTuner's callback among the callbacks of the ``fit`` whose frame is ``frame``.

    Reads: :func:`fit_callbacks`, then :func:`search_from_callbacks`: in a
    search, ``Tuner.run_trial`` hands every trial's ``fit`` KerasTuner's own
    callback, which holds the tuner and the trial. The training report uses it
    when nobody called its ``set_trial`` (a search of a plain ``build``
    function, whose ``DefaultHyperModel`` tells it nothing).

    Missing (not in a search, a local renamed, a ``run_trial`` of your own that
    adds no such callback): ``(None, None)``; the report then prints no trial
    header and picks the best epoch by its own ``monitor``.
    """
    return search_from_callbacks(fit_callbacks(frame))


def calling_search(depth: int = SEARCH_FRAMES):
    """(tuner, trial) of the KerasTuner search whose call led here, each ``None`` when not found.

    Reads: the call stack (``sys._getframe``), at most ``depth`` frames above
    the caller: the tuner is the first ``self`` that is a KerasTuner
    ``BaseTuner`` (your own subclasses included), the trial the first local
    named ``trial`` that is a KerasTuner ``Trial`` (``run_trial``'s and
    ``_build_and_fit_model``'s argument). Outside ``run_trial`` (``get_best_models``
    rebuilding a model) the trial is ``None``.

    For what no public interface tells: ``HyperModel.build``, to which
    KerasTuner gives only the hyperparameters, and ``CNNHyperModel.fit`` under
    a tuner's own ``run_trial`` that hands it no KerasTuner callback. The
    training report does not use it (it takes the trial from ``set_trial``,
    else :func:`fit_search`).
    Missing (a renamed local, deeper calls): ``(None, None)`` or a half, and
    CNNHyperModel adds no search guard and tells the reports no trial.
    """
    classes = _keras_tuner_classes()
    if classes is None:
        return None, None
    base_tuner, trial_class = classes
    tuner = trial = None
    try:
        frame = sys._getframe(1)
    except (AttributeError, ValueError):
        return None, None
    for _ in range(depth):
        if frame is None or (tuner is not None and trial is not None):
            break
        f_locals = frame.f_locals
        candidate = f_locals.get("trial")
        if trial is None and isinstance(candidate, trial_class):
            trial = candidate
        candidate = f_locals.get("self")
        if tuner is None and isinstance(candidate, base_tuner):
            tuner = candidate
        frame = frame.f_back
    return tuner, trial


def tuner_display(oracle):
    """How KerasTuner printed its trials: ``(trial numbers, verbose, column width)``.

    Reads: the oracle's private ``_display`` (a ``Display``), its
    ``trial_number`` (trial_id to the number of "Running Trial #<n>"),
    ``verbose`` (at 1 or more it printed a table of each trial's
    hyperparameters) and ``col_width`` (where that table cut a value with "...").

    Missing: ``({}, 0, 18)``: trials are then numbered from the oracle's public
    ``trials``, and the trial header lists every hyperparameter.
    """
    display = getattr(oracle, "_display", None)
    trial_numbers = getattr(display, "trial_number", None)
    verbose = getattr(display, "verbose", 0)
    width = getattr(display, "col_width", 18)
    return (
        trial_numbers if isinstance(trial_numbers, dict) else {},
        verbose if isinstance(verbose, numbers.Real) else 0,
        width if isinstance(width, numbers.Integral) and width > 0 else 18,
    )
