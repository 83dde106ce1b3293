# One entry per task. `make run` and `make test` work on a fresh machine with Python 3.11+.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ADDRESS ?= localhost:8080
SHARED ?= ../shared
IMAGE ?= localhost/package-registry

.PHONY: run test test-memory-catalog test-uvicorn-lowest test-kit check lint format conformance bench reliability
.PHONY: image image-test browse-screenshots clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

## Serve the example packages shipped in the repository on $(ADDRESS).
run: $(BIN)/.installed
	$(BIN)/package-registry -config=config.yml -address=$(ADDRESS) -log-type=dev

## Run the whole test suite (unit tests and real servers on loopback).
test: $(BIN)/.installed
	$(BIN)/python -m pytest -q

## The whole suite again with the catalog kept in memory only (-catalog-path=:memory:).
test-memory-catalog: $(BIN)/.installed
	EPR_CATALOG_PATH=:memory: $(BIN)/python -m pytest -q -p no:cacheprovider

## The worker protocol's tests on the lowest uvicorn pyproject.toml allows (a second venv).
UVICORN_LOWEST := $(shell sed -n 's/.*"uvicorn>=\([0-9.]*\),.*/\1/p' pyproject.toml)
test-uvicorn-lowest:
	$(PYTHON) -m venv .venv-uvicorn-lowest
	.venv-uvicorn-lowest/bin/python -m pip install --quiet -e '.[test]' 'uvicorn==$(UVICORN_LOWEST)'
	.venv-uvicorn-lowest/bin/python -m pytest -q -p no:cacheprovider tests/web/test_fast_path.py \
	  tests/web/test_connections.py tests/web/test_uvicorn_internals.py \
	  tests/web/test_lifecycle.py::test_shutdown_is_bounded_when_a_client_stops_reading

## Unit tests against the reference's golden files (needs $(SHARED)/conformance).
test-kit: $(BIN)/.installed
	CONFORMANCE_KIT=$(abspath $(SHARED))/conformance $(BIN)/python -m pytest -q tests_kit

## Lint and format checks.
check: $(BIN)/.installed
	$(BIN)/ruff check src tests tests_kit bench deploy scripts
	$(BIN)/ruff format --check src tests tests_kit bench deploy scripts

format: $(BIN)/.installed
	$(BIN)/ruff format src tests tests_kit bench deploy scripts
	$(BIN)/ruff check --fix src tests tests_kit bench deploy scripts

## Retake the README's screenshots of /browse/ (docs/img/) with headless Chromium.
browse-screenshots: $(BIN)/.installed
	BROWSE_SCREENSHOTS='$(abspath docs/img)' $(BIN)/python -m pytest -q \
	  tests/web/test_browse_chromium.py -k screenshots

## Build the container image $(IMAGE) (docker if a daemon answers, else buildah; see
## scripts/image.sh). Where buildah is used, scripts/container-env.sh installs it and podman
## and makes the Debian base image locally.
image:
	IMAGE=$(IMAGE) scripts/image.sh build

## Build the image, then run deploy/tests/ against it (health, search, SIGTERM, a
## distribution image); prints the image size.
image-test: $(BIN)/.installed
	IMAGE=$(IMAGE) scripts/image.sh test

## The reference's black-box conformance kit (needs $(SHARED)/conformance).
conformance: $(BIN)/.installed
	$(BIN)/python $(SHARED)/conformance/run.py --keep-going \
	  --server-cmd '$(abspath $(BIN))/package-registry -config={config} -address={address} {flags}'

## Serving benchmark against nginx (installs nginx and wrk if missing); see docs/performance.md.
bench: $(BIN)/.installed
	bench/serve.sh

## Memory, start-up, restart, reload and query speed by corpus size (~15 min; corpora kept
## in /tmp/scale-corpora); SCALE_SIZES=2000,10000,20000,50000 adds the largest,
## SCALE_ARGS="--json out.json" more options; see bench/README.md.
SCALE_SIZES ?= 2000,10000,20000
.PHONY: bench-scale
bench-scale: $(BIN)/.installed
	$(BIN)/python bench/scale.py --sizes $(SCALE_SIZES) $(SCALE_ARGS)

## Reliability scenarios (soak, reloads, hostile input, faults, slow clients; ~20 min,
## RELIABILITY_QUICK=1 for a ~2 min smoke run); see docs/reliability.md.
reliability: $(BIN)/.installed
	PYTHONPATH=bench $(BIN)/python -m reliability $(SCENARIOS)

clean:
	rm -rf $(VENV) .venv-uvicorn-lowest .pytest_cache .ruff_cache build dist
