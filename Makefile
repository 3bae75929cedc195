# The two set-up commands of the README: `make run` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
VENV ?= .venv
PY := $(VENV)/bin/python
# Every pip call is held to the CPU torch on disk; an unpinned torch pulls a multi-GB CUDA build.
PIP := $(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt
# This machine's pip config names package folders that may be absent; pip warns per package.
QUIET := 2>&1 | { grep -v '^WARNING: Location' || true; }

.PHONY: run test fast-test lint install install-dev

$(VENV)/bin/python:
	python3 -m venv $(VENV)

$(VENV)/.installed: $(VENV)/bin/python pyproject.toml constraints.txt
	$(PIP) torch==2.13.0 $(QUIET)
	$(PIP) -e . $(QUIET)
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) -e '.[dev]' $(QUIET)
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# The main job: the sample articles into the library (when it is empty), then a chat over them.
run: install
	$(VENV)/bin/rag ingest --if-empty data/articles
	$(VENV)/bin/rag chat

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy rag ingest ui eval

# Everything CI runs: lint, type checks, all tests (the slow end-to-end ones included), then the
# eval regression gate on the sample-articles set (report in artifacts/eval-samples).
test: lint
	$(VENV)/bin/pytest -q
	$(VENV)/bin/rag eval --dataset samples --mode extractive --check --report artifacts/eval-samples

# The fast set alone: no model, no servers.
fast-test: install-dev
	$(VENV)/bin/pytest -q -m "not slow"
