# One-command entry points. Everything lives in .venv at the repo root.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Every Python process here writes the bytecode of what it imports, whatever the shell says
# (PYTHONDONTWRITEBYTECODE=1 otherwise makes each process compile .venv's modules again:
# docs/measurements.md, "A clean clone's CI")
unexport PYTHONDONTWRITEBYTECODE

.PHONY: setup models int8 test lint demo serve web bench-server bench-web clean matting-cache bytecode

# uv installs the same resolution as pip (same packages, same versions) in seconds, not a
# minute (it takes a proxy's CA from SSL_CERT_FILE, as pip takes PIP_CERT)
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check uv
	$(VENV)/bin/uv pip install -q --python $(PY) -e ".[cpu,test]"
	touch $@

setup: $(STAMP)

# pymatting compiles its numba kernels when first imported (84 s of one core here) and
# caches them beside its source: once before the suite, not in every process that mats at
# the same time, and on two cores (scripts/matting_cache.py; .ci/run builds it while the
# models are staged)
MATTING_CACHE := $(VENV)/.matting-cache
$(MATTING_CACHE): $(STAMP)
	$(PY) scripts/matting_cache.py
	touch $@

matting-cache: $(MATTING_CACHE)

# the suite's workers each collect every test module: compiling them (assertions rewritten)
# and what they import once, beforehand, leaves each worker only loading them
# (.ci/run collects while the models are staged)
bytecode: setup
	$(PY) -m pytest --collect-only -q -p no:cacheprovider > /dev/null

## fetch rembg's u2net + u2netp (md5-checked, into $U2NET_HOME) and stage the serving graphs
models: setup
	$(PY) -m convert

## the int8 variants again, with each held-out photo's agreement beside fp32's noise floor
## (`models` already builds u2net_int8 from its recipe); `python -m convert quantize --search`
## derives a recipe again (minutes of CPU, docs/int8.md)
int8: models
	$(PY) -m convert quantize

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

## the whole suite, as CI runs it: three pytest-xdist workers on two cores, the third filling
## the time tests spend waiting on servers (docs/measurements.md, "The test suite's workers");
## a test file stays on one worker, so its module-scoped servers are started once
TEST_WORKERS ?= 3
test: models lint $(MATTING_CACHE)
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile --durations=25

## the main job: stage, serve, cut the sample photos into out/, stop
demo: models
	$(PY) scripts/demo.py --out out

serve: models
	$(PY) -m server

## the HTTP APIs and the web UI on http://127.0.0.1:7000 (starts the embedded Triton)
web: models
	$(PY) -m web

bench-web: models
	$(PY) bench/web.py

bench-server: models
	$(PY) bench/served_vs_plain.py

clean:
	rm -rf out .pytest_cache .ruff_cache
