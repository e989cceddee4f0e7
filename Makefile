# Two commands do all set-up on a fresh machine:
#   make serve   - create/refresh .venv and start the server on the embedded default models
#   make test    - create/refresh .venv, install test audio, check the import contracts, run
#                  the unit tests (tests/unit), then the integration tests (tests/integration)
# and for a quick check while working:
#   make unit    - the unit tests alone: no models, no test audio, no server (seconds)
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
HOST   ?= 0.0.0.0
PORT   ?= 50051
export PATH := $(abspath $(VENV))/bin:$(PATH)
STAMP  := $(VENV)/.stamp

.PHONY: venv serve test unit protos test-deps bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

serve: $(STAMP)
	$(VENV)/bin/voice serve --host $(HOST) --port $(PORT)

test-deps:
	$(PYTHON) tools/install_test_deps.py

test: $(STAMP) test-deps
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q tests/unit
	$(PY) -m pytest -q tests/integration

unit: $(STAMP)
	$(PY) -m pytest -q tests/unit

protos: $(STAMP)
	$(PY) tools/gen_protos.py

clean:
	rm -rf $(VENV) .pytest_cache
