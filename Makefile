# Maillage — the two commands: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export FLASK_APP := wsgi:app

.PHONY: run test lint format bench babel-extract babel-update babel-compile install install-dev clean demo

# The virtualenv is rebuilt when pyproject.toml or constraints.txt change.
$(BIN)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e .
	touch $@

$(BIN)/.installed-dev: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $@

install: $(BIN)/.installed
install-dev: $(BIN)/.installed-dev

babel-compile: $(BIN)/.installed
	$(BIN)/pybabel -q compile -d translations

## make run — set up, migrate the SQLite database, load the demo if empty, serve on http://127.0.0.1:5000
## (plain http on loopback: the session cookie is not marked Secure here; it is everywhere else)
run: $(BIN)/.installed babel-compile
	$(BIN)/flask db upgrade
	$(BIN)/flask demo load --if-empty
	$(BIN)/flask demo logins
	MAILLAGE_SESSION_COOKIE_SECURE=false $(BIN)/flask run --host 127.0.0.1 --port 5000

## make test — lint, then the whole suite (SQLite; PostgreSQL too when TEST_DATABASE_URL is set)
test: $(BIN)/.installed-dev babel-compile
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest $(PYTEST_ARGS)

format: $(BIN)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(BIN)/.installed-dev
	$(BIN)/python -m benchmarks

babel-extract: $(BIN)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o translations/messages.pot --no-location --sort-output .

babel-update: babel-extract
	$(BIN)/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
