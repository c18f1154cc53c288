# Two commands: `make demo` starts meterhub on the embedded default, `make test` runs every test.
# Both bootstrap .venv from the lock file on first use.
PYTHON ?= python3
VENV ?= .venv
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint lock bench clean

$(STAMP): requirements/dev.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --require-hashes -r requirements/dev.lock
	$(VENV)/bin/pip install --quiet --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/meterhub demo

test: $(STAMP)
	VENV=$(VENV) scripts/run-tests

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests

# Refresh the lock after changing dependencies in pyproject.toml (needs the registry).
lock:
	$(VENV)/bin/pip install --quiet pip-tools
	$(VENV)/bin/pip-compile --quiet --generate-hashes --no-emit-index-url --no-emit-find-links \
	  --strip-extras --extra postgres --extra dev -o requirements/dev.lock pyproject.toml

clean:
	rm -rf $(VENV) var .pytest_cache
