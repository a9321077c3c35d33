"""Findings: the things in a trace worth a second look, with the fix."""

from __future__ import annotations

from keras_cnnlab import shapes
from keras_cnnlab.trace.result import Finding, LayerTrace, TraceTotals

__all__ = ["find", "FLATTEN_DENSE_SHARE"]

#: Share of all parameters above which a Dense after Flatten is reported.
FLATTEN_DENSE_SHARE = 0.5


def _leaves(rows: list[LayerTrace]) -> list[LayerTrace]:
    return [r for r in rows if not r.has_children]


def _spatial_size(row: LayerTrace, shape) -> tuple | None:
    if not isinstance(shape, tuple) or len(shape) != 4:
        return None
    return tuple(shape[2:]) if row.data_format == "channels_first" else tuple(shape[1:3])


def _is_window(row: LayerTrace) -> bool:
    return row.kernel_size is not None and row.type != "ConvBlock" and len(row.kernel_size) == 2


def find(rows: list[LayerTrace], totals: TraceTotals) -> list[Finding]:
    """All findings for the full (unfiltered) rows of a trace."""
    found: list[Finding] = []
    leaves = _leaves(rows)
    found += _untraced(rows)
    found += _floor_drops(leaves)
    collapse = _early_collapse(leaves)
    found += collapse
    found += _window_exceeds_input(leaves, after_collapse=bool(collapse))
    found += _flatten_dense(leaves, totals)
    found += _small_receptive_field(totals)
    found += _unknown_costs(leaves)
    return found


def _untraced(rows):
    out = []
    for row in rows:
        if row.error:
            out.append(
                Finding(
                    "untraced",
                    f"{row.path} ({row.type}): {row.error}. Its figures are left out of the "
                    "totals; give the layer a compute_output_shape() or make its call() "
                    "work on symbolic tensors.",
                    row.path,
                )
            )
        elif row.output_shape is None:
            out.append(
                Finding("untraced", f"{row.path} ({row.type}): its output shape is unknown.", row.path)
            )
    return out


def _window_op(row: LayerTrace) -> shapes.SpatialOp | None:
    if not _is_window(row) or row.padding not in shapes.PADDINGS or row.strides is None:
        return None
    if row.family in ("MaxPooling2D", "AveragePooling2D"):
        make = shapes.SpatialOp.maxpool if row.family == "MaxPooling2D" else shapes.SpatialOp.avgpool
        return make(row.kernel_size, row.strides, row.padding)
    if row.family in ("Conv2D", "DepthwiseConv2D", "SeparableConv2D"):
        return shapes.SpatialOp.conv(row.kernel_size, row.strides, row.padding, row.dilation_rate or 1)
    return None


def _floor_drops(leaves):
    out = []
    for row in leaves:
        op = _window_op(row)
        size = _spatial_size(row, row.input_shape)
        if op is None or size is None or not any(op.dropped(size)):
            continue
        step = op.explain(size)
        setting = "pool_padding='same'" if op.kind != "conv" else "padding='same'"
        out.append(
            Finding(
                "floor_drop",
                f"{row.path}: {step}. The dropped pixels never reach the output. Use "
                f"{setting} or an input size that the strides divide.",
                row.path,
            )
        )
    return out


def _early_collapse(leaves):
    for i, row in enumerate(leaves):
        if not _is_window(row):
            continue
        size_in = _spatial_size(row, row.input_shape)
        size_out = _spatial_size(row, row.output_shape)
        if not size_in or not size_out:
            continue
        if not any(o == 1 and (n is None or n > 1) for n, o in zip(size_in, size_out)):
            continue
        later = [
            r
            for r in leaves[i + 1 :]
            if _is_window(r) and (max(r.kernel_size) > 1 or max(r.strides or (1,)) > 1)
        ]
        if not later:
            return []
        names = ", ".join(r.path for r in later[:4]) + (", ..." if len(later) > 4 else "")
        return [
            Finding(
                "early_collapse",
                f"{row.path} brings the feature map to {shapes.format_dims(size_out)}, but {len(later)} "
                f"convolution or pooling layer(s) follow ({names}) and see a single row or "
                "column: their windows mostly cover padding. Remove a downsampling step, "
                "use a larger input, or end the stack here.",
                row.path,
            )
        ]
    return []


