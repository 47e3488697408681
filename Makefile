# Presseabgleich: `make run` sets everything up and runs the pipeline on data/raw;
# `make test` sets everything up and runs the tests (the same command CI runs).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: requirements browser run data model test test-fast lint format clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

requirements: $(STAMP)

run: $(STAMP)
	$(BIN)/presseabgleich run

data: run

model: $(STAMP)
	$(BIN)/presseabgleich train-model

# Debian's chromium for the test that renders the HTML report in a real browser.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "note: could not install chromium; the browser test will be skipped"; \
	  else echo "note: chromium not installed (needs root: apt-get install chromium); the browser test will be skipped"; fi; }

test: $(STAMP) browser
	$(BIN)/ruff check pipeline tests bench
	$(BIN)/python -m pytest

test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check pipeline tests bench
	$(BIN)/ruff format --check pipeline tests bench

format: $(STAMP)
	$(BIN)/ruff format pipeline tests bench
	$(BIN)/ruff check --fix pipeline tests bench

clean:
	rm -rf data/processed/*.parquet data/processed/*.csv data/processed/*.json data/processed/*.xlsx data/processed/*.html
