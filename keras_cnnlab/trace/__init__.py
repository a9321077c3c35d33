"""The shape trace: every layer's shapes, parameters, cost, memory and receptive field.

``trace_shapes(model)`` returns a :class:`ShapeTrace` (rows, totals, findings);
``print_shape_trace(model)`` prints it. Rendering (rich) loads only when a trace
is drawn.

Example:

```python
from keras_cnnlab import build_architecture, print_shape_trace, trace_shapes

model = build_architecture("simple", (28, 28, 1), 10)
print_shape_trace(model)
trace = trace_shapes(model, batch_size=32, optimizer="adam")
trace.totals.params            # 167114
trace.save_svg("trace.svg")
```
"""

from keras_cnnlab.trace import columns as _columns
from keras_cnnlab.trace.costs import ACTIVATION_FLOPS
from keras_cnnlab.trace.result import Finding, LayerTrace, ShapeTrace, TraceTotals
from keras_cnnlab.trace.tracer import (
    OPTIMIZER_SLOTS,
    optimizer_state_bytes,
    print_shape_trace,
    trace_shapes,
)

#: Column names that every renderer and ``to_csv`` take, in the order ``"all"``
#: shows them: the fields of ``ShapeTrace.to_records()``, ``layer`` and ``kernel``
#: (see :mod:`keras_cnnlab.trace.columns`).
COLUMNS = tuple(_columns.COLUMNS)
#: Short names accepted for columns: ``{"rf": "receptive_field", "saved": "saved_bytes", ...}``.
COLUMN_ALIASES = dict(_columns.ALIASES)
#: The columns shown when none are chosen.
DEFAULT_COLUMNS = _columns.DEFAULT_COLUMNS

__all__ = [
    "trace_shapes",
    "print_shape_trace",
    "ShapeTrace",
    "LayerTrace",
    "TraceTotals",
    "Finding",
    "COLUMNS",
    "COLUMN_ALIASES",
    "DEFAULT_COLUMNS",
    "ACTIVATION_FLOPS",
    "OPTIMIZER_SLOTS",
    "optimizer_state_bytes",
]
