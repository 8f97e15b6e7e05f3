# Two commands: `make run` (demo on 127.0.0.1:8000) and `make test` (SQLite, then PostgreSQL).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PG_URL := $(or $(TEST_DATABASE_URL),postgres://postgres@127.0.0.1:5432/booking_desk)
BENCH_SQLITE := /tmp/booking-desk-bench.sqlite3
# pytest-xdist workers for the suite (`make test TEST_WORKERS=0` runs it in one process).
TEST_WORKERS ?= auto
BENCH_PG_URL := $(or $(BENCH_DATABASE_URL),postgres://postgres@127.0.0.1:5432/booking_desk_bench)

.PHONY: run run-prod loadtest test lint format install migrate seed bench messages translations

# Compiled translation catalogues (gettext's msgfmt), rebuilt when a .po file changes.
CATALOGUES := $(patsubst %.po,%.mo,$(wildcard locale/*/LC_MESSAGES/django.po))

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: $(STAMP) messages

messages: $(CATALOGUES)

locale/%/LC_MESSAGES/django.mo: locale/%/LC_MESSAGES/django.po
	msgfmt --check --output-file=$@ $<

# Extract the strings marked for translation into locale/<lang>/LC_MESSAGES/django.po.
translations: $(STAMP)
	env -u DATABASE_URL DEBUG=true $(BIN)/python manage.py makemessages --no-location \
		--no-obsolete -l es -l fr --ignore ".venv/*" --ignore "tests/*" --ignore "build/*"

migrate: install
	env $(DEMO_ENV) DEBUG=true $(BIN)/python manage.py migrate --no-input

seed: migrate
	env $(DEMO_ENV) DEBUG=true $(BIN)/python manage.py seed_demo

# The simulators' demo credentials (the demo connections name these variables).
DEMO_ENV := PMS_DEMO_DENTALINK_TOKEN=dentalink-simulator-token PMS_DEMO_TREATSVET_API_KEY=vk_c2ltdWxhdG9yLWtleQ PMS_DEMO_NEXHEALTH_KEY=sim-nexhealth-api-key VENDOR_ALLOWED_HOSTS=127.0.0.1:8101,127.0.0.1:8102,127.0.0.1:8103,127.0.0.1:8104,127.0.0.1:8105

run: seed
	@echo "== web on http://127.0.0.1:8000/, a delivery worker, the sweeper, five PMS simulators =="
	@echo "== receptionist: http://127.0.0.1:8000/desk/ as reception / demo-reception"
	@echo "== clinic manager: http://127.0.0.1:8000/admin/ as manager / demo-manager (the admin also"
	@echo "== asks for an authenticator code: add the key seed_demo printed above); Ctrl-C stops all =="
	env DEBUG=true $(DEMO_ENV) PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f Procfile

# A production-like stack on this machine: PostgreSQL (PROD_DATABASE_URL; created if missing),
# DEBUG off, hashed and compressed static files, gunicorn on 127.0.0.1:PROD_PORT, two task workers
# and the sweeper (Procfile.prod), JSON logs; plus the demo data and the simulators it books
# into. Plain http: there is no TLS proxy in front, so the https redirect and HSTS are off.
PROD_PORT ?= 8000
PROD_PG_URL := $(or $(PROD_DATABASE_URL),postgres://postgres@127.0.0.1:5432/booking_desk_prod)
# A fixed key, for this local stack only (stored vendor tokens are encrypted with a key derived
# from it, so it must not change between runs); a real deployment sets its own SECRET_KEY.
PROD_ENV := DEBUG=false DATABASE_URL=$(PROD_PG_URL) ALLOWED_HOSTS=127.0.0.1,localhost \
	SECRET_KEY=$(or $(SECRET_KEY),run-prod-on-this-machine-only-8Hq2vLx7RkP4mWz9TcB3nYd6FgJs) \
	SECURE_SSL_REDIRECT=false SECURE_COOKIES=false SECURE_HSTS_SECONDS=0 \
	GUNICORN_BIND=127.0.0.1:$(PROD_PORT) LOG_FORMAT=$(or $(LOG_FORMAT),json) $(DEMO_ENV)
PROD_PROCFILE := $(VENV)/run-prod.Procfile
# Creates the database of the PostgreSQL URL given unless it exists.
define CREATE_DATABASE
import sys, urllib.parse
import psycopg
from psycopg import sql
url = urllib.parse.urlsplit(sys.argv[1])
name = url.path.lstrip("/")
with psycopg.connect(url._replace(path="/postgres").geturl(), autocommit=True) as server:
    if not server.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
        server.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
endef
export CREATE_DATABASE

run-prod: install
	@$(BIN)/python tests/postgres_available.py "$(PROD_PG_URL)" || { \
		echo "PostgreSQL does not answer at $(PROD_PG_URL): set PROD_DATABASE_URL" >&2; exit 1; }
	$(BIN)/python -c "$$CREATE_DATABASE" "$(PROD_PG_URL)"
	env $(PROD_ENV) $(BIN)/python manage.py collectstatic --no-input -v0
	env $(PROD_ENV) $(BIN)/python manage.py migrate --no-input
	env $(PROD_ENV) $(BIN)/python manage.py seed_demo
	{ cat Procfile.prod; grep -v -E '^(web|worker|sweeper):' Procfile; } > $(PROD_PROCFILE)
	@echo "== gunicorn on http://127.0.0.1:$(PROD_PORT)/ (/healthz), two task workers, the sweeper, the simulators =="
	@echo "== (the sign-in addresses above say :8000; use :$(PROD_PORT)); Ctrl-C stops all =="
	env $(PROD_ENV) PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start -f $(PROD_PROCFILE) -c worker=2

# The load-and-fault test (README, "Load test"): the production stack on a fresh PostgreSQL
# database (LOAD_DATABASE_URL), Redis as the shared cache when one answers on 127.0.0.1:6379
# (else the database cache), 30 API clients for 60 s against faulty PMS simulators, a worker
# killed halfway; prints LOAD lines and fails when a must-be-zero figure is not zero.
LOAD_PG_URL := $(or $(LOAD_DATABASE_URL),postgres://postgres@127.0.0.1:5432/booking_desk_load)
LOAD_CACHE_URL := $(or $(LOAD_CACHE_URL),$(shell bash -c '(exec 3<>/dev/tcp/127.0.0.1/6379)' 2>/dev/null \
	&& echo redis://127.0.0.1:6379/3 || echo dbcache://django_cache))
LOAD_ENV := $(PROD_ENV) DATABASE_URL=$(LOAD_PG_URL) CACHE_URL=$(LOAD_CACHE_URL) LOG_LEVEL=WARNING
LOAD_ARGS ?=

loadtest: install
	@$(BIN)/python tests/postgres_available.py "$(LOAD_PG_URL)" --recreate || { \
		echo "PostgreSQL does not answer at $(LOAD_PG_URL): set LOAD_DATABASE_URL" >&2; exit 1; }
	env $(LOAD_ENV) $(BIN)/python manage.py collectstatic --no-input -v0
	env $(LOAD_ENV) $(BIN)/python manage.py migrate --no-input -v0
	env $(LOAD_ENV) $(BIN)/python manage.py seed_demo > /dev/null
	@echo "LOAD cache=$(LOAD_CACHE_URL)"
	env $(LOAD_ENV) PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python manage.py loadtest $(LOAD_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

test: lint
	@echo "== test suite on SQLite =="
	env -u DATABASE_URL DEBUG=true $(BIN)/pytest -n $(TEST_WORKERS)
	@if $(BIN)/python tests/postgres_available.py "$(PG_URL)"; then \
		echo "== test suite on PostgreSQL ($(PG_URL)) =="; \
		DEBUG=true DATABASE_URL="$(PG_URL)" $(BIN)/pytest -n $(TEST_WORKERS) -m "not dbless"; \
	elif [ "$${CI:-}" = "true" ]; then \
		echo "CI=true: PostgreSQL at $(PG_URL) must answer; it does not." >&2; exit 1; \
	else \
		echo "== PostgreSQL not reachable at $(PG_URL): skipped (set TEST_DATABASE_URL) =="; \
	fi

# Speed figures (BENCH lines) on a fresh large clinic, SQLite then PostgreSQL.
bench: install
	rm -f $(BENCH_SQLITE) $(BENCH_SQLITE)-wal $(BENCH_SQLITE)-shm
	DEBUG=true DATABASE_URL=sqlite:///$(BENCH_SQLITE) $(BIN)/python manage.py migrate -v0
	DEBUG=true DATABASE_URL=sqlite:///$(BENCH_SQLITE) $(BIN)/python manage.py bench
	@if $(BIN)/python tests/postgres_available.py "$(BENCH_PG_URL)" --recreate; then \
		DEBUG=true DATABASE_URL="$(BENCH_PG_URL)" $(BIN)/python manage.py migrate -v0 && \
		DEBUG=true DATABASE_URL="$(BENCH_PG_URL)" $(BIN)/python manage.py bench; \
	else \
		echo "== PostgreSQL not reachable at $(BENCH_PG_URL): PostgreSQL figures skipped =="; \
	fi
