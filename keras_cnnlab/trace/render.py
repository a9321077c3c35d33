"""Drawing a ShapeTrace with rich: a table, the totals and the findings.

Imported only when a trace is rendered, so tracing alone never loads rich.
Where the output goes (terminal, file, notebook) is decided by
:mod:`keras_cnnlab.display.console`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from keras_cnnlab.display.console import (
    grid,
    open_console,
    print_to,
    recording_console,
    strip_trailing_blanks,
)
from keras_cnnlab.display.formatting import count, nbytes
from keras_cnnlab.shapes import format_dims, format_shape, format_size
from keras_cnnlab.trace import columns as columns_

if TYPE_CHECKING:  # only named in annotations: result.py imports this module, not the reverse
    from keras_cnnlab.trace.result import LayerTrace, ShapeTrace

__all__ = ["COLUMNS", "DEFAULT_COLUMNS", "TraceTable", "check_columns", "renderable", "export", "print_trace"]


def _pair(values) -> str:
    return "" if values is None else format_size(values)


def _layer(row: LayerTrace) -> Text:
    text = Text("  " * row.depth)
    text.append(row.name, style="bold" if row.depth == 0 else "")
    text.append(f" ({row.type})", style="dim")
    if row.note and row.note.startswith("shares"):
        text.append(f" [{row.note}]", style="dim")
    return text


# name -> (header, cell, justify): the shared vocabulary of keras_cnnlab.trace.columns,
# with the layer's name indented by depth and styled.
COLUMNS = {name: tuple(column) for name, column in columns_.COLUMNS.items()}
COLUMNS["layer"] = (columns_.COLUMNS["layer"].header, _layer, "left")
DEFAULT_COLUMNS = columns_.DEFAULT_COLUMNS


def check_columns(columns) -> tuple[str, ...]:
    """Resolve ``columns`` (``None``, ``"all"``, names or their short aliases) to column names."""
    return columns_.resolve(columns)


def _text(value) -> Text:
    return value if isinstance(value, Text) else Text(value)


class TraceTable:
    """The trace's rows as a table, laid out when the console's width is known.

    The columns are laid out by :func:`~keras_cnnlab.display.console.grid`
    (a few milliseconds, also for hundreds of layers), wrapping the last column
    when it is the shape arithmetic; on a console too narrow for that, a
    ``rich`` Table wraps every text column.
    """

    def __init__(self, trace: ShapeTrace, columns):
        self.trace = trace
        self.columns = columns

    def _row_styles(self) -> list:
        trace = self.trace
        flagged = {f.layer for f in trace.findings if f.layer and f.severity == "warning"}
        return ["yellow" if row.path in flagged else ("dim" if row.depth > 0 else None) for row in trace.rows]

    def _cells(self) -> list[list[Text]]:
        # Text, not str: names and explanations are never read as rich markup.
        return [[_text(COLUMNS[name][1](row)) for name in self.columns] for row in self.trace.rows]

    def title(self) -> Text:
        return Text(f"Shape trace of {self.trace.model_name!r}", style="bold")

    def rich_table(self, cells=None, row_styles=None) -> Table:
        """The rows as a ``rich.table.Table`` (wraps text columns to fit)."""
        cells = self._cells() if cells is None else cells
        row_styles = self._row_styles() if row_styles is None else row_styles
        table = Table(title=self.title(), box=box.SIMPLE_HEAD, show_lines=False, title_justify="left")
        for name in self.columns:
            header, _, justify = COLUMNS[name]
            # Figures never wrap; text columns wrap only when the console is too narrow.
            table.add_column(
                header,
                justify=justify,
                no_wrap=justify == "right",
                overflow="fold",
                min_width=20 if name == "explanation" else None,
            )
        for row, style in zip(cells, row_styles):
            table.add_row(*row, style=style)
        return table

    def __rich_console__(self, console, options):
        cells, row_styles = self._cells(), self._row_styles()
        laid_out = grid(
            [COLUMNS[name][0] for name in self.columns],
            cells,
            justify=[COLUMNS[name][2] for name in self.columns],
            row_styles=row_styles,
            max_width=options.max_width,
            console=console,
        )
        if laid_out is None:
            yield self.rich_table(cells, row_styles)
        else:
            yield self.title()
            yield laid_out


def _totals(trace: ShapeTrace) -> Text:
    t = trace.totals
    lines = Text()
    lines.append(f"Input {format_shape(t.input_shape)} -> output {format_shape(t.output_shape)}\n")
    lines.append(
        f"Params: {t.params:,} (trainable {t.trainable_params:,}, non-trainable "
        f"{t.non_trainable_params:,}), weights {nbytes(t.weight_bytes)}\n",
        style="bold",
    )
    if t.optimizer is not None:
        lines.append(f"Optimizer state ({t.optimizer}): {nbytes(t.optimizer_state_bytes)}\n")
    lines.append(
        f"Activations for a batch of {t.batch_size}: {nbytes(t.activation_bytes)} "
        "(input and every layer output, as kept for the backward pass)\n"
    )
    compute = f"Compute per sample: {count(t.macs)} MACs, {count(t.flops)} FLOPs"
    if t.unknown_cost_layers:
        compute += f" (+ {len(t.unknown_cost_layers)} layer(s) of unknown cost)"
    lines.append(compute + "\n")
    if t.receptive_field is not None:
        text = f"Receptive field of the last feature map: {format_dims(t.receptive_field)}"
        if t.input_size is not None:
            text += f" of the {format_dims(t.input_size)} input"
        if t.effective_stride is not None:
            text += f", effective stride {_pair(t.effective_stride)}"
        if t.effective_padding is not None:
            text += f", effective padding {_pair(t.effective_padding)}"
        if t.global_branch:
            text += " (main path; a squeeze-and-excitation branch sees the whole input)"
        lines.append(text + "\n")
    lines.rstrip()
    return lines


def _findings(trace: ShapeTrace) -> Text | None:
    if not trace.findings:
        return None
    text = Text("Findings\n", style="bold")
    for f in trace.findings:
        label = "warning" if f.severity == "warning" else "note"
        text.append(f"- {label}: ", style="yellow" if f.severity == "warning" else "cyan")
        text.append(f.message + "\n")
    text.rstrip()
    return text


def renderable(trace: ShapeTrace, columns=None) -> Group:
    """The table, totals and findings as one rich renderable."""
    parts = [TraceTable(trace, check_columns(columns)), _totals(trace)]
    found = _findings(trace)
    if found is not None:
        parts += [Text(""), found]
    return Group(*parts)


_FRAGMENT = (
    '<pre style="white-space:pre;overflow-x:auto;line-height:normal;'
    "font-family:Menlo,'DejaVu Sans Mono',consolas,'Courier New',monospace\">{code}</pre>"
)


#: Width of text, HTML and SVG exports.
WIDTH = 140
#: Width of the trace printed to a file, a pipe or CI, or saved as text by ShapeTraceCallback.
FILE_WIDTH = 120


def export(trace: ShapeTrace, kind: str, *, columns=None, width: int = WIDTH, title=None) -> str:
    """Render to ``"text"``, ``"html"``, ``"html_fragment"`` or ``"svg"``."""
    console = recording_console(width)
    try:
        console.print(renderable(trace, columns))
        if kind == "text":
            return strip_trailing_blanks(console.export_text(styles=False))
        if kind == "html":
            return console.export_html(inline_styles=True)
        if kind == "html_fragment":
            return console.export_html(inline_styles=True, code_format=_FRAGMENT)
        if kind == "svg":
            return console.export_svg(title=title or f"Shape trace: {trace.model_name}")
    finally:
        console.file.close()
    raise ValueError(f"Unknown export kind {kind!r}.")


def print_trace(trace: ShapeTrace, *, columns=None, console=None) -> None:
    """Print ``trace`` once to ``console`` (see :func:`keras_cnnlab.display.console.make_console`)."""
    with open_console(console, width=FILE_WIDTH) as out:
        print_to(out, renderable(trace, columns))
