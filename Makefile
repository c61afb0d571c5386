# sto-booking: `make demo` runs the product, `make test` runs the suite, `make bench` measures.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: venv demo test bench migrate clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

venv: $(STAMP)

# Zero-config demo: SQLite in the project folder, tasks in-process, e-mail to the console.
demo: venv
	DEBUG=1 $(PY) manage.py migrate --noinput
	DEBUG=1 $(PY) manage.py demo_setup
	DEBUG=1 $(PY) manage.py demo_serve

# The whole suite against PostgreSQL and Redis on 127.0.0.1 (override DATABASE_URL / REDIS_URL).
test: venv
	$(PY) -m pytest --create-db $(PYTEST_ARGS)

bench: venv
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles
