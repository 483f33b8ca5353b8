# Every target bootstraps .venv itself: a fresh machine needs only python3.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,asgi,requests]'
	touch $(STAMP)

## demo: run the example service, the pricing service and a Celery worker (needs Redis or
##       a redis-server binary); show their log lines and spans, one trace across all three
demo: $(STAMP)
	$(BIN)/python -m example.demo

## test: lint, type-check and run the whole test suite
test: lint pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

BENCH_STAMP := $(VENV)/.installed-bench

$(BENCH_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,asgi,requests,bench]'
	touch $(BENCH_STAMP)

## bench: run the benchmarks (about 15 minutes) and write benchmarks/RESULTS.md
bench: $(BENCH_STAMP)
	command -v valgrind >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq valgrind >/dev/null; } \
		|| echo "valgrind unavailable: figure C' (instruction counts) is skipped"
	$(BIN)/python -m benchmarks.run
	command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; } \
		|| echo "wrk unavailable: the load figures are skipped"
	$(BIN)/python -m benchmarks.load

clean:
	rm -rf $(VENV) .demo build *.egg-info
