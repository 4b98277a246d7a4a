# Kennel — `make run` (a complete sandbox shop) and `make test` (the whole suite on PostgreSQL).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
SANDBOX_PORT ?= 8111
WEB_WORKERS ?= 2
PAYMENTS_MODE ?= sandbox
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/kennel
# pytest-xdist processes for the suite on PostgreSQL, each with a test database of its own
# (test_kennel_gw0, _gw1, …): much of the suite waits on servers, subprocesses and the browser.
TEST_PROCESSES ?= 2
export PORT SANDBOX_PORT PAYMENTS_MODE

.PHONY: install run test test-fast lint format bench soak chromium clean deps messages

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

install: $(VENV)/.installed

# Debian's Chromium for the browser tests (Playwright never downloads a browser here), npm,
# which fetches axe-core (the accessibility checks) from the npm registry into var/axe/, and
# GNU gettext, whose xgettext the test of `make messages`' extraction runs.
chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }
	@command -v npm >/dev/null || { apt-get update -qq && apt-get install -y -qq npm >/dev/null; }
	@command -v xgettext >/dev/null || { apt-get update -qq && apt-get install -y -qq gettext >/dev/null; }

# The French catalogue (kennel/locale): gather every marked string, then compile the .mo that
# is committed beside the .po (a fresh machine needs no msgfmt). Translate what is new in
# between; tests/i18n refuses an empty or fuzzy entry, or a .mo older than its .po.
MESSAGES_IGNORE := --ignore=.venv --ignore=var --ignore=tests --ignore=sandbox --ignore=bench \
	--ignore=node_modules
messages: install
	@command -v msgfmt >/dev/null || { apt-get update -qq && apt-get install -y -qq gettext >/dev/null; }
	$(PY) -m kennel makemessages -l fr $(MESSAGES_IGNORE)
	$(PY) -m kennel compilemessages $(MESSAGES_IGNORE)

run: install
	@mkdir -p var
	$(PY) -m kennel migrate --noinput -v0
	$(PY) -m kennel load_demo
	$(PY) -m kennel collectstatic --noinput -v0
	@echo "Kennel:  http://127.0.0.1:$(PORT)/   admin: http://127.0.0.1:$(PORT)/admin/"
	@[ "$(PAYMENTS_MODE)" != sandbox ] || echo "Sandbox: http://127.0.0.1:$(SANDBOX_PORT)/ (offline Stripe/PayPal)"
	@echo "Ctrl-C stops everything."
	$(PY) -m kennel serve --port $(PORT) --web-workers $(WEB_WORKERS)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy kennel sandbox tests bench
	$(VENV)/bin/lint-imports --no-cache
	DATABASE_URL=sqlite:///var/lint.sqlite3 $(PY) -m kennel makemigrations --check --dry-run

format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The whole suite on PostgreSQL (TEST_PROCESSES at a time), then the race tests again on SQLite.
test: install chromium lint
	@mkdir -p var
	DATABASE_URL=$(TEST_DATABASE_URL) $(VENV)/bin/pytest -q -n $(TEST_PROCESSES)
	DATABASE_URL=sqlite:///var/race.sqlite3 $(VENV)/bin/pytest -q -m race

test-fast: install
	DATABASE_URL=$(TEST_DATABASE_URL) $(VENV)/bin/pytest -q -x -n $(TEST_PROCESSES) -m "not e2e"

bench: install
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
	$(PY) -m pip install -q -e '.[dev,bench]'
	$(PY) -m bench

# SOAK_SECONDS (default 600) of mixed load on the production stack, then its checks (bench/soak.py).
soak: install
	$(PY) -m bench.soak

# Which app imports which (and whether any points up the layers): see STYLE.md.
deps: install
	$(PY) -m tests.architecture.graph

clean:
	rm -rf var $(VENV) .mypy_cache .ruff_cache .pytest_cache
