"""Receptive-field algebra of the trace: what part of the model input a tensor sees.

A :class:`Reach` holds the three figures of Araujo, Norris and Sim ("Computing
Receptive Fields of Convolutional Neural Networks", Distill 2019): size ``rf``,
effective stride ``jump`` and effective padding ``padding``, per spatial axis.
Output position ``i`` sees input coordinates ``i * jump - padding`` up to (not
including) ``+ rf`` (:func:`window_of`). The arithmetic of
one window comes from :func:`keras_cnnlab.shapes.trace_spatial`; this module
composes it along the graph:

* a window: ``rf += (R - 1) * jump``, ``padding += P * jump``, ``jump *= J``;
* zero padding and cropping shift the grid: ``padding += top * jump`` (minus for
  cropping);
* a merge of branches on the same grid (Add, Concatenate...): the smallest window
  holding every branch's window;
* global pooling, Flatten, Dense on flat features: the whole input
  (``covers_input``, no size). Whatever such a tensor feeds covers the input too;
  a merge of a local branch with one that covers the input (squeeze-and-excitation)
  keeps the local branch's figures and covers the input.
"""

from __future__ import annotations

from typing import NamedTuple

from keras_cnnlab import shapes

__all__ = ["Reach", "START", "UNKNOWN", "GLOBAL", "merge", "apply", "shift", "window_of"]


class Reach(NamedTuple):
    """Receptive field, effective stride and effective padding of a tensor.

    ``rf`` and ``jump`` are ``None`` when unknown or when only the whole input
    describes the tensor; ``covers_input`` says that each value depends on the
    whole input (with ``rf`` kept for the local path of a squeeze-and-excitation
    merge); ``padding`` is ``None`` where padding "same" met an unknown size.
    """

    rf: tuple | None
    jump: tuple | None
    covers_input: bool = False
    padding: tuple | None = None


START = Reach((1, 1), (1, 1), False, (0, 0))
UNKNOWN = Reach(None, None)
GLOBAL = Reach(None, None, True)


def _hull(local: list[Reach]) -> tuple[tuple, tuple | None]:
    """``(rf, padding)`` of the smallest window holding every branch's window."""
    if any(r.padding is None or None in r.padding for r in local):
        # Without the offsets only the widest field is known, not how the windows line up.
        return tuple(max(values) for values in zip(*(r.rf for r in local))), None
    padding = tuple(max(values) for values in zip(*(r.padding for r in local)))
    stops = tuple(max(values) for values in zip(*(
        tuple(f - p for f, p in zip(r.rf, r.padding)) for r in local
    )))
    return tuple(s + p for s, p in zip(stops, padding)), padding


def merge(reaches: list[Reach]) -> Reach:
    """The reach of a layer with several inputs (or of one input, unchanged)."""
    if not reaches:
        return UNKNOWN
    if len(reaches) == 1:
        return reaches[0]
    covers = any(r.covers_input for r in reaches)
    local = [r for r in reaches if r.rf is not None]
    unknown = [r for r in reaches if r.rf is None and not r.covers_input]
    if unknown or not local or len({r.jump for r in local}) != 1:
        return GLOBAL if covers else UNKNOWN
    rf, padding = _hull(local)
    return Reach(rf, local[0].jump, covers, padding)


def apply(reach: Reach, steps: list[shapes.StepResult]) -> Reach:
    """Compose ``reach`` with the steps of :func:`keras_cnnlab.shapes.trace_spatial`."""
    if reach.rf is None or not steps:
        return reach
    last = steps[-1]
    rf = tuple(r + (s - 1) * j for r, s, j in zip(reach.rf, last.receptive_field, reach.jump))
    jump = tuple(j * s for j, s in zip(reach.jump, last.jump))
    padding = None
    if reach.padding is not None and last.effective_padding is not None:
        padding = tuple(
            None if p is None or q is None else p + q * j
            for p, q, j in zip(reach.padding, last.effective_padding, reach.jump)
        )
    return Reach(rf, jump, reach.covers_input, padding)


def shift(reach: Reach, before: tuple) -> Reach:
    """Zeros added before the input (negative: rows or columns cropped) move the grid."""
    if reach.rf is None or reach.padding is None:
        return reach
    padding = tuple(
        None if p is None else p + b * j for p, b, j in zip(reach.padding, before, reach.jump)
    )
    return reach._replace(padding=padding)


def window_of(position: int, rf: int, jump: int, padding: int) -> tuple[int, int]:
    """``(start, stop)`` of the input window of output ``position`` along one axis.

    ``start = position * jump - padding``, ``stop = start + rf`` (exclusive), not
    clipped: a negative start or a stop past the input counts padding. The
    centre is ``start + (rf - 1) / 2``.

    >>> window_of(0, 3, 1, 1)
    (-1, 2)
    """
    start = position * jump - padding
    return start, start + rf
