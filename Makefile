# Two commands for a fresh machine with Python 3.11:
#   make book   set up, execute every chapter and build the HTML book into _build/html
#   make test   set up, then run the unit tests (fast and slow) and the notebook tests (nbval)
#   make unit   only the fast unit tests
# Set-up is idempotent: the virtual environment is (re)installed only when requirements.txt or
# pyproject.toml change, and the data step is a quick checksum check once the data is cached.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NOTEBOOKS = $(shell $(BIN)/python tests/toc.py)
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONHASHSEED ?= 0

.PHONY: setup data book test unit slow notebooks lint format bench clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

data: $(STAMP)
	$(BIN)/python -m advrec.data.prepare

book: data
	$(BIN)/jupyter-book build . --warningiserror --keep-going
	@echo "Open _build/html/index.html"

test: unit slow notebooks

# The fast unit tests (under a minute on a quiet 2-core machine); `make slow` runs the tests
# marked @pytest.mark.slow (each trains a model for more than a few seconds).
unit: data
	$(BIN)/python -m pytest tests -p no:cacheprovider -m "not slow"

slow: data
	$(BIN)/python -m pytest tests -p no:cacheprovider -m slow

notebooks: data
	$(BIN)/python -m pytest --nbval-lax --nbval-cell-timeout=900 -p no:cacheprovider $(NOTEBOOKS)

lint: $(STAMP)
	$(BIN)/ruff check advrec tests benchmarks
	$(BIN)/ruff format --check advrec tests benchmarks

format: $(STAMP)
	$(BIN)/ruff format advrec tests benchmarks
	$(BIN)/ruff check --fix advrec tests benchmarks

bench: data
	$(BIN)/python benchmarks/bench_bpr.py
	$(BIN)/python benchmarks/bench_apr.py

clean:
	rm -rf _build .pytest_cache
