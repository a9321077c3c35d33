"""compile_for: the loss that fits the labels, and the checks of labels and images it runs first.

Integer class ids get sparse categorical crossentropy, one-hot rows categorical
crossentropy, one output unit binary crossentropy, and a model without an output
activation ``from_logits=True``; the mix-ups (one-hot labels with a sparse loss,
labels beyond the outputs, 3-D grayscale images, NaN pixels, channels-first
images for a channels-last model) fail before training with the fix in the
message.
"""

from __future__ import annotations

import warnings

import keras
import numpy as np

from keras_cnnlab.losses import SparseCategoricalCrossentropy, check_label_smoothing

__all__ = [
    "label_encoding",
    "loss_for_labels",
    "check_labels",
    "check_images",
    "compile_for",
]


def label_encoding(labels) -> str:
    """``"sparse"`` for integer class ids, ``"one_hot"`` for one-hot (or soft) rows."""
    y = np.asarray(labels)
    if y.dtype.kind not in "biuf":
        examples = np.unique(y.ravel()[:1000])[:3].tolist() if y.dtype.kind in "USO" else y.ravel()[:3].tolist()
        raise ValueError(
            "Invalid value for argument `labels`: expected integer class ids or one-hot rows; "
            f"received {y.dtype} values such as {examples}. Encode them as ids first: "
            "`class_names, y = np.unique(labels, return_inverse=True)`."
        )
    if y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1):
        if y.size and not np.all(np.equal(np.mod(y, 1), 0)):
            raise ValueError(
                "Invalid value for argument `labels`: 1-D labels must be integer class "
                f"ids; received values such as {y.ravel()[:5].tolist()}."
            )
        return "sparse"
    if y.ndim == 2:
        sums = y.sum(axis=1)
        if y.size and (np.any(y < 0) or not np.allclose(sums, 1.0, atol=1e-3)):
            raise ValueError(
                "Invalid value for argument `labels`: 2-D labels must be one-hot (or "
                "probability) rows summing to 1; received rows summing to "
                f"{sums[:5].round(3).tolist()}."
            )
        return "one_hot"
    raise ValueError(
        "Invalid value for argument `labels`. Expected integer ids of shape (N,) or one-hot "
        f"rows of shape (N, num_classes). Received shape {y.shape}."
    )


def _model_input_shape(model, images=None) -> tuple | None:
    """The input shape (batch axis included) of ``model``, or of ``images``; None if unknown."""
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):  # a subclassed model has no symbolic inputs
        inputs = None
    if inputs:
        return tuple(inputs[0].shape)
    if images is not None and len(getattr(images, "shape", ())) == 4:
        return (None, *images.shape[1:])
    built = getattr(model, "_build_shapes_dict", None)  # what model.build(shape) was given
    if model.built and built and len(built) == 1:
        return tuple(next(iter(built.values())))
    return None


def _num_outputs(model, images=None) -> int:
    """Output units of ``model``: from its symbolic outputs, or by tracing a subclassed one."""
    try:
        outputs = model.outputs
    except (AttributeError, ValueError):
        outputs = None
    if outputs:
        return int(outputs[0].shape[-1])
    shape = _model_input_shape(model, images)
    if shape is None:
        raise ValueError(
            f"compile_for cannot tell how many outputs {type(model).__name__} has: it is a "
            "subclassed model that is not built. Pass the training images (`images=x_train`), "
            "or build it first (`model.build((None, height, width, channels))`)."
        )
    try:
        spec = model.compute_output_spec(keras.KerasTensor((1, *shape[1:])))
    except Exception as error:  # whatever the model's call raises for this shape
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        detail = next((line for line in lines if "incompatible" in line or "expected" in line), lines[0] if lines else "")
        raise ValueError(
            f"{type(model).__name__} does not run on images of shape {tuple(shape[1:])}: "
            f"{_strip_ansi(detail)} Check the images' shape (channels last?) against the model."
        ) from None
    return int(spec.shape[-1])


def _strip_ansi(text: str) -> str:
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def _output_activation(model) -> str:
    """The name of the last layer's activation (``"linear"`` for none)."""
    if not model.layers:
        return "softmax"
    last = model.layers[-1]
    act = getattr(last, "activation", "softmax")
    if act is None:
        return "linear"
    return act if isinstance(act, str) else getattr(act, "__name__", str(act))


