"""The columns of a trace: one vocabulary for the table, the exports and CSV.

Every name means the same thing wherever ``columns`` is taken
(:meth:`~keras_cnnlab.trace.ShapeTrace.to_text`, ``save_html``, ``save_svg``,
``save``, :meth:`~keras_cnnlab.trace.ShapeTrace.to_csv`,
:func:`~keras_cnnlab.print_shape_trace`, ``ShapeTraceCallback``):

* the fields of :class:`~keras_cnnlab.trace.LayerTrace` and ``params``, as
  :meth:`~keras_cnnlab.trace.ShapeTrace.to_records` names them: the table
  formats them (``3x3``, ``1.2M``, ``48.0%``), CSV writes the value;
* ``layer`` (name and type) and ``kernel`` (the window, ``3x3 s2 same``), which
  only the table composes: CSV writes the same text;
* the table's short names, kept as aliases (:data:`ALIASES`): ``input``,
  ``output``, ``explain``, ``trainable``, ``non_trainable``, ``memory``,
  ``saved``, ``rf``, ``stride``. ``padding`` is the layer's padding argument
  (``"same"``, ``"valid"``) everywhere; the effective padding is
  ``effective_padding``.

Pure Python: no rich, so CSV never loads it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from keras_cnnlab.display.formatting import count, nbytes
from keras_cnnlab.shapes import format_dims, format_shape, format_size

if TYPE_CHECKING:  # annotations only: result.py imports this module
    from keras_cnnlab.trace.result import LayerTrace

__all__ = [
    "Column", "COLUMNS", "ALIASES", "DEFAULT_COLUMNS", "TABLE_ONLY",
    "resolve", "layer_label", "window", "csv_value",
]


class Column(NamedTuple):
    """How the table shows one column: ``header``, ``cell(row) -> str``, ``justify``."""

    header: str
    cell: Callable[[LayerTrace], str]
    justify: str


def _pair(values) -> str:
    return "" if values is None else format_size(values)


def _text(value) -> str:
    return "" if value is None else str(value)


def _dims(values) -> str:
    return "" if values is None else format_dims(values)


def _yes(value) -> str:
    return "yes" if value else ""


def window(row: LayerTrace) -> str:
    """The ``kernel`` column: a convolution's or pool's window, ``3x3 s2 same d2``."""
    if row.kernel_size is None:
        return ""
    text = format_dims(row.kernel_size)
    if row.strides is not None:
        text += f" s{_pair(row.strides)}"
    if row.padding:
        text += f" {row.padding}"
    if row.dilation_rate is not None and any(d != 1 for d in row.dilation_rate):
        text += f" d{_pair(row.dilation_rate)}"
    return text


def layer_label(row: LayerTrace) -> str:
    """The ``layer`` column: ``name (Type)``, and whom a shared layer's later call shares with."""
    text = f"{row.name} ({row.type})"
    if row.note and row.note.startswith("shares"):
        text += f" [{row.note}]"
    return text


def _rf(row: LayerTrace) -> str:
    if row.receptive_field is None:
        return "all" if row.covers_input else ""
    # After squeeze-and-excitation: the main path's field, and a branch that sees everything.
    return _pair(row.receptive_field) + ("+all" if row.covers_input else "")


def _output(row: LayerTrace) -> str:
    return format_shape(row.output_shape) if not row.error else "not traced"


def _bytes(value_of):
    return lambda r: nbytes(value_of(r)) if r.output_shape else ""


