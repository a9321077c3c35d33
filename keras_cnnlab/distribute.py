"""Whether a global batch splits over the replicas of the active distribution.

Data-parallel training cuts every global batch into one equal slice per
replica. Keras does not check that the batch size allows it, and what happens
when it does not depends on the backend (measured with Keras 3.15, two
replicas, batch 33):

* JAX, ``keras.distribution.DataParallel``: every batch is placed on the device
  mesh, and one that does not split raises jax's ``IndivisibleError``
  ("Sharding NamedSharding(...) implies that array axis 0 is partitioned 2
  times, but the dimension size is 33 ..."). That holds for the *last* batch of
  an epoch too, in ``fit``, ``evaluate`` and ``predict``: 257 images in batches
  of 32 fail on the last batch of 1.
* TensorFlow, ``tf.distribute.MirroredStrategy``: ``tf.distribute`` splits an
  odd batch unevenly (17 and 16), which works inside the training step, but
  Keras reduces the *first* batch of every ``fit`` and ``evaluate`` over the
  replicas to build the model, and that raises ``InvalidArgumentError: Inputs
  to operation AddN of type AddN must have the same size and shape. Input 0:
  [17,8,8,1] != input 1: [16,8,8,1]``. A smaller last batch is fine.

:func:`check_global_batch` says so before ``fit`` starts, naming the batch
size and the replica count. It imports Keras (and TensorFlow, under that
backend) only when called.
"""

from __future__ import annotations

import math

from keras_cnnlab._validation import check_int, check_positive_int, check_rate

__all__ = [
    "check_fit_batches", "check_global_batch", "is_chief", "jax_process_count", "patch_multi_worker_fit",
    "replica_count",
]


def _replicas(model=None) -> tuple[int, str, bool]:
    """(replicas, what they are, whether every batch must split) for a ``fit`` run now."""
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        distribution = keras.distribution.distribution()
        mesh = getattr(distribution, "device_mesh", None)
        axis = getattr(distribution, "batch_dim_name", None)
        if mesh is None or axis not in tuple(mesh.axis_names):
            return 1, "no keras.distribution", True
        count = int(mesh.shape[list(mesh.axis_names).index(axis)])
        return count, f"the {count} devices of the {axis!r} axis of the active keras.distribution.{type(distribution).__name__}", True
    if backend == "tensorflow":
        import tensorflow as tf

        strategy = getattr(model, "distribute_strategy", None) or tf.distribute.get_strategy()
        count = int(strategy.num_replicas_in_sync)
        return count, f"the replicas of tf.distribute.{type(strategy).__name__}", False
    return 1, f"no data parallelism on the {backend} backend", False


def replica_count(model=None) -> int:
    """How many data-parallel replicas each global batch is split over by ``fit`` now.

    The active ``keras.distribution`` under JAX (the size of its batch axis),
    ``model.distribute_strategy`` (else the current strategy) under TensorFlow,
    one otherwise.
    """
    return _replicas(model)[0]


def _multiples(value: int, replicas: int) -> str:
    """The multiples of ``replicas`` next to ``value``: ``"32 or 34"``, or ``"2"``."""
    below = value // replicas * replicas
    above = below + replicas
    return f"{below} or {above}" if below > 0 else str(above)


def check_global_batch(batch_size, *, num_examples=None, model=None) -> int:
    """Check that every global batch splits evenly over the data-parallel replicas.

    The replicas are read from what would run ``fit`` now: under JAX, the active
    ``keras.distribution.distribution()`` (the size of its batch axis: the
    devices of a ``DataParallel``); under TensorFlow, ``model.distribute_strategy``
    when ``model`` is given (the strategy whose scope built it, the one ``fit``
    uses even outside that scope), else ``tf.distribute.get_strategy()``; under
    PyTorch, one. With one replica any batch passes.

    Args:
        batch_size: the global batch size given to ``fit``, ``evaluate`` or
            ``predict`` (all replicas together).
        num_examples: the number of examples in the data, to check the smaller
            last batch too. JAX needs every batch to split, so the number of
            examples must then be a multiple of the replica count; TensorFlow
            needs only the first batch (``min(batch_size, num_examples)``) to.
            Call once per data set (training and validation).
        model: the model to be trained, whose distribution strategy counts under
            TensorFlow; ignored by the other backends.

    Returns:
        The number of replicas each batch is split over.

    Raises:
        ValueError: naming ``batch_size``, the replica count and a batch size
            that works, e.g. "Invalid value for argument `batch_size`: 33 images
            do not split over 2 replicas (...). Use a multiple of 2, e.g. 32 or 34.";
            or naming ``batch_size`` or ``num_examples`` when it is not a whole
            number in range.

    Example:

    ```python
    # JAX: the active distribution counts
    keras.distribution.set_distribution(keras.distribution.DataParallel())
    check_global_batch(64, num_examples=len(x_train))   # 2 on two devices
    model.fit(x_train, y_train, batch_size=64)

    # TensorFlow: pass the model built in the strategy's scope; outside that scope
    # and without model=, no strategy is known and the answer is 1
    with strategy.scope():
        model = build_cnn(input_shape, num_classes)
    check_global_batch(64, num_examples=len(x_train), model=model)
    ```
    """
    batch_size = check_positive_int(batch_size, "batch_size")
    if num_examples is not None:
        num_examples = check_int(num_examples, "num_examples", minimum=0)
    replicas, where, every_batch = _replicas(model)
    if replicas <= 1:
        return 1
    first = batch_size if num_examples is None else min(batch_size, num_examples)
    if first % replicas == 0:
        last = num_examples % batch_size if every_batch and num_examples and num_examples > batch_size else 0
        if last % replicas == 0:
            return replicas
        fit = num_examples // replicas * replicas
        raise _batch_error(
            batch_size, replicas, where,
            f"{_examples(num_examples)} in batches of {batch_size} leave a last batch of {_images(last)}, "
            f"which {'do' if last != 1 else 'does'}",
            f"JAX needs every batch to split, and no batch size does that while "
            f"{num_examples} is not a multiple of {replicas}: use {fit} examples (e.g. x[:{fit}]) "
            f"or {fit + replicas}.",
        )
    if first == batch_size:
        detail = f"{_images(batch_size)} {'do' if batch_size != 1 else 'does'}"
        advice = f"Use a multiple of {replicas}, e.g. {_multiples(batch_size, replicas)}."
    else:  # fewer examples than one batch: the only batch holds them all
        detail = f"the only batch, {'all ' if num_examples > 1 else ''}{_examples(num_examples)}, does"
        fit = num_examples // replicas * replicas
        if fit == 0:
            advice = f"Use at least {replicas} examples."
        elif every_batch:
            advice = f"Use a multiple of {replicas} examples, e.g. {fit} (x[:{fit}])."
        else:
            advice = f"Use a batch size that is a multiple of {replicas} and at most {num_examples}, e.g. {fit}."
    raise _batch_error(batch_size, replicas, where, detail, advice)


