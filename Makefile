# The two commands: `make up` and `make test`. Everything else is a helper for them.
SHELL := /bin/bash
export PYTHONPATH := $(CURDIR)
PY := $(CURDIR)/.venv/bin/python

.PHONY: up test setup setup-test lint typecheck unit models integration bench clean

up: setup
	$(PY) -m interpreter up

test: setup-test lint typecheck
	scripts/pg_test_server.sh run $(PY) -m pytest -v

setup:
	@scripts/setup.sh run

setup-test:
	@scripts/setup.sh test

lint:
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

typecheck:
	$(PY) -m mypy

unit: setup-test
	$(PY) -m pytest -m "not integration and not model"

models: setup-test
	$(PY) -m pytest -m "model and not integration"

integration: setup-test
	$(PY) -m pytest -m integration

bench: setup-test
	$(PY) -m bench.stt
	$(PY) -m bench.stt_terms
	$(PY) -m bench.tts
	$(PY) -m bench.mt
	$(PY) -m bench.meeting
	$(PY) -m bench.meeting --capacity
	$(PY) -m bench.job_split
	$(PY) -m bench.monologue
	$(PY) -m bench.turn_end
	$(PY) -m bench.export
	$(PY) -m bench.glossary
	$(PY) -m bench.terms
	$(PY) -m bench.takeover
	$(PY) -m bench.cloud_failover

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache
