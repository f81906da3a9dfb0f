# codering-x: `make run` starts it, `make test` proves it.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test soak toolchains engine images playground screenshots lint format bench bench-engine bench-dispatcher bench-compiled bench-docker clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/python -c "from codering_x.sandbox.helper import build; build()"
	touch $(STAMP)

## run: start codering-x on the embedded default: the dispatcher on 127.0.0.1:8000, two workers per runtime
run: $(STAMP)
	$(BIN)/codering-x serve

## soak: the reliability tests, repeated for longer (not in CI): SOAK_ROUNDS=10 by default;
## it fails if any box remains afterwards that was not there before
BOXES ?= $${CODERING_SANDBOX_ROOT:-/run/codering-x}/boxes
soak: toolchains $(STAMP)
	mkdir -p $(BOXES); ls $(BOXES) | sort > .soak-boxes-before
	for i in $$(seq $${SOAK_ROUNDS:-10}); do $(BIN)/pytest -q tests/reliability || exit 1; done
	ls $(BOXES) | sort | comm -13 .soak-boxes-before - > .soak-boxes-left; rm .soak-boxes-before
	if [ -s .soak-boxes-left ]; then echo "boxes left behind:"; cat .soak-boxes-left; rm .soak-boxes-left; exit 1; fi
	rm .soak-boxes-left; echo "soak: the boxes directory is as it began"

## toolchains: install the ten runtimes' toolchains, and chromium for the page's tests, from Debian packages (root; no-op when present)
toolchains:
	bash scripts/install-toolchains

## engine: a running Docker engine and the debian:bookworm-slim base (no-op when both are there)
engine:
	bash .ci/docker-engine

## test: install toolchains, a Docker engine and the virtualenv, lint, run the whole suite
test: toolchains engine $(STAMP)
	$(BIN)/ruff check codering_x tests bench
	$(BIN)/ruff format --check codering_x tests bench
	$(BIN)/pytest -q

## playground: rebuild the page (codering_x/dispatcher/playground/, committed) from web/ and its lockfile
playground:
	cd web && npm ci --no-audit --no-fund && npm run build

## screenshots: the page's tests, writing their screenshots to docs/screenshots/
screenshots: toolchains $(STAMP)
	CODERING_SCREENSHOTS=$(CURDIR)/docs/screenshots $(BIN)/pytest -q tests/browser

## images: build the ten runtime images (needs a Docker engine)
images: $(STAMP)
	$(BIN)/codering-x images build

lint: $(STAMP)
	$(BIN)/ruff check codering_x tests bench

format: $(STAMP)
	$(BIN)/ruff format codering_x tests bench
	$(BIN)/ruff check --fix codering_x tests bench

## bench: every benchmark scenario, then docs/benchmarks.md and its chart
bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python -m bench --report

## bench-engine: engine vs the bare interpreter, measured in the same run
bench-engine: $(STAMP)
	$(BIN)/python -m bench floor engine

## bench-dispatcher: engine vs one worker vs the hedged dispatcher, and a stalling worker
bench-dispatcher: $(STAMP)
	$(BIN)/python -m bench embedded tail

## bench-compiled: compiled runtimes, new source and the same source again, vs the bare toolchain
bench-compiled: $(STAMP)
	$(BIN)/python -m bench compiled

## bench-docker: warm worker containers through the dispatcher vs `docker run --rm` per request
bench-docker: $(STAMP)
	$(BIN)/python -m bench docker

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache codering_x/sandbox/sbexec codering_x/sandbox/libsbexec.so
