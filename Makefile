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
# Models fetched from the package registries are kept in VOICE_CACHE_DIR; by default the
# checkout's .cache, which is where the tests' servers always keep theirs
# (voice/testing/paths.py CACHE_DIR), so `make test` fetches there whatever it is set to.
TEST_CACHE_DIR  := $(CURDIR)/.cache
VOICE_CACHE_DIR ?= $(TEST_CACHE_DIR)
test: override VOICE_CACHE_DIR := $(TEST_CACHE_DIR)

.PHONY: venv serve test unit protos test-deps models bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# smart-turn v3.2 (end-of-turn model) from the pipecat-ai wheel; quick when already there
models: $(STAMP)
	$(PY) tools/fetch_smart_turn.py --cache-dir '$(VOICE_CACHE_DIR)'

serve: models
	VOICE_CACHE_DIR='$(VOICE_CACHE_DIR)' $(VENV)/bin/voice serve --host $(HOST) --port $(PORT)

test-deps:
	$(PYTHON) tools/install_test_deps.py

test: $(STAMP) models test-deps
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q tests/unit
	$(PY) -m pytest -q tests/integration

unit: $(STAMP)
	$(PY) -m pytest -q tests/unit

protos: $(STAMP)
	$(PY) tools/gen_protos.py

clean:
	rm -rf $(VENV) .pytest_cache
