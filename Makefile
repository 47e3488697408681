# Presseabgleich: `make run` sets everything up and runs the pipeline on data/raw;
# `make test` sets everything up and runs the tests (the same command CI runs).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: requirements run data model test test-fast lint format clean

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

test: $(STAMP)
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
