# rag-zh. `make run` sets everything up and starts the chat page; `make test` runs the tests.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run test setup model index lint bench clean

# torch is installed first and pinned to the CPU build that pip finds on local
# disk here; the project's own range then accepts it and never pulls CUDA wheels.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e ".[dev,eval,milvus]"
	touch $(STAMP)

setup: $(STAMP)

model: setup  ## build/resolve the default embedding model (offline)
	$(VENV)/bin/rag models

index: model  ## incrementally build index/default from data/corpus
	$(VENV)/bin/rag index build

run: index  ## set up, then serve the chat page on http://127.0.0.1:7860
	$(VENV)/bin/rag serve

test: model  ## the default (fast) suite; slow tests: make test PYTEST_ARGS="-m slow"
	$(PY) -m pytest $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check rag ui tests benchmarks

bench: index
	$(PY) benchmarks/embed_throughput.py
	$(PY) benchmarks/latency.py

clean:
	rm -rf $(VENV) models index/default index/.default* index/.resume-*
