"""The ``cnnlab`` command line: ``demo``, ``train``, ``tune`` and ``trace``.

Every command wires the library's parts together and nothing more: the data
comes from :func:`keras_cnnlab.data.load_dataset`, the networks from
:mod:`keras_cnnlab.models`, augmentation from :mod:`keras_cnnlab.augment`, the
printed shape trace from :mod:`keras_cnnlab.trace`, the report and the gap
monitor from :mod:`keras_cnnlab.callbacks`, the search from
:mod:`keras_cnnlab.tuning`.

Errors a user can fix (a bad argument, a dataset that is neither cached nor
downloadable, an input too small for the network, an output that already
exists) end with one line on standard error and a non-zero exit status:
2 for bad arguments, 1 for everything else. ``cnnlab --debug ...`` shows the
traceback instead.

The modules: ``parser`` (the options and their help), ``app`` (:func:`main`:
running a command, one-line errors), ``common`` (what the commands share),
``run_files`` (the run directory of demo and train, Ctrl-C), and one module
per command: ``train`` (demo and train), ``tune``, ``trace``.
"""

from keras_cnnlab.cli.app import main
from keras_cnnlab.cli.common import PROG, CLIError
from keras_cnnlab.cli.parser import ARCHS, DATASETS, PRESETS, TUNERS, build_parser
from keras_cnnlab.cli.run_files import RUN_FILES

__all__ = [
    "main", "build_parser", "CLIError", "PROG", "ARCHS", "DATASETS", "PRESETS", "TUNERS",
    "RUN_FILES",
]
