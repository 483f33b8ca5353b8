"""Issue 25.4: what otel_context's newer features cost per request, in one process.

Run under ``valgrind --tool=callgrind --dump-before=os_getppid`` as ``python -m
benchmarks._features_worker WARMUP N``: figure B's otel_context set-up, then one block of N
requests per state between dump markers (``benchmarks.event_instructions.segments``; every
other segment is a block, ``counts[0::2]``, the others are the next state's set-up):

- ``base``: the defaults (figure B's otel_context);
- ``url_scoped``: ``URL_KWARGS`` with the project kwarg scoped to the route
  (``project_pk@route:orgs/*``) instead of unscoped: the per-route rule lookup;
- ``sampling_off``: ``LogSamplingProcessor()`` first in the chain, ``UNSAMPLED_LOG_RATIO`` unset;
- ``sampling_on``: the same with ratio 0.1 (the traces are sampled: every line is written);
- ``hold_on``: ``HOLD_LINES`` and ratio 0.1, ``FlightRecorder`` around the renderer;
- ``baggage_3``: the request brings 3 baggage members (the inbound filter and W3C limits run);
- ``baggage_200``: it brings 200 (the limits cut it to 64 members).
"""

from __future__ import annotations

import gc
import os
import sys
from typing import Any

import structlog

from benchmarks import _wsgi_worker as worker
from benchmarks._site import Setup

STATES = (
    "base",
    "url_scoped",
    "sampling_off",
    "sampling_on",
    "hold_on",
    "baggage_3",
    "baggage_200",
    "base",  # again: the first and last blocks agree unless the process drifts
)
_URL_KWARGS = {"organisation_pk": "organisation.id", "project_pk": "project.id"}


def _members(count: int) -> str:
    return ",".join(f"member{i}=value{i}" for i in range(count))


def apply(state: str, environ: dict[str, Any]) -> dict[str, Any]:
    """Configure *state*; the environ its requests use."""
    from otel_context import StructlogOTelProcessor, conf  # noqa: PLC0415
    from otel_context.flight_recorder import FlightRecorder  # noqa: PLC0415
    from otel_context.log_sampling import LogSamplingProcessor  # noqa: PLC0415

    overrides: dict[str, object] = {"url_kwargs": _URL_KWARGS}
    if state == "url_scoped":
        overrides["url_kwargs"] = {
            "organisation_pk": "organisation.id",
            "project_pk@route:orgs/*": "project.id",
        }
    if state in {"sampling_on", "hold_on"}:
        overrides["unsampled_log_ratio"] = 0.1
    if state == "hold_on":
        overrides["hold_lines"] = True
    conf.configure(**overrides)
    renderer: Any = structlog.processors.JSONRenderer()
    first = [LogSamplingProcessor()] if state.startswith(("sampling", "hold")) else []
    # The view's logger was cached on first use: change its processor list in place.
    structlog.get_config()["processors"][:] = [
        *first,
        structlog.contextvars.merge_contextvars,
        StructlogOTelProcessor(),
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso"),
        FlightRecorder(renderer) if state == "hold_on" else renderer,
    ]
    if state.startswith("baggage"):
        return {**environ, "HTTP_BAGGAGE": _members(int(state.split("_")[1]))}
    return environ


def main(argv: list[str]) -> int:
    """Check the set-up, then per state: warm up, marker, N requests."""
    warmup, count = int(argv[0]), int(argv[1])
    spec = Setup.parse("otel_context")
    handler, provider, exporter = worker.setup(spec, flush_only=True)
    if provider is None:
        msg = "otel_context's configuration has no provider"
        raise SystemExit(msg)
    found = worker.check(spec, handler, provider, exporter)
    if found:
        print(found, file=sys.stderr)
        return 1
    with open(os.devnull, "w") as devnull:  # noqa: PTH123
        worker.configure_structlog(spec, devnull, cache=True)
        for state in STATES:
            environ = apply(state, worker.base_environ())
            for _ in range(warmup):
                worker.request(handler, environ)
            provider.force_flush()
            gc.collect()
            gc.freeze()  # what is alive now is never traversed again: no drift from old objects
            os.getppid()  # the dump marker
            for _ in range(count):
                worker.request(handler, environ)
            provider.force_flush()  # each block exports exactly its own spans (flush_only)
            os.getppid()  # the block ends here: the next state's set-up is not counted in it
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
