"""The structured result of a shape trace: rows, totals and findings.

Everything here is plain data (dataclasses of ints, strings and tuples), so a
caller can read any figure without parsing text. Rendering lives in
:mod:`keras_cnnlab.trace.render` and only loads rich when asked to draw.
"""

from __future__ import annotations

import dataclasses
import json
import os

from keras_cnnlab import shapes
from keras_cnnlab.trace import columns as columns_
from keras_cnnlab.trace.reach import window_of

__all__ = ["LayerTrace", "TraceTotals", "Finding", "ShapeTrace", "SAVE_SUFFIXES", "check_save_path"]

#: The file suffixes ShapeTrace.save writes, and the format of each.
SAVE_SUFFIXES = {".txt": "text", ".log": "text", ".json": "JSON", ".html": "HTML", ".htm": "HTML", ".svg": "SVG"}

Shape = tuple  # a shape with the batch axis first, ``None`` for unknown sizes


@dataclasses.dataclass
class LayerTrace:
    """One layer call of the traced model.

    Attributes:
        path: unique name in the tree, e.g. ``"block1/conv1"``; a shared layer's
            later calls get ``"@2"``, ``"@3"``... appended.
        name: the layer's name.
        type: the layer's class name.
        family: the built-in type whose rules apply (``"Conv2D"`` for a
            subclass of Conv2D), else the class name.
        depth: 0 for the model's own layers, 1 for their parts, and so on.
        parent: ``path`` of the enclosing layer, ``None`` at depth 0.
        input_shape: the input shape, or a list of shapes for several inputs.
        output_shape: the output shape (or a list); ``None`` when it could not
            be traced.
        dtype: the dtype of the output (the layer's compute dtype).
        data_format: ``"channels_last"`` or ``"channels_first"`` for layers that
            have one, else ``None``.
        kernel_size, strides, padding, dilation_rate: the window of a
            convolution or pooling layer, ``None`` elsewhere.
        explanation: the shape arithmetic in words, from
            :mod:`keras_cnnlab.shapes`, e.g. ``"maxpool 2 s2 valid: 7 -> 3
            (floor drops 1 row and 1 column)"``.
        trainable_params, non_trainable_params: weights of this layer and its
            parts (0 on the later calls of a shared layer).
        macs: multiply-accumulates per sample, ``None`` when unknown.
        flops: floating-point operations per sample, ``None`` when unknown.
        activation_bytes: bytes of this layer's output for the trace's batch
            size (the forward pass).
        saved_bytes: what training keeps of it for the backward pass: the
            output, nothing for views (Flatten, Reshape), the sum of the parts
            for a layer with parts; the totals' ``activation_bytes`` is the
            input batch plus this over the leaf rows. ``None`` when unknown.
        param_share: this row's share of the model's parameters, 0 to 1.
        receptive_field: ``(height, width)`` of the input window that one
            output position sees, ``None`` when not spatial or unknown.
        effective_stride: input pixels between two neighbouring output
            positions (the "jump").
        effective_padding: ``(height, width)``: output position ``(i, j)``
            sees input rows from ``i * stride - padding`` on (negative: zero
            padding), with padding "same" taken from the actual sizes
            (:meth:`ShapeTrace.input_window` gives the window);
            ``None`` when unknown.
        covers_input: whether each output value depends on the whole input
            (after Flatten, global pooling or a Dense on flat features, and in
            every layer they feed). Where a branch that covers the input meets
            a local one (squeeze-and-excitation), ``receptive_field`` is the
            local path's and ``covers_input`` is ``True``.
        has_children: whether rows for this layer's parts follow it.
        note: a remark such as ``"shares weights with 'conv'"`` or why a cost
            is unknown.
        error: why this layer's output (or its parts) could not be traced.
    """

    path: str
    name: str
    type: str
    depth: int
    family: str | None = None
    parent: str | None = None
    input_shape: Shape | list[Shape] | None = None
    output_shape: Shape | list[Shape] | None = None
    dtype: str | None = None
    data_format: str | None = None
    kernel_size: tuple | None = None
    strides: tuple | None = None
    padding: str | None = None
    dilation_rate: tuple | None = None
    explanation: str | None = None
    trainable_params: int = 0
    non_trainable_params: int = 0
    macs: int | None = None
    flops: int | None = None
    activation_bytes: int | None = None
    saved_bytes: int | None = None
    param_share: float = 0.0
    receptive_field: tuple[int, int] | None = None
    effective_stride: tuple[int, int] | None = None
    effective_padding: tuple[int, int] | None = None
    covers_input: bool = False
    has_children: bool = False
    note: str | None = None
    error: str | None = None

    @property
    def params(self) -> int:
        """Trainable plus non-trainable parameters."""
        return self.trainable_params + self.non_trainable_params

    def to_dict(self) -> dict:
        """The row as JSON-ready data (tuples become lists)."""
        data = dataclasses.asdict(self)
        data["params"] = self.params
        return _jsonable(data)