def _window_exceeds_input(leaves, *, after_collapse):
    """Windows wider than their "same"-padded input: every window overlaps the padding.

    A "valid" window that large is a shape error already; "same" hides it, as the
    output keeps the input's size. Maps of one pixel after an early collapse are
    left to that finding.
    """
    out = []
    for row in leaves:
        if not _is_window(row) or row.padding != "same":
            continue
        size = _spatial_size(row, row.input_shape)
        if not size or any(n is None for n in size):
            continue
        if after_collapse and min(size) == 1:
            continue
        dilation = tuple(row.dilation_rate or (1,) * len(row.kernel_size))
        span = tuple(d * (k - 1) + 1 for k, d in zip(row.kernel_size, dilation))
        if not any(w > n for w, n in zip(span, size)):
            continue
        window = shapes.format_dims(row.kernel_size) + (f" (dilated to {shapes.format_dims(span)})" if span != tuple(row.kernel_size) else "")
        largest = shapes.format_dims(min(w, n) for w, n in zip(span, size))
        out.append(
            Finding(
                "window_exceeds_input",
                f"{row.path} ({row.type}): its {window} window is larger than its {shapes.format_dims(size)} "
                "input: with padding='same' every window, wherever it sits, overlaps the zero "
                "padding, so part of the weights and compute go to zeros. Use a window (dilation "
                f"included) of at most {largest}, or remove a downsampling step before it.",
                row.path,
            )
        )
    return out


def _flatten_dense(leaves, totals):
    out = []
    total = totals.params
    if not total:
        return out
    for before, row in zip(leaves, leaves[1:]):
        if (
            before.type != "Flatten"
            or row.family != "Dense"
            or row.input_shape != before.output_shape
        ):
            continue
        if row.params <= FLATTEN_DENSE_SHARE * total:
            continue
        units = row.output_shape[-1] if isinstance(row.output_shape, tuple) else None
        text = (
            f"{row.path} (Dense after Flatten) holds {row.params:,} of {total:,} parameters "
            f"({row.params / total:.0%})"
        )
        fm = before.input_shape if isinstance(before.input_shape, tuple) else None
        if fm is not None and len(fm) == 4 and units:
            channels = fm[1] if before.data_format == "channels_first" else fm[-1]
            pooled = channels * units + units
            text += (
                f": {shapes.format_dims(fm[1:])} = {before.output_shape[-1]:,} inputs x {units} units. "
                f"GlobalAveragePooling2D instead of Flatten (head_pooling='avg' in build_cnn) "
                f"would need {pooled:,}"
            )
        out.append(Finding("flatten_dense_params", text + ".", row.path))
    return out


def _small_receptive_field(totals):
    rf, size = totals.receptive_field, totals.input_size
    if rf is None or size is None or any(v is None for v in size) or totals.global_branch:
        # A squeeze-and-excitation branch already sees the whole input.
        return []
    if all(r >= n for r, n in zip(rf, size)):
        return []
    return [
        Finding(
            "receptive_field",
            f"Each position of the last feature map sees {shapes.format_dims(rf)} pixels of the "
            f"{shapes.format_dims(size)} input: no single feature sees the whole image (Flatten/Dense "
            "can still combine positions). Add a block, a strided or dilated convolution, "
            "or a larger kernel to widen it.",
        )
    ]


def _unknown_costs(leaves):
    unknown = [r for r in leaves if r.flops is None and not r.error and r.output_shape is not None]
    if not unknown:
        return []
    names = ", ".join(f"{r.path} ({r.type})" for r in unknown[:6]) + (", ..." if len(unknown) > 6 else "")
    return [
        Finding(
            "unknown_cost",
            f"No cost rule for {len(unknown)} layer(s): {names}. They are left out of the "
            "MAC/FLOP totals (not counted as 0).",
            severity="info",
        )
    ]
