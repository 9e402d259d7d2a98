# The README's two commands, `make demo` and `make test`, need only Python 3.11+ and make.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROBE := $(PYTHON) .ci/probe.py
PYTEST_ARGS ?=

.PHONY: venv migrate demo test lint bench

venv: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when pyproject.toml is newer than the stamp.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e '.[dev]'
	touch $(STAMP)

migrate: venv
	$(BIN)/python manage.py migrate --noinput

# Embedded defaults (SQLite under var/, kombu's filesystem broker under var/broker) unless
# DATABASE_URL / REDIS_URL are set. Ctrl-C stops the web server, the worker and beat.
demo: export DEBUG = 1
demo: venv migrate
	$(BIN)/python manage.py demo_seed
	$(BIN)/python manage.py demo

# PostgreSQL and Redis on loopback when they answer (and DATABASE_URL / REDIS_URL are not
# already set); otherwise SQLite, and the tests marked `services` are skipped and listed.
test: venv
	@if [ -z "$${DATABASE_URL:-}" ] && $(PROBE) postgres 127.0.0.1 5432; then \
		export DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal; \
	fi; \
	if [ -z "$${REDIS_URL:-}" ] && $(PROBE) redis 127.0.0.1 6379; then \
		export REDIS_URL=redis://127.0.0.1:6379/15; \
	fi; \
	echo "make test: database $${DATABASE_URL:-sqlite (var/)}, broker $${REDIS_URL:-filesystem (var/broker)}"; \
	$(BIN)/pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/python manage.py makemigrations --check --dry-run

bench: venv
	$(BIN)/python bench/expiry_sweep.py
