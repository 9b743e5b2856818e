# Baton — the two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test lint bench services

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# Set up from a fresh clone and run Baton on its embedded default.
run: $(STAMP)
	$(BIN)/baton demo

# The whole test suite, on SQLite and PostgreSQL, against the real brokers.
test: $(STAMP)
	bash .ci/services
	$(BIN)/pytest -q -p no:cacheprovider

lint: $(STAMP)
	$(BIN)/ruff check app collectors slas tests benchmarks
	$(BIN)/mypy collectors slas

bench: $(STAMP)
	$(BIN)/python benchmarks/ingest.py