def check_fit_batches(model, batch_size, x, *, validation_data=None, validation_split=0.0,
                      validation_batch_size=None) -> int:
    """:func:`check_global_batch` for the arrays of one ``model.fit`` call.

    Checks the training examples in batches of ``batch_size`` and the
    validation examples in batches of ``validation_batch_size`` (``batch_size``
    when ``None``), as ``fit`` would cut them: ``validation_split`` (used only
    without ``validation_data``) keeps back the last examples, the training
    share rounded down, as Keras does. Data that is not an array (a
    ``tf.data.Dataset``, a generator, a ``PyDataset``) brings its own batches
    and is not checked: check its batch size with :func:`check_global_batch`.

    Returns:
        The number of replicas.

    Raises:
        ValueError: for an argument out of range (naming it), or for batches
            that do not split, as :func:`check_global_batch` words it; for the
            validation data the message says so and names
            ``validation_batch_size`` when that was given.
    """
    batch_size = check_positive_int(batch_size, "batch_size")
    if validation_batch_size is not None:
        validation_batch_size = check_positive_int(validation_batch_size, "validation_batch_size")
    validation_split = check_rate(validation_split, "validation_split")
    replicas = replica_count(model)
    if replicas <= 1:
        return replicas
    count, held_out = _length(x), None
    if count is not None and validation_split and validation_data is None:
        train = int(math.floor(count * (1.0 - validation_split)))
        count, held_out = train, count - train
    if count is not None:
        check_global_batch(batch_size, num_examples=count, model=model)
    if isinstance(validation_data, (tuple, list)) and validation_data:
        held_out = _length(validation_data[0])
    if held_out:
        try:
            check_global_batch(validation_batch_size or batch_size, num_examples=held_out, model=model)
        except ValueError as error:
            raise _for_validation(error, validation_batch_size) from None
    return replicas


def _for_validation(error: ValueError, validation_batch_size) -> ValueError:
    """``error`` of :func:`check_global_batch`, reworded for the validation data."""
    name = "validation_batch_size" if validation_batch_size else "batch_size"
    text = str(error).replace("argument `batch_size`:", f"argument `{name}` (for the validation data):", 1)
    text = text.replace("(e.g. x[:", "(e.g. x_val[:").replace("(x[:", "(x_val[:")
    return ValueError(text.replace("Received batch_size=", f"Received {name}="))


def _length(data) -> int | None:
    """The number of examples of an array (or a dict or list of arrays), else ``None``."""
    if isinstance(data, dict):
        data = next(iter(data.values()), None)
    elif isinstance(data, (list, tuple)) and data and hasattr(data[0], "shape"):
        data = data[0]
    shape = getattr(data, "shape", None)
    if shape is None or len(shape) == 0 or shape[0] is None:
        return None
    try:
        return int(shape[0])
    except TypeError:  # a symbolic dimension
        return None


def _images(count: int) -> str:
    return f"{count} image{'s' if count != 1 else ''}"


def _examples(count: int) -> str:
    return f"{count} example{'s' if count != 1 else ''}"


def _batch_error(batch_size, replicas, where, detail, advice) -> ValueError:
    return ValueError(
        f"Invalid value for argument `batch_size`: {detail} not split over {replicas} replicas "
        f"({where}), and every replica needs an equal slice. {advice} Received batch_size={batch_size}."
    )


def jax_process_count() -> int:
    """How many JAX processes train together (``jax.distributed``); 1 under the other backends.

    With more than one, Keras's ``fit`` and ``evaluate`` under a
    ``keras.distribution`` take a ``tf.data.Dataset`` (which they shard over the
    processes), not arrays.
    """
    import keras

    if keras.backend.backend() != "jax" or keras.distribution.distribution() is None:
        return 1
    import jax

    return jax.process_count()


def is_chief(model=None) -> bool:
    """Whether this process is the one that prints and saves (``False`` on the other workers).

    Under TensorFlow, ``model.distribute_strategy.extended.should_checkpoint``
    (the strategy whose scope built ``model``, else the current one): ``False``
    on every worker of a ``MultiWorkerMirroredStrategy`` but the chief (worker 0
    of a cluster without a chief). Under JAX, ``jax.process_index() == 0``
    (several processes after ``jax.distributed.initialize``). Anything else,
    one process: ``True``.
    """
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        strategy = getattr(model, "distribute_strategy", None)
        if strategy is None:
            import tensorflow as tf

            strategy = tf.distribute.get_strategy()
        return bool(getattr(strategy.extended, "should_checkpoint", True))
    if backend == "jax":
        import jax

        return jax.process_index() == 0
    return True


def patch_multi_worker_fit() -> bool:
    """Let Keras 3's ``fit`` run under ``tf.distribute.MultiWorkerMirroredStrategy``.

    Keras 3 (checked with 3.15 and TensorFlow 2.21) fails there at the first batch
    of every ``fit`` and ``evaluate``
    (`keras-team/keras#20585 <https://github.com/keras-team/keras/issues/20585>`_):

    1. to build the model it asks the strategy to reduce the whole ``(x, y)``
       batch at once, which this strategy cannot (``ValueError: Attempt to
       convert a value (PerReplica:{...}) ... to a Tensor``);
    2. it then reduces the scalar logs over the workers along an axis 0 they do
       not have (``Invalid reduction dimension 0 for input with 0 dimensions``).

    This replaces, in this process, the two functions of
    ``keras.src.backend.tensorflow.trainer`` involved, with versions that
    reduce one tensor at a time and scalars over no axis. Only runs under a
    multi-worker strategy take the new paths; every other run does what Keras
    does. Call it once in every worker, before ``fit``; calling it again does
    nothing. Drop it once Keras fixes the issue.

    Returns:
        ``True`` when it patched now, ``False`` when this process was patched
        already.

    Raises:
        RuntimeError: under a backend other than TensorFlow, or with a Keras
            whose trainer no longer has the functions patched (then check
            whether the issue is fixed in that version).
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            "patch_multi_worker_fit() is for the TensorFlow backend (MultiWorkerMirroredStrategy); "
            f"this process runs {keras.backend.backend()!r}. Under JAX use keras.distribution instead."
        )
    import tensorflow as tf
    from keras.src import tree
    from keras.src.backend.tensorflow import trainer

    needed = ("_collective_all_reduce_multi_worker", "_is_per_replica_instance", "reduce_per_replica")
    missing = [name for name in needed if not hasattr(trainer, name)]
    if missing or not hasattr(trainer.TensorFlowTrainer, "_maybe_symbolic_build"):
        raise RuntimeError(
            f"keras {keras.__version__} changed the functions patch_multi_worker_fit() replaces "
            f"({', '.join(missing) or 'TensorFlowTrainer._maybe_symbolic_build'}); check whether "
            "keras-team/keras#20585 is fixed in it and fit runs without the patch."
        )
    if getattr(trainer.reduce_per_replica, "_keras_cnnlab_patch", False):
        return False
    build = trainer.TensorFlowTrainer._maybe_symbolic_build
    reduce_per_replica = trainer.reduce_per_replica
    multi_worker = trainer._collective_all_reduce_multi_worker

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        strategy = self._distribute_strategy
        if iterator is None or strategy is None or not multi_worker(strategy):
            return build(self, iterator=iterator, data_batch=data_batch)
        for _, _, batches in iterator:  # the first batch, one tensor reduced at a time
            batch = next(batches)
            break
        else:
            return build(self, data_batch=data_batch)
        data_batch = tree.map_structure(
            lambda v: strategy.reduce("MEAN", v, axis=None) if isinstance(v, tf.distribute.DistributedValues) else v,
            batch,
        )
        return build(self, data_batch=data_batch)

    def _reduce_per_replica(values, strategy, reduction):
        if reduction not in ("auto", "mean") or not multi_worker(strategy):
            return reduce_per_replica(values, strategy, reduction)

        def one(value):  # a scalar is reduced over no axis, anything else over the batch axis
            if not trainer._is_per_replica_instance(value):
                return value
            rank = strategy.experimental_local_results(value)[0].shape.rank
            return strategy.reduce("MEAN", value, axis=None if rank == 0 else 0)

        return tree.map_structure(one, values)

    _reduce_per_replica._keras_cnnlab_patch = True
    trainer.TensorFlowTrainer._maybe_symbolic_build = _maybe_symbolic_build
    trainer.reduce_per_replica = _reduce_per_replica
    return True
