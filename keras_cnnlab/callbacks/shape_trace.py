"""ShapeTraceCallback: the shape trace of the model being trained, once, before the first batch."""

from __future__ import annotations

import copy
import os

import keras

from keras_cnnlab._validation import check_int
from keras_cnnlab.trace.result import SAVE_SUFFIXES, check_save_path
from keras_cnnlab.trace.tracer import DEFAULT_DEPTH, trace_shapes

__all__ = ["ShapeTraceCallback"]


class ShapeTraceCallback(keras.callbacks.Callback):
    """Print (or save) the model's shape trace when training starts.

    At ``on_train_begin``, before the first batch, the model is traced with
    :func:`keras_cnnlab.trace_shapes` (the model is built by then; no data goes
    through it) and the trace is printed, written to ``path``, or both. Survives
    ``copy.deepcopy`` (KerasTuner copies callbacks for every trial): the copies
    share the console and trace their own trial's model.

    Args:
        path: a file to write the trace to; the suffix picks the format:
            ``.txt`` or ``.log`` (plain text, lines of at most 120 characters),
            ``.json``, ``.html`` or ``.svg``. Any other suffix raises a
            ValueError. The file is replaced at each ``fit``.
        console: where to print: ``None`` (standard output, unless ``path`` is
            given), a path, a writable file or a ``rich.console.Console``.
        batch_size: the batch size of the memory figures (Keras's ``fit``
            default is 32).
        depth: deepest row level, as for :func:`~keras_cnnlab.trace_shapes`.
        optimizer: ``None`` for the compiled optimizer, or a name or optimizer.
        columns: column names, ``"all"`` or ``None`` for the defaults.
        input_shape: the sample shape for models whose input sizes are unknown.

    Attributes:
        trace: the last :class:`~keras_cnnlab.trace.ShapeTrace`, ``None`` before
            training starts.

    Example:

    ```python
    model.fit(x, y, epochs=5, callbacks=[ShapeTraceCallback(path="trace.txt")])
    ```
    """

    def __init__(
        self,
        path: str | os.PathLike | None = None,
        console=None,
        *,
        batch_size: int = 32,
        depth: int = DEFAULT_DEPTH,
        optimizer=None,
        columns=None,
        input_shape=None,
    ):
        super().__init__()
        from keras_cnnlab.trace import render

        if path is not None:
            check_save_path(path)  # a typo in the suffix fails here, not after training
        self.path = None if path is None else os.fspath(path)
        self.console = console
        self.batch_size = check_int(batch_size, "batch_size", minimum=1)
        self.depth = check_int(depth, "depth", minimum=0)
        self.optimizer = optimizer
        self.columns = None if columns is None else render.check_columns(columns)
        self.input_shape = input_shape
        self.trace = None

    def on_train_begin(self, logs=None):
        from keras_cnnlab.trace import render

        self.trace = trace_shapes(
            self.model,
            self.input_shape,
            batch_size=self.batch_size,
            depth=self.depth,
            optimizer=self.optimizer,
        )
        if self.path is not None:
            as_text = SAVE_SUFFIXES[check_save_path(self.path)] == "text"
            self.trace.save(self.path, self.columns, width=render.FILE_WIDTH if as_text else render.WIDTH)
        if self.path is None or self.console is not None:
            render.print_trace(self.trace, columns=self.columns, console=self.console)

    def __deepcopy__(self, memo):
        new = type(self).__new__(type(self))
        memo[id(self)] = new
        for key, value in self.__dict__.items():
            if key in ("console", "optimizer"):
                new.__dict__[key] = value  # output sinks and optimizers are shared, not copied
            elif key in ("_model", "trace"):
                new.__dict__[key] = None
            else:
                new.__dict__[key] = copy.deepcopy(value, memo)
        return new