@dataclasses.dataclass
class TraceTotals:
    """Whole-model figures.

    Attributes:
        input_shape, output_shape: of the model (lists for several inputs/outputs).
        trainable_params, non_trainable_params: unique weights, as
            ``model.count_params()`` counts them.
        weight_bytes: memory of all weights.
        optimizer: the optimizer the state estimate is for, or ``None``.
        optimizer_state_bytes: memory of the optimizer's slots (Adam keeps two
            per trainable weight), ``None`` when no or an unknown optimizer.
        batch_size: the batch size the activation figures are for.
        input_bytes: memory of one input batch.
        activation_bytes: the input batch plus every layer output of the batch,
            what training keeps for the backward pass (views such as Flatten and
            Reshape excluded); ``None`` when a size is unknown.
        macs, flops: per sample, summed over layers with a known cost.
        unknown_cost_layers: paths of the layers left out of ``macs``/``flops``.
        receptive_field: receptive field of the last spatial feature map whose
            field is known (the one global pooling takes, in a classifier).
        effective_stride: its effective stride.
        effective_padding: its effective padding, ``(height, width)``.
        global_branch: whether a branch that sees the whole input
            (squeeze-and-excitation) feeds that map; ``receptive_field`` is then
            the main path's.
        input_size: ``(height, width)`` of the input, for comparison.
    """

    input_shape: Shape | list[Shape] | None = None
    output_shape: Shape | list[Shape] | None = None
    trainable_params: int = 0
    non_trainable_params: int = 0
    weight_bytes: int = 0
    optimizer: str | None = None
    optimizer_state_bytes: int | None = None
    batch_size: int = 1
    input_bytes: int | None = None
    activation_bytes: int | None = None
    macs: int = 0
    flops: int = 0
    unknown_cost_layers: list[str] = dataclasses.field(default_factory=list)
    receptive_field: tuple[int, int] | None = None
    effective_stride: tuple[int, int] | None = None
    effective_padding: tuple[int, int] | None = None
    global_branch: bool = False
    input_size: tuple | None = None

    @property
    def params(self) -> int:
        """Trainable plus non-trainable parameters."""
        return self.trainable_params + self.non_trainable_params

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["params"] = self.params
        return _jsonable(data)


