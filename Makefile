# The two commands of the README: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
# Local development defaults; production sets DJANGO_DEBUG=false and a secret key.
export DJANGO_DEBUG ?= true
# One test process per core (pytest-xdist; each gets its own database and Redis cache database).
TEST_WORKERS ?= auto

.PHONY: run test lint format install install-dev migrate seed worker beat bench mutate e2e-deps clean

$(VENV)/bin/activate:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found); set PYTHON=..."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(VENV)/bin/activate
	$(PIP) install --quiet -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(VENV)/bin/activate
	$(PIP) install --quiet -r requirements-dev.txt
	@touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

run: install
	@mkdir -p var/storage/private var/storage/public
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@# HTTP and WebSocket (/ws/notifications/) from the one ASGI application; in-memory channel layer without REDIS_URL.
	$(VENV)/bin/uvicorn deelrx.asgi:application --host 127.0.0.1 --port 8000 --ws websockets

test: install-dev e2e-deps
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: install-dev
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: install-dev
	$(VENV)/bin/ruff check --fix . && $(VENV)/bin/ruff format .

worker: install
	$(VENV)/bin/celery -A deelrx worker --loglevel=INFO

beat: install
	$(VENV)/bin/celery -A deelrx beat --loglevel=INFO

bench: install-dev
	$(PY) -m bench $(BENCH_ARGS)

# Mutation testing of the money core (bench/mutate.py; needs DATABASE_URL on PostgreSQL).
mutate: install-dev
	$(PY) -m bench.mutate $(MUTATE_ARGS)

# axe-core (npm) for the accessibility check of the e2e tests; without npm that test is skipped.
e2e-deps: node_modules/.installed

node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then npm ci --no-audit --no-fund --silent && touch $@; \
	else echo "npm not found: the axe-core accessibility test will be skipped"; fi

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache .ruff_cache node_modules
