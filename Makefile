# Every target bootstraps .venv itself: a fresh machine needs only python3.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test docs lint typecheck pytest bench bench-load-constant clean collector jaeger matrix matrix-lock dist wheel-smoke

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev,asgi,requests]'
	touch $(STAMP)

# The demo's own, lighter install: the extras it uses, gunicorn and requests, none of the
# [dev] tools, so a newcomer's first command stays short (the [dev] install holds all of it).
# --no-compile: Python compiles the modules the demo imports as it goes, not all of them now
# (half the install's CPU time).
DEMO_STAMP := $(VENV)/.installed-demo
DEMO_REQUIREMENTS := -e '.[asgi,requests,celery,otlp]' gunicorn requests

$(DEMO_STAMP): pyproject.toml constraints.txt | $(BIN)/python
	if [ $(STAMP) -nt pyproject.toml ] && [ $(STAMP) -nt constraints.txt ]; then :; else \
		$(BIN)/python -m pip install --quiet --no-compile -c constraints.txt $(DEMO_REQUIREMENTS); fi
	touch $(DEMO_STAMP)

## demo: run the example service, the pricing service and a Celery worker; show their log
##       lines and spans, one trace across all three. Celery's broker: Redis on 6379 if it
##       answers, else a redis-server started for the run, else a folder under .demo/
##       (EXAMPLE_DEMO_BROKER=filesystem forces the folder, =redis requires Redis)
demo: $(DEMO_STAMP)
	$(BIN)/python -m example.demo

## collector: build the OpenTelemetry Collector (collector/builder-config.yaml) and Jaeger v2
##            from their Go modules into ~/.cache/otel_context/go (needs Go; minutes cold,
##            instant once built). The collector tests build them too when missing.
collector:
	nice bash collector/build.sh all

## jaeger: run the collector and Jaeger on 127.0.0.1 in the foreground (Ctrl-C stops both):
##         OTLP on 4317/4318, Jaeger's query API on 16686. Then, in another terminal:
##         OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 make demo
jaeger: $(DEMO_STAMP) collector
	$(BIN)/python -m example.backend

## test: lint, type-check, build the docs and run the whole test suite
test: lint docs pytest

## docs: build docs/ (Sphinx, MyST markdown) into docs/_build/html; any warning fails the build
docs: $(STAMP)
	$(BIN)/sphinx-build -W --keep-going -n -q -b html docs docs/_build/html

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

## bench-load-constant: figure D′ alone (about 8 minutes): p50-p99.9 at a constant offered
##                      rate, coordinated omission corrected, servers on CPU 0 and the load
##                      generator on CPU 1; writes its section of benchmarks/RESULTS.md
bench-load-constant: $(STAMP)
	$(BIN)/python -m benchmarks.load_constant

# ---------------------------------------------------------------- test matrix and release
# (issue 17) nox, build and twine come from .venv; the cells' Pythons are pyenv's builds.
NOX   := $(BIN)/nox
SMOKE := .smoke
WHEEL  = $(firstword $(wildcard $(CURDIR)/dist/*.whl))
# Python 3.13 for the new-user wheel smoke check (noxfile.py finds pyenv's build by path)
PY313  = $(shell $(BIN)/python -c 'import noxfile; print(noxfile.interpreter("3.13"))')
# what a new user's Django 6.1 project installs next to the wheel: every extra but [flask] and
# [bench] (the Flask instrumentation stops at 0.66b1: together with the others, pip's resolver
# gives up instead of settling on the 0.66b1 train)
NEW_USER_EXTRAS := asgi,requests,httpx,otlp,grpc,celery,django-tasks,testing

# the cells, from noxfile.py; MATRIX_JOBS of them run at a time (their suites mostly wait on
# servers and downloads, so two overlap well on two cores), each cell's output kept together
MATRIX_CELLS = $(shell $(BIN)/python -c 'import noxfile; print(*(c.name for c in noxfile.CELLS))')
MATRIX_JOBS ?= 2

## matrix: the non-slow suite in every matrix cell (noxfile.py): Python 3.11-3.13, Django
##         5.2-6.1, OTel 1.40.0/0.61b0 up to the newest train; one cell: .venv/bin/nox -s <cell>
matrix: $(STAMP)
	$(MAKE) --no-print-directory -j$(MATRIX_JOBS) --output-sync=target \
		$(addprefix matrix/,$(MATRIX_CELLS))

matrix/%: $(STAMP)
	@started=$$(date +%s); $(NOX) -s $* $(NOX_ARGS); status=$$?; \
		echo "matrix cell $*: exit $$status after $$(( $$(date +%s) - started )) s"; exit $$status

## matrix-lock: re-resolve each cell's pins: constraints/<cell>.in -> constraints/<cell>.txt
matrix-lock: $(STAMP)
	$(NOX) -t lock

## dist: build the sdist and the wheel into dist/ and check them with twine
dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build --outdir dist .
	$(BIN)/twine check --strict dist/*

## wheel-smoke: install the built wheel (not editable, no dev extras) in fresh venvs and run
##              tests/smoke/wheel_smoke.py: on $(PYTHON) with constraints.txt, then on
##              Python 3.13 with django==6.1.3 and the Django extras, as a new user would
wheel-smoke: dist
	rm -rf $(SMOKE) && mkdir -p $(SMOKE)
	$(PYTHON) -m venv $(SMOKE)/main
	$(SMOKE)/main/bin/python -m pip install --quiet --disable-pip-version-check \
		-c constraints.txt "$(WHEEL)[testing]" requests
	cd $(SMOKE) && main/bin/python $(CURDIR)/tests/smoke/wheel_smoke.py $(WHEEL) $(CURDIR)/example
	@if [ -x "$(PY313)" ]; then \
		set -e; $(PY313) -m venv $(SMOKE)/py313; \
		$(SMOKE)/py313/bin/python -m pip install --quiet --disable-pip-version-check \
			"$(WHEEL)[$(NEW_USER_EXTRAS)]" django==6.1.3 requests; \
		$(SMOKE)/py313/bin/python -m pip list --format=freeze | grep -iE '^(django|opentelemetry-(api|sdk|instrumentation-django)|structlog)=='; \
		cd $(SMOKE) && py313/bin/python $(CURDIR)/tests/smoke/wheel_smoke.py $(WHEEL) $(CURDIR)/example; \
	elif [ "$(CI)" = true ]; then echo "no Python 3.13 found ($(PY313)): required under CI=true"; exit 1; \
	else echo "note: no Python 3.13 found: the new-user wheel smoke check is skipped"; fi

clean:
	rm -rf $(VENV) .demo .backend build *.egg-info dist .nox $(SMOKE) docs/_build
