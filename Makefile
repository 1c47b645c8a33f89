# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

## Create the SQLite database in the instance folder, load demo data and start the app.
demo: $(STAMP)
	$(BIN)/mailer db upgrade
	$(BIN)/mailer demo load
	$(BIN)/mailer managers list
	$(BIN)/mailer run --host 127.0.0.1 --port $${PORT:-5000}

## The whole suite, on SQLite and on PostgreSQL (MAILER_TEST_PG_URL; skipped when unreachable).
test: $(STAMP)
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy mailer campaigns tracking
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python bench/import_contacts.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