def _output_is_logits(model) -> bool:
    return _output_activation(model) == "linear"


_SPARSE = {"sparse_categorical_crossentropy", "SparseCategoricalCrossentropy"}
_DENSE = {"categorical_crossentropy", "CategoricalCrossentropy"}


def _loss_name(loss) -> str | None:
    if loss is None or isinstance(loss, str):
        return loss
    if isinstance(loss, keras.losses.Loss):
        return type(loss).__name__
    return getattr(loss, "__name__", None)


def loss_for_labels(
    labels, num_outputs: int | None = None, *, from_logits: bool = False, label_smoothing: float = 0.0
):
    """The crossentropy loss that matches ``labels``.

    Integer ids -> SparseCategoricalCrossentropy; one-hot rows ->
    CategoricalCrossentropy; a single output unit -> BinaryCrossentropy.
    ``label_smoothing`` works with all three (integer ids through
    :class:`keras_cnnlab.losses.SparseCategoricalCrossentropy`, since Keras's
    sparse loss has no smoothing).
    """
    label_smoothing = check_label_smoothing(label_smoothing)
    if num_outputs == 1:
        return keras.losses.BinaryCrossentropy(from_logits=from_logits, label_smoothing=label_smoothing)
    if label_encoding(labels) == "sparse":
        if label_smoothing:
            return SparseCategoricalCrossentropy(label_smoothing, from_logits=from_logits)
        return keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
    return keras.losses.CategoricalCrossentropy(from_logits=from_logits, label_smoothing=label_smoothing)


def check_labels(model, labels, loss=None, *, images=None) -> None:
    """Raise a clear error when ``labels`` do not fit ``model``'s output or ``loss``."""
    y = np.asarray(labels)
    outputs = _num_outputs(model, images)
    encoding = label_encoding(y)
    name = _loss_name(loss)
    if encoding == "one_hot" and name in _SPARSE:
        raise ValueError(
            f"Invalid value for argument `loss`: {name} expects integer labels, but the "
            "labels are one-hot. Use loss='categorical_crossentropy', or pass integer ids "
            "(`y.argmax(axis=1)`), or leave `loss` unset so compile_for chooses."
        )
    if encoding == "sparse" and name in _DENSE:
        raise ValueError(
            f"Invalid value for argument `loss`: {name} expects one-hot labels, but the "
            "labels are integer ids. Use loss='sparse_categorical_crossentropy', or "
            "one-hot encode them (`keras.utils.to_categorical(y)`), or leave `loss` unset."
        )
    if outputs > 1 and encoding == "sparse" and name is None and _output_activation(model) == "sigmoid":
        raise ValueError(
            f"The model ends in {outputs} sigmoid units, but the labels are integer class ids "
            "(one class per image). Use output_activation='softmax', or for two classes one "
            "sigmoid unit (build_cnn(..., num_classes=2, output_activation='sigmoid') builds it)."
        )
    if outputs == 1:
        if y.size and not np.isin(y, (0, 1)).all():
            raise ValueError(
                "The model has one output unit (binary) but the labels hold values other "
                f"than 0 and 1 (e.g. {np.unique(y)[:5].tolist()}). Use num_classes equal to "
                "the number of classes."
            )
        return
    if encoding == "one_hot" and y.shape[1] != outputs:
        raise ValueError(
            f"The labels are one-hot with {y.shape[1]} columns but the model has {outputs} "
            f"outputs. Build the model with num_classes={y.shape[1]}."
        )
    if encoding == "sparse" and y.size:
        low, high = int(y.min()), int(y.max())
        if low < 0 or high >= outputs:
            raise ValueError(
                f"The labels run from {low} to {high} but the model has {outputs} outputs "
                f"(classes 0..{outputs - 1}). Build the model with num_classes={high + 1}."
            )


_RANGE_WARNED = False


