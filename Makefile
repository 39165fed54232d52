# What a newcomer needs, with nothing but python3 and make installed.
# Every target creates the virtual environment ($(VENV), default .venv) when it is missing.

VENV ?= .venv
PYTHON := $(VENV)/bin/python

.PHONY: demo test test-slow lint bench clean

demo: $(VENV)/.installed  ## load the running example into a fresh SQLite ledger and show it
	$(VENV)/bin/dledger demo

test: $(VENV)/.installed-dev  ## the fast test suite (SQLite and PostgreSQL), one worker per core
	$(PYTHON) -m pytest -n auto

test-slow: $(VENV)/.installed-dev  ## only the tests marked slow
	$(PYTHON) -m pytest -m slow

lint: $(VENV)/.installed-dev  ## ruff check, ruff format --check, mypy --strict
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy --strict -p ledger -p projections -p cli

bench: $(VENV)/.installed-dev  ## benchmarks into docs/benchmarks.md (SIZES=1M, BACKENDS=sqlite for more)
	$(PYTHON) -m bench.run --sizes $(or $(SIZES),100k) --backends $(or $(BACKENDS),sqlite,postgresql)

clean:  ## remove the virtual environment and caches (never a ledger)
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find ledger projections cli tests -name __pycache__ -type d -prune -exec rm -rf {} +

$(PYTHON):
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(PYTHON)
	$(PYTHON) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(PYTHON)
	$(PYTHON) -m pip install --quiet -e ".[dev]"
	touch $@ $(VENV)/.installed
