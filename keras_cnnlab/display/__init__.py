"""How keras_cnnlab shows things: console resolution, live display, number formatting.

- :mod:`keras_cnnlab.display.console`: which console (terminal, file, pipe,
  Jupyter), printing to it, the hand-laid grid.
- :mod:`keras_cnnlab.display.live`: the live display that redraws in place.
- :mod:`keras_cnnlab.display.formatting`: the one set of formatters for
  figures, counts, bytes and durations.

The trace, the callbacks and the tuner all draw through these; this package
imports nothing else of keras_cnnlab. Nothing is imported here, so that the
formatters load without rich.
"""
