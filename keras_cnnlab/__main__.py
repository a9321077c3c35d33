"""``python -m keras_cnnlab``: the ``cnnlab`` command line."""

from keras_cnnlab.cli import main

raise SystemExit(main())
