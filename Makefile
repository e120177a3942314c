# Two commands set up everything on a fresh machine:
#   make run   - create .venv if missing, install, start the app on the embedded model
#   make test  - install what the tests need (Python and Debian packages), lint, run them
#   make lint  - ruff check, ruff format --check and mypy (config in pyproject.toml)
#   make layers - the layer order and any import that breaks it (tools/layers.py)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEB_PACKAGES := python3.11-doc git-doc espeak-ng chromium sox postgresql
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test test-deps install lint layers bench eval-all demo clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip wheel setuptools
	# CPU torch first: an unpinned torch would pull a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/megrez-search model --install   # assembles the default model once (progress bar)
	$(BIN)/megrez-search ui

test-deps:
	@missing=""; for p in $(DEB_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q $$missing; \
	fi
	@# axe-core (pinned in tests/ui/js/package-lock.json) for the accessibility check of the UI.
	@command -v npm >/dev/null || { $(SUDO) apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q npm; }
	npm ci --prefix tests/ui/js --no-audit --no-fund --loglevel=error

lint: $(STAMP)
	$(BIN)/python -m ruff check .
	$(BIN)/python -m ruff format --check .
	$(BIN)/python tests/typecheck.py

layers:
	$(PYTHON) -m tools.layers

test: test-deps lint
	$(BIN)/python -m pytest

# The dev set the evaluation benchmarks score (override: make bench EVAL_QUESTIONS=FILE).
EVAL_QUESTIONS ?= ../shared/eval/dev.jsonl

bench: $(STAMP)
	MEGREZ_EVAL_QUESTIONS=$(EVAL_QUESTIONS) $(BIN)/python -m benchmarks

# The generalisation report: every dev set beside EVAL_QUESTIONS over its own corpus.
eval-all: $(STAMP)
	MEGREZ_EVAL_QUESTIONS=$(EVAL_QUESTIONS) $(BIN)/python -m benchmarks eval-all

demo: test-deps $(STAMP)
	$(BIN)/megrez-search demo

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache
