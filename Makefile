# Two commands for a fresh machine with Python 3.11:
#   make book   set up, execute every chapter and build the HTML book into _build/html
#   make test   set up, then run the unit tests (fast and slow) and the notebook tests (nbval)
#   make unit   only the fast unit tests
#   make reproduce NAME=...   regenerate one stored run in results/
# Set-up is idempotent: the virtual environment is (re)installed only when requirements.txt or
# pyproject.toml change, and the data step is a quick checksum check once the data is cached.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NOTEBOOKS = $(shell $(BIN)/python tools/toc.py)
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONHASHSEED ?= 0
SHELL := /bin/bash
.SHELLFLAGS := -o pipefail -c
# TensorFlow's C++ start-up lines ("Could not find cuda drivers", "failed call to cuInit") are
# absl log lines written by its shared libraries while they load, before TensorFlow reads
# TF_CPP_MIN_LOG_LEVEL, so no setting silences them; each chapter's kernel echoes them to the
# terminal. `make book` drops exactly these lines from the build's stderr (the pages never show
# them: _config.yml removes stderr from outputs), and ipykernel's warning that the local kernel
# talks to the build over unencrypted loopback TCP.
STARTUP_NOISE := absl::InitializeLog\(\) is called are written to STDERR|cudart_stub\.cc:[0-9]+\] Could not find cuda drivers|cuda_(platform|driver|executor)\.cc:[0-9]+\] failed call to cuInit|\[IPKernelApp\] WARNING \| Kernel is running over TCP without encryption

.PHONY: setup data mathjax book site-check test unit slow smoke integration notebooks lint format bench bench-setup reproduce clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

data: $(STAMP)
	$(BIN)/python -m advrec.data.prepare

# MathJax 3 from a PyPI wheel into .mathjax/ (git-ignored); the built pages load it from _static.
mathjax: $(STAMP)
	$(BIN)/python tools/fetch_mathjax.py

book: data mathjax
	{ $(BIN)/jupyter-book build . --warningiserror --keep-going 2>&1 1>&3 \
	  | { grep -v -E '$(STARTUP_NOISE)' || true; } 1>&2; } 3>&1
	@echo "Open _build/html/index.html"

# The site as a reader meets it: built from the stored outputs (no execution), every page opened
# offline in headless Chromium (tools/site_check.py), screenshots in _build/site-check/screenshots.
site-check: mathjax
	$(BIN)/python tools/site_check.py

test: unit slow integration notebooks

# Tests by tier. `make unit`: the fast unit tests and the book's structure (under a minute on a
# quiet 2-core machine); `make slow`: unit tests marked @pytest.mark.slow (each trains a model for
# more than a few seconds); `make integration`: several devices, worker processes, parameter
# servers, the command line end to end, the site checker.
unit: data
	$(BIN)/python -m pytest tests/unit tests/book -p no:cacheprovider -m "not slow and not smoke"

slow: data
	$(BIN)/python -m pytest tests/unit tests/book -p no:cacheprovider -m "slow and not smoke"

# Every chapter top to bottom on small synthetic data (its smoke settings): a quick check that a
# library change did not break a chapter's code, before `make notebooks` runs them as shipped.
smoke: data
	$(BIN)/python -m pytest tests/book -p no:cacheprovider -m smoke

integration: data
	$(BIN)/python -m pytest tests/integration -p no:cacheprovider

notebooks: data
	$(BIN)/python -m pytest --nbval-lax --nbval-cell-timeout=900 -p no:cacheprovider $(NOTEBOOKS)

# A recipe at its published schedule for every seed, written to results/NAME.json (the stored
# runs the chapters show; `python -m advrec reproduce --help` lists them).
reproduce: data
	@test -n "$(NAME)" || { echo "usage: make reproduce NAME=<stored run>"; exit 2; }
	$(BIN)/python -m advrec reproduce $(NAME)

lint: $(STAMP)
	$(BIN)/ruff check advrec tests benchmarks tools book
	$(BIN)/ruff format --check advrec tests benchmarks tools book

format: $(STAMP)
	$(BIN)/ruff format advrec tests benchmarks tools book
	$(BIN)/ruff check --fix advrec tests benchmarks tools book

# Cornac (the speed reference for BPR-MF) in an environment of its own, never a dependency of advrec.
BENCH_VENV := .bench-venv
$(BENCH_VENV)/.installed:
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet cornac==3.0.1
	touch $@

bench-setup: $(BENCH_VENV)/.installed

bench: data bench-setup
	$(BIN)/python benchmarks/bench_bpr.py --cornac-python $(BENCH_VENV)/bin/python
	$(BIN)/python benchmarks/bench_apr.py

clean:
	rm -rf _build .pytest_cache .mathjax/site
