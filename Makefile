# Every target creates .venv when missing and installs what it needs.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The CPU build of PyTorch; an unpinned torch pulls a multi-GB CUDA build.
TORCH_CPU := torch==2.13.0
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: demo test test-tf test-backends lint docs bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_CPU)
	$(PY) -m pip install -q -e ".[dev,docs,jax,torch,plot,skimage]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) -m keras_cnnlab demo

test: $(STAMP) lint test-tf test-backends

# ruff, then the import layers of pyproject.toml's [tool.importlinter] (docs/architecture.md).
lint: $(STAMP)
	$(PY) -m ruff check keras_cnnlab tests bench examples
	$(VENV)/bin/lint-imports

test-tf: $(STAMP)
	KERAS_BACKEND=tensorflow $(PY) -m pytest -n 2 --dist loadgroup

# Blocks, shapes, data and save/load under the other backends, each in its own process.
test-backends: $(STAMP)
	KERAS_BACKEND=jax $(PY) -m pytest -n 2 --dist loadgroup -m multibackend
	KERAS_BACKEND=torch $(PY) -m pytest -n 2 --dist loadgroup -m multibackend

# Every benchmark; rewrites bench/RESULTS.md (about 20 minutes on 2 cores).
bench: $(STAMP)
	$(PY) bench/run_all.py

docs: $(STAMP)
	$(PY) -m mkdocs build --strict --site-dir site

clean:
	rm -rf $(VENV) build dist site *.egg-info
