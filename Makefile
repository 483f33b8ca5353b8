# Every target bootstraps .venv itself: a fresh machine needs only python3.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench clean collector jaeger

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

## collector: build the OpenTelemetry Collector (collector/builder-config.yaml) and Jaeger v2
##            from their Go modules into ~/.cache/otel_context/go (needs Go; minutes cold,
##            instant once built). The collector tests build them too when missing.
collector:
	nice bash collector/build.sh all

## jaeger: run the collector and Jaeger on 127.0.0.1 in the foreground (Ctrl-C stops both):
##         OTLP on 4317/4318, Jaeger's query API on 16686. Then, in another terminal:
##         OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 make demo
jaeger: $(STAMP) collector
	$(BIN)/python -m example.backend

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
	rm -rf $(VENV) .demo .backend build *.egg-info
