# The README's two commands, `make demo` and `make test`, need only Python 3.11+ and make.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PROBE := $(PYTHON) .ci/probe.py
PYTEST_ARGS ?=

.PHONY: venv migrate demo test lint bench audit lock

venv: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when pyproject.toml or the lock is newer than the stamp. The versions are
# the locked ones (requirements.lock), so that every machine tests the same set.
$(STAMP): pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/python -m pip install -e '.[dev]' -c requirements.lock
	touch $(STAMP)

# After changing the dependencies in pyproject.toml: resolve afresh and write the lock.
lock: | $(BIN)/python
	$(BIN)/python -m pip install -e '.[dev]'
	{ echo "# The dependency set the portal is tested with (make lock writes it; make venv installs within it)."; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v '^access-portal'; } > requirements.lock
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

# bandit: medium and high findings fail; a false positive is annotated where it is
# (`# nosec BXXX  # why`), so that a new real one stops CI.
lint: venv
	$(BIN)/ruff check .
	$(BIN)/bandit -r governance portal -ll -q
	DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run

# Known vulnerabilities in the locked dependencies (needs pypi.org); exit 2 says it could
# not check, which is never reported as a pass.
audit: venv
	$(BIN)/python .ci/audit.py

bench: venv
	$(BIN)/python bench/expiry_sweep.py