def check_images(images, *, expected_range=(0.0, 1.0), data_format=None, input_shape=None) -> None:
    """Check a batch of images before training: 4-D, finite, of the model's shape and range.

    Raises a ValueError for 3-D grayscale input (with the fix), for NaN or infinite
    values, and for images whose shape differs from ``input_shape`` (the model's,
    batch axis included; channels-first images for a channels-last model are named
    as such). Warns once per process when values look like raw 0..255 pixels while
    ``expected_range`` is ``(0, 1)``.
    """
    global _RANGE_WARNED
    x = np.asarray(images) if not hasattr(images, "shape") else images
    if len(x.shape) == 3:
        raise ValueError(
            f"Images must be 4-D (batch, height, width, channels); received shape "
            f"{tuple(x.shape)}. Add the channel axis with `x = x[..., None]`."
        )
    if len(x.shape) != 4:
        raise ValueError(
            f"Images must be 4-D (batch, height, width, channels); received shape {tuple(x.shape)}."
        )
    if input_shape is not None:
        _check_image_shape(tuple(x.shape[1:]), tuple(input_shape[1:]))
    if np.issubdtype(np.asarray(x[:1]).dtype, np.floating):
        bad = ~np.isfinite(np.asarray(x))
        if bad.any():
            where = np.argwhere(bad.reshape(len(x), -1).any(axis=1)).ravel()
            raise ValueError(
                f"Invalid value for argument `images`: {len(where)} image(s) hold NaN or infinite "
                f"values (the first at index {int(where[0])}). Fix or drop them before training "
                "(`keep = np.isfinite(x).all(axis=(1, 2, 3))`)."
            )
    high = float(np.max(np.asarray(x[: min(len(x), 256)])))
    if expected_range[1] <= 1.0 and high > 1.5 and not _RANGE_WARNED:
        _RANGE_WARNED = True
        warnings.warn(
            f"Pixel values reach {high:g} but the model expects {tuple(expected_range)}. "
            "Scale them first (`x = x / 255.0`) or build the model with rescale=1/255.",
            UserWarning,
            stacklevel=3,
        )


def _check_image_shape(got: tuple, expected: tuple) -> None:
    if len(got) != len(expected) or all(e is None or g == e for g, e in zip(got, expected)):
        return
    if len(got) == 3 and got[1:] + got[:1] == expected:
        fix = "they are channels-first: move the channel axis last with `x = np.moveaxis(x, 1, -1)`"
    elif len(got) == 3 and got[2:] + got[:2] == expected:
        fix = "they are channels-last but the model is channels-first: `x = np.moveaxis(x, -1, 1)`"
    else:
        fix = "resize them, or build the model for their shape"
    raise ValueError(
        f"Invalid value for argument `images`: each image has shape {got} but the model takes "
        f"{expected}; {fix}."
    )


def compile_for(
    model,
    labels,
    *,
    images=None,
    optimizer="adam",
    learning_rate: float | None = None,
    loss=None,
    label_smoothing: float = 0.0,
    metrics=("accuracy",),
    **compile_kwargs,
):
    """Compile ``model`` with the loss that fits ``labels``, after checking them.

    Makes the classic mix-up impossible: integer labels get sparse categorical
    crossentropy, one-hot labels categorical crossentropy, one output unit binary
    crossentropy, and a model without output activation ``from_logits=True``.
    A ``loss`` given explicitly is checked against the labels. ``images``, if
    given, are checked with :func:`check_images` against the model's input
    shape; a subclassed model that is not built yet needs them (or
    ``model.build(shape)``) to know its outputs. ``label_smoothing`` (in [0, 1))
    smooths the chosen loss's targets, integer ids included; to train with a whole
    recipe (optimizer, schedule, smoothing, epochs) see :class:`keras_cnnlab.Recipe`.

    Returns:
        The model, compiled.
    """
    if images is not None:
        check_images(images, input_shape=_model_input_shape(model))
    check_labels(model, labels, loss, images=images)
    if loss is None:
        loss = loss_for_labels(
            labels, _num_outputs(model, images), from_logits=_output_is_logits(model),
            label_smoothing=label_smoothing,
        )
    elif label_smoothing:
        raise ValueError(
            "Arguments `loss` and `label_smoothing` do not go together: set the smoothing on "
            f"the loss itself, or leave `loss` unset so compile_for chooses. Received loss={loss!r}."
        )
    if learning_rate is not None:
        if isinstance(optimizer, str):
            optimizer = keras.optimizers.get({"class_name": optimizer, "config": {"learning_rate": learning_rate}})
        else:
            raise ValueError(
                "Argument `learning_rate` works with an optimizer name; set it on the "
                f"optimizer instance instead. Received optimizer={optimizer!r}."
            )
    model.compile(optimizer=optimizer, loss=loss, metrics=list(metrics), **compile_kwargs)
    return model
