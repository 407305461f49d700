# The README's two commands: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test lint format messages install-run install-dev

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Embedded mode needs no MySQL client library, so mysqlclient (which compiles against
# libmysqlclient) is left out of this install; everything else is the pinned list.
$(VENV)/.run-installed: requirements.txt | $(BIN)/python
	mkdir -p var
	grep -v '^mysqlclient' requirements.txt > var/requirements-embedded.txt
	$(BIN)/python -m pip install -q -r var/requirements-embedded.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@ $(VENV)/.run-installed

install-run: $(VENV)/.run-installed
install-dev: $(VENV)/.dev-installed

# Embedded defaults: SQLite under var/, local files, eager tasks. Demo users are printed.
run: install-run
	DEBUG=true $(BIN)/python manage.py migrate --noinput
	DEBUG=true $(BIN)/python manage.py seed_demo
	DEBUG=true $(BIN)/python manage.py runserver 127.0.0.1:8000

# The whole suite on MariaDB, Redis, S3 (weed), a Celery worker and chromium.
test: install-dev
	$(BIN)/python -m pytest

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Extract English msgids into locale/zh_Hans/LC_MESSAGES/django.po and compile django.mo.
messages: install-dev
	DEBUG=true $(BIN)/python manage.py makemessages -l zh_Hans --no-obsolete --add-location=file \
		--ignore=.venv --ignore=var --ignore=bench --ignore=node_modules --ignore=static/vendor
	DEBUG=true $(BIN)/python manage.py compilemessages -l zh_Hans --ignore=.venv --ignore=var --ignore=node_modules
