# pcdp: every target sets itself up on a fresh clone (Python 3.11 venv in .venv).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo
DEMO_CUSTOMERS ?= 5000
DEMO_AS_OF ?= 2025-12-31
export PCDP_DB ?= $(DEMO_DIR)/pcdp.duckdb

.PHONY: install browser demo test lint pytest clean bench test-dagster test-large

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev,dagster]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/pcdp generate --out $(DEMO_DIR)/raw --customers $(DEMO_CUSTOMERS) --as-of $(DEMO_AS_OF) --seed 42
	$(BIN)/pcdp run --raw $(DEMO_DIR)/raw --db $(DEMO_DIR)/pcdp.duckdb --as-of $(DEMO_AS_OF)
	$(BIN)/pcdp status --db $(DEMO_DIR)/pcdp.duckdb

lint: install
	$(BIN)/ruff check src tests bench python_models
	$(BIN)/ruff format --check src tests bench python_models
	$(BIN)/sqlfluff lint models tests/dbt --processes 2

# The report test opens the report in headless Chromium: Debian's packages, installed when
# missing (as root, or with sudo).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; }

pytest: install browser
	$(BIN)/pytest

test: lint pytest

# The contract's quality targets at a size where they are measurable (minutes).
test-large: install
	$(BIN)/pytest -m large

bench: install
	$(BIN)/python bench/bench_foundation.py

# The Dagster integration alone (its tests also run in `make test`).
test-dagster: install
	$(BIN)/pytest tests/orchestration

clean:
	rm -rf $(VENV) $(DEMO_DIR) target logs dbt_packages .pytest_cache

# The SQL layer on Apache Spark (dbt-spark, in-process PySpark, Java 17) against DuckDB: its
# own venv (.venv-spark, pinned by constraints-spark.txt on top of constraints.txt), so the main
# .venv never installs Spark. See README, "Running on Spark locally".
SPARK_VENV := .venv-spark
SPARK_STAMP := $(SPARK_VENV)/.installed
.PHONY: install-spark test-spark

$(SPARK_STAMP): pyproject.toml constraints.txt constraints-spark.txt
	$(PYTHON) -m venv $(SPARK_VENV)
	$(SPARK_VENV)/bin/pip install --quiet --disable-pip-version-check --upgrade pip
	$(SPARK_VENV)/bin/pip install --quiet --disable-pip-version-check -c constraints-spark.txt \
	  -e . 'dbt-spark[session]' pytest
	touch $(SPARK_STAMP)

install-spark: $(SPARK_STAMP)

test-spark: $(SPARK_STAMP)
	$(SPARK_VENV)/bin/pytest tests/spark
