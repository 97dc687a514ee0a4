# tradedesk: `make run` sets up and runs the whole desk; `make test` runs the tests.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
STAMP := $(VENV)/.installed

.PHONY: run test setup bench bench-deps chromium clean

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): requirements.txt requirements-dev.txt | $(PY)
	$(PIP) install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $(STAMP)

setup: $(STAMP)

# Local secrets, generated once and kept in .env (git-ignored, owner-only): the desk refuses to start without them.
.env: | $(PY)
	umask 077 && $(PY) -c "import secrets, base64; print('SECRET_KEY=' + secrets.token_urlsafe(50)); print('FIELD_ENCRYPTION_KEY=' + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()); print('METRICS_TOKEN=' + secrets.token_urlsafe(32)); print('LOG_FORMAT=console')" > .env
	@echo "Wrote .env (mode 0600) with fresh SECRET_KEY, FIELD_ENCRYPTION_KEY and METRICS_TOKEN"

## The desk on embedded defaults (SQLite, filesystem broker, in-memory channel layer).
run: $(STAMP) .env
	$(PY) manage.py rundesk

## The whole test suite; uses DATABASE_URL / REDIS_URL when set (CI sets both).
test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

## Peers for side-by-side benchmarks (not needed by the desk or the tests).
bench-deps: $(STAMP)
	$(PIP) install --quiet -r requirements-bench.txt

bench: bench-deps
	for script in bench/*.py; do $(PY) $$script || exit 1; done

clean:
	rm -rf var/broker var/celery-results var/*.sqlite3*
