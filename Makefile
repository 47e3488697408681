# Presseabgleich: `make run` sets everything up and runs the pipeline on data/raw;
# `make test` sets everything up and runs the tests (the same command CI runs).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MODEL_STAMP := $(VENV)/.model-tried

.PHONY: requirements browser install-model run data model notebook test test-fast lint format clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

requirements: $(STAMP)

# spaCy's de_core_news_sm, tried once per venv (bounded in time: no internet fails in
# seconds). Where it cannot be had, `run` trains its fallback model from GermEval.
# `make install-model` tries again.
$(MODEL_STAMP): $(STAMP)
	$(BIN)/presseabgleich install-model --time-limit 120 || true
	touch $(MODEL_STAMP)

install-model: $(STAMP)
	$(BIN)/presseabgleich install-model --time-limit 300 && touch $(MODEL_STAMP)

run: $(STAMP) $(MODEL_STAMP)
	$(BIN)/presseabgleich run

data: run

model: $(STAMP)
	$(BIN)/presseabgleich train-model

notebook: $(STAMP)
	$(BIN)/jupyter lab notebooks/review.ipynb

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
	rm -rf data/processed/*.parquet data/processed/*.csv data/processed/*.json data/processed/*.xlsx data/processed/*.html data/processed/show