@dataclasses.dataclass(frozen=True)
class Finding:
    """Something in the trace worth a look.

    Attributes:
        kind: one of ``"floor_drop"``, ``"early_collapse"``,
            ``"window_exceeds_input"``, ``"flatten_dense_params"``,
            ``"receptive_field"``, ``"untraced"``, ``"unknown_cost"``.
        message: what was found and how to fix it.
        layer: path of the row it concerns, if any.
        severity: ``"warning"`` or ``"info"``.
    """

    kind: str
    message: str
    layer: str | None = None
    severity: str = "warning"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class ShapeTrace:
    """The shape trace of a model: rows, totals and findings.

    Build one with :func:`keras_cnnlab.trace_shapes`. Render it with
    :meth:`to_text`, :meth:`save_html`, :meth:`save_svg` or
    ``rich.print(trace)``; read figures from :attr:`rows` and :attr:`totals`.

    Attributes:
        model_name: the traced model's name.
        rows: one :class:`LayerTrace` per layer call, in execution order, each
            followed by its parts, down to ``depth``.
        totals: the :class:`TraceTotals`.
        findings: the :class:`Finding` list, computed over every layer
            (including parts deeper than ``depth``).
        depth: the deepest row level kept.
    """

    model_name: str
    rows: list[LayerTrace]
    totals: TraceTotals
    findings: list[Finding]
    depth: int

    def row(self, key: str) -> LayerTrace:
        """The row with this path (``"block1/conv1"``), or the only row with this name."""
        for row in self.rows:
            if row.path == key:
                return row
        named = [row for row in self.rows if row.name == key]
        if len(named) == 1:
            return named[0]
        known = ", ".join(row.path for row in self.rows)
        raise KeyError(
            f"No row {key!r} in the trace of {self.model_name!r}"
            + (" (several rows have that name; use the path)" if named else "")
            + f". Rows: {known}."
        )

    def input_window(self, layer: str, position, *, clip: bool = False) -> tuple[tuple[int, int], tuple[int, int]]:
        """The input window that one output position of ``layer`` sees.

        Args:
            layer: a row's path or unique name, as for :meth:`row`.
            position: ``(i, j)``, the output position (row, column) in the
                layer's feature map.
            clip: ``False`` (the default) gives the window as the layer sees
                it, padding included: ``start`` may be negative and ``stop``
                past the input. ``True`` clips both to the input.

        Returns:
            ``((row_start, row_stop), (col_start, col_stop))``, stops exclusive
            as in ``range``: ``start = i * effective_stride - effective_padding``,
            ``stop = start + receptive_field``. With dilation or strides the
            window is the span the taps lie in. For a layer that sees the whole
            input through global pooling, the whole input; after
            squeeze-and-excitation the main path's window (its other branch sees
            the whole input).

        Raises:
            KeyError: for an unknown layer.
            ValueError: for a position outside the layer's feature map, or a
                layer without a known receptive field and effective padding.

        Example:

        ```python
        trace.input_window("conv2", (0, 0))             # ((-2, 3), (-2, 3))
        trace.input_window("conv2", (0, 0), clip=True)  # ((0, 3), (0, 3))
        ```
        """
        row = self.row(layer)
        size = _spatial(row.output_shape, row.data_format)
        if (
            not isinstance(position, (tuple, list)) or len(position) != 2
            or not all(isinstance(p, int) and not isinstance(p, bool) for p in position)
            or size is None
            or any(p < 0 or (n is not None and p >= n) for p, n in zip(position, size))
        ):
            raise ValueError(
                "Invalid value for argument `position`. Expected (row, column) of an output "
                f"position of {row.path!r}, whose feature map is "
                f"{'not spatial' if size is None else shapes.format_dims(size)}. "
                f"Received position={position!r}."
            )
        inputs = self.totals.input_size
        if row.receptive_field is None and row.covers_input and inputs and None not in inputs:
            return tuple((0, n) for n in inputs)
        if row.receptive_field is None or row.effective_padding is None:
            raise ValueError(
                f"Invalid value for argument `layer`: {row.path!r} ({row.type}) has no known "
                "receptive field and effective padding (an unknown layer before it, or "
                "padding 'same' on an unknown size: give trace_shapes an input_shape)."
            )
        window = tuple(
            window_of(p, r, s, q)
            for p, r, s, q in zip(position, row.receptive_field, row.effective_stride, row.effective_padding)
        )
        if clip and inputs:
            window = tuple(
                (max(a, 0), b if n is None else min(b, n)) for (a, b), n in zip(window, inputs)
            )
        return window

    @property
    def warnings(self) -> list[Finding]:
        """Findings of severity ``"warning"``."""
        return [f for f in self.findings if f.severity == "warning"]

    def to_dict(self) -> dict:
        """The whole trace as JSON-ready data."""
        return {
            "model": self.model_name,
            "depth": self.depth,
            "rows": [row.to_dict() for row in self.rows],
            "totals": self.totals.to_dict(),
            "findings": [f.to_dict() for f in self.findings],
        }

    def to_records(self) -> list[dict]:
        """One dict per row, every :class:`LayerTrace` field plus ``params``, for data frames.

        Values stay Python values (shapes and pairs as tuples):
        ``pandas.DataFrame(trace.to_records())``.
        """
        return [{**dataclasses.asdict(row), "params": row.params} for row in self.rows]

    def to_csv(self, path=None, columns=None) -> str:
        """The rows as CSV text (written to ``path`` too when given); returns the text.

        Args:
            path: a file to write, or ``None``.
            columns: ``None`` for every field of :meth:`to_records`, in its
                order; else the column names that :meth:`to_text` takes (the
                record fields, ``layer``, ``kernel``, the short aliases such
                as ``rf`` or ``saved``; see :mod:`keras_cnnlab.trace.columns`)
                or ``"all"``. The header row names the columns as resolved
                (``saved`` becomes ``saved_bytes``). Shapes are written as Keras
                prints them, ``(None, 28, 28, 1)``, pairs as ``3x3``, unknown
                values empty; ``layer`` and ``kernel`` as the table writes them.

        Raises:
            ValueError: for a name that is no column (the message lists them).
        """
        import csv
        import io

        records = self.to_records()
        if columns is None:
            fields = list(records[0]) if records else ["path"]
        else:
            fields = list(columns_.resolve(columns))
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(fields)
        for row, record in zip(self.rows, records):
            writer.writerow([_csv_cell(columns_.csv_value(row, record, f)) for f in fields])
        text = out.getvalue()
        if path is not None:
            _write(path, text)
        return text

    def to_json(self, indent: int | None = 2) -> str:
        """:meth:`to_dict` as a JSON string."""
        return json.dumps(self.to_dict(), indent=indent)

    # Rendering: rich is imported only here, on demand.

    def to_text(self, columns=None, *, width: int = 140) -> str:
        """The rendered table, totals and findings as plain text (no control characters).

        Args:
            columns: column names (see :data:`keras_cnnlab.trace.COLUMNS`: the
                fields of :meth:`to_records`, ``layer``, ``kernel``, and short
                aliases such as ``rf``; the same names :meth:`to_csv` takes),
                ``"all"``, or ``None`` for the defaults.
            width: line width (140 by default, to fit the default columns).

        Raises:
            ValueError: for a name that is no column (the message lists them).
        """
        from keras_cnnlab.trace import render

        return render.export(self, "text", columns=columns, width=width)

    def save_html(self, path, columns=None, *, width: int = 140) -> str:
        """Write the rendered trace as a standalone HTML page; returns the path."""
        from keras_cnnlab.trace import render

        return _write(path, render.export(self, "html", columns=columns, width=width))

    def save_svg(self, path, columns=None, *, width: int = 140, title: str | None = None) -> str:
        """Write the rendered trace as an SVG image (a terminal screenshot); returns the path."""
        from keras_cnnlab.trace import render

        text = render.export(self, "svg", columns=columns, width=width, title=title)
        return _write(path, text)

    def save(self, path, columns=None, *, width: int = 140) -> str:
        """Write the trace in the format its suffix names: .json, .html, .svg, or text (.txt, .log).

        Raises:
            ValueError: for any other suffix (a ``.pdf`` would get plain text).
        """
        suffix = check_save_path(path)
        if suffix == ".json":
            return _write(path, self.to_json())
        if suffix in (".html", ".htm"):
            return self.save_html(path, columns, width=width)
        if suffix == ".svg":
            return self.save_svg(path, columns, width=width)
        return _write(path, self.to_text(columns, width=width))

    def __rich__(self):
        from keras_cnnlab.trace import render

        return render.renderable(self)

    def _repr_html_(self) -> str:
        from keras_cnnlab.trace import render

        return render.export(self, "html_fragment")

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        totals = self.totals
        return (
            f"ShapeTrace(model={self.model_name!r}, rows={len(self.rows)}, "
            f"params={totals.params:,}, flops={totals.flops:,}, findings={len(self.findings)})"
        )


def check_save_path(path) -> str:
    """The suffix of ``path``, lowercased, after checking that :meth:`ShapeTrace.save` writes it."""
    if not isinstance(path, (str, os.PathLike)):
        raise ValueError(
            f"Invalid value for argument `path`. Expected a file path. Received path={path!r}."
        )
    suffix = os.path.splitext(os.fspath(path))[1].lower()
    if suffix not in SAVE_SUFFIXES:
        raise ValueError(
            "Invalid value for argument `path`. Expected a file name ending in one of "
            f"{tuple(SAVE_SUFFIXES)} (the suffix picks the format). Received path={os.fspath(path)!r}."
        )
    return suffix


def _csv_cell(value):
    if value is None:
        return ""
    if isinstance(value, list) or (isinstance(value, tuple) and value and value[0] is None):
        return shapes.format_shape(value)  # a shape: batch axis first
    if isinstance(value, tuple):
        return shapes.format_dims(value)
    return value


def _spatial(shape, data_format) -> tuple | None:
    if not isinstance(shape, tuple) or len(shape) != 4:
        return None
    return tuple(shape[2:]) if data_format == "channels_first" else tuple(shape[1:3])


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _write(path, text: str) -> str:
    path = os.fspath(path)
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path
