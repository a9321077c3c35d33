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

from keras_cnnlab.trace.costs import ACTIVATION_FLOPS
from keras_cnnlab.trace.result import Finding, LayerTrace, ShapeTrace, TraceTotals
from keras_cnnlab.trace.tracer import (
    OPTIMIZER_SLOTS,
    optimizer_state_bytes,
    print_shape_trace,
    trace_shapes,
)

#: Column names accepted by the renderers (see :mod:`keras_cnnlab.trace.render`).
COLUMNS = (
    "layer", "type", "input", "output", "kernel", "explain", "params", "trainable",
    "non_trainable", "param_share", "macs", "flops", "memory", "saved", "rf", "stride",
    "padding",
)
#: The columns shown when none are chosen.
DEFAULT_COLUMNS = ("layer", "input", "output", "params", "flops", "rf", "explain")

__all__ = [
    "trace_shapes",
    "print_shape_trace",
    "ShapeTrace",
    "LayerTrace",
    "TraceTotals",
    "Finding",
    "COLUMNS",
    "DEFAULT_COLUMNS",
    "ACTIVATION_FLOPS",
    "OPTIMIZER_SLOTS",
    "optimizer_state_bytes",
]