#: Every column, in the order ``columns="all"`` shows them: the table's usual
#: columns first, then the rest of the record fields.
COLUMNS: dict[str, Column] = {
    "layer": Column("Layer (type)", layer_label, "left"),
    "type": Column("Type", lambda r: r.type, "left"),
    "input_shape": Column("Input shape", lambda r: format_shape(r.input_shape), "left"),
    "output_shape": Column("Output shape", _output, "left"),
    "kernel": Column("Window", window, "left"),
    "explanation": Column("Shape arithmetic", lambda r: r.explanation or "", "left"),
    "params": Column("Params", lambda r: f"{r.params:,}", "right"),
    "trainable_params": Column("Trainable", lambda r: f"{r.trainable_params:,}", "right"),
    "non_trainable_params": Column("Non-trainable", lambda r: f"{r.non_trainable_params:,}", "right"),
    "param_share": Column("Params %", lambda r: f"{100 * r.param_share:.1f}%" if r.params else "", "right"),
    "macs": Column("MACs", lambda r: count(r.macs), "right"),
    "flops": Column("FLOPs", lambda r: count(r.flops), "right"),
    "activation_bytes": Column("Activations", _bytes(lambda r: r.activation_bytes), "right"),
    "saved_bytes": Column("Kept for backward", _bytes(lambda r: r.saved_bytes), "right"),
    "receptive_field": Column("RF", _rf, "right"),
    "effective_stride": Column("Stride", lambda r: _pair(r.effective_stride), "right"),
    "effective_padding": Column("Eff. pad", lambda r: _pair(r.effective_padding), "right"),
    "covers_input": Column("Sees all", lambda r: _yes(r.covers_input), "left"),
    "path": Column("Path", lambda r: r.path, "left"),
    "name": Column("Name", lambda r: r.name, "left"),
    "family": Column("Family", lambda r: _text(r.family), "left"),
    "depth": Column("Depth", lambda r: str(r.depth), "right"),
    "parent": Column("Parent", lambda r: _text(r.parent), "left"),
    "dtype": Column("Dtype", lambda r: _text(r.dtype), "left"),
    "data_format": Column("Data format", lambda r: _text(r.data_format), "left"),
    "kernel_size": Column("Kernel size", lambda r: _dims(r.kernel_size), "right"),
    "strides": Column("Strides", lambda r: _pair(r.strides), "right"),
    "padding": Column("Padding", lambda r: _text(r.padding), "left"),
    "dilation_rate": Column("Dilation", lambda r: _pair(r.dilation_rate), "right"),
    "has_children": Column("Has parts", lambda r: _yes(r.has_children), "left"),
    "note": Column("Note", lambda r: _text(r.note), "left"),
    "error": Column("Error", lambda r: _text(r.error), "left"),
}

#: The table's short names, and the column each stands for.
ALIASES = {
    "input": "input_shape",
    "output": "output_shape",
    "explain": "explanation",
    "trainable": "trainable_params",
    "non_trainable": "non_trainable_params",
    "memory": "activation_bytes",
    "saved": "saved_bytes",
    "rf": "receptive_field",
    "stride": "effective_stride",
}

#: Columns that are no field of the records: CSV writes the table's text.
TABLE_ONLY = ("layer", "kernel")

#: The table's columns when none are chosen.
DEFAULT_COLUMNS = ("layer", "input_shape", "output_shape", "params", "flops", "receptive_field", "explanation")


def resolve(columns, default=DEFAULT_COLUMNS) -> tuple[str, ...]:
    """``columns`` (``None``, ``"all"``, a name or a sequence of names) as column names.

    Aliases become the names they stand for; ``None`` gives ``default``.

    Raises:
        ValueError: for an empty selection or a name that is no column, listing them all.
    """
    if columns is None:
        return tuple(default)
    if isinstance(columns, str) and columns == "all":
        return tuple(COLUMNS)
    names = (columns,) if isinstance(columns, str) else columns
    try:
        names = tuple(names)
    except TypeError:
        names = (columns,)
    bad = [c for c in names if not isinstance(c, str) or (c not in COLUMNS and c not in ALIASES)]
    if bad or not names:
        aliases = ", ".join(f"{short}={name}" for short, name in ALIASES.items())
        raise ValueError(
            f"Invalid value for argument `columns`. Expected 'all' or names from {list(COLUMNS)} "
            f"(or the short names {aliases}). Received columns={columns!r}"
            + (f"; unknown: {bad}." if bad else ".")
        )
    return tuple(ALIASES.get(c, c) for c in names)


def csv_value(row: LayerTrace, record: dict, name: str):
    """The value CSV writes for column ``name``: the record's field, or the table's text."""
    if name in TABLE_ONLY:
        return COLUMNS[name].cell(row)
    return record[name]
