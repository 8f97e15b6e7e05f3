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

.PHONY: run test lint format install migrate seed bench messages translations

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
		--no-obsolete -l es -l fr -l en --ignore ".venv/*" --ignore "tests/*" --ignore "build/*"

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
