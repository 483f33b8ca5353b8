"""What log sampling (issue 24) costs per structlog event, in CPU instructions (callgrind).

``python -m benchmarks.log_sampling`` from the repository root. Each variant logs one event in
a request (a span and a scope with 3 ids) through the chain ``[merge_contextvars,
add_log_level, StructlogOTelProcessor, TimeStamper(iso), JSONRenderer]`` to ``/dev/null``:

- ``today``: that chain (no log sampling);
- ``off``: ``LogSamplingProcessor()`` first, ``UNSAMPLED_LOG_RATIO`` unset (1: off);
- ``on_sampled``: ratio 0.1, the trace sampled: the info line is written;
- ``on_warning``: ratio 0.1, sampled out, a warning: written;
- ``on_dropped``: ratio 0.1, sampled out, an info line of a trace not kept: dropped;
- ``on_held``: as ``on_dropped`` with ``HOLD_LINES`` and ``FlightRecorder(JSONRenderer())``: the
  line is held, unrendered (beyond 1,000 held lines the oldest is dropped, as it would be).

``python -m benchmarks.log_sampling [VARIANT…]`` measures only those (and ``today``).

Instructions (a run with N events minus a run with none, divided by N) are unmoved by other
load on the machine, unlike time.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor

from benchmarks.instructions import run_module

VARIANTS = ("today", "off", "on_sampled", "on_warning", "on_dropped", "on_held")
EVENTS = 20_000
#: Not kept at 0.1 (see tests/test_log_sampling.py for the function).
TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736


def _worker(variant: str, number: int) -> None:
    """Set up *variant*, warm up, then log *number* events."""
    import structlog  # noqa: PLC0415
    from opentelemetry import context, trace  # noqa: PLC0415

    from otel_context import (  # noqa: PLC0415
        FlightRecorder,
        LogSamplingProcessor,
        StructlogOTelProcessor,
        conf,
        flight_recorder,
    )
    from otel_context.scope import RequestScope, scoped  # noqa: PLC0415

    options = {} if variant in {"today", "off"} else {"unsampled_log_ratio": 0.1}
    conf.configure(**options, hold_lines=variant == "on_held")
    # Final, as in a Django process after setup (or Flask's instrument_app): without Django
    # settings the configuration stays provisional and each read re-checks for them.
    config = conf.mark_final()
    chain: list[object] = [] if variant == "today" else [LogSamplingProcessor()]
    chain += [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        StructlogOTelProcessor(),
        structlog.processors.TimeStamper(fmt="iso"),
        structlog.processors.JSONRenderer(),
    ]
    if variant == "on_held":
        chain[-1] = FlightRecorder(structlog.processors.JSONRenderer())
    devnull = open(os.devnull, "w")  # noqa: SIM115, PTH123 - for the process's life
    logger = structlog.wrap_logger(structlog.WriteLogger(devnull), processors=chain)
    flags = trace.TraceFlags(1 if variant in {"today", "off", "on_sampled"} else 0)
    span = trace.NonRecordingSpan(
        trace.SpanContext(TRACE_ID, 0xF067AA0BA902B7, is_remote=False, trace_flags=flags)
    )
    log = logger.warning if variant == "on_warning" else logger.info
    context.attach(trace.set_span_in_context(span))
    ids = {"correlation.id": "c-1", "user.id": "42", "organisation.id": "7"}
    scope = RequestScope(span)
    scope.held = flight_recorder.held_lines(span, config)
    with scoped(scope, **ids):
        for _ in range(2000):
            log("order.created", order=17)
        for _ in range(number):
            log("order.created", order=17)


def _instructions(variant: str, number: int) -> int:
    return run_module(["benchmarks.log_sampling", "worker", variant, str(number)])


def main() -> None:
    """Print instructions per event of each variant, and its ratio to ``today``."""
    variants = ["today", *(sys.argv[1:] or VARIANTS[1:])]
    runs = [(variant, n) for variant in variants for n in (0, EVENTS)]
    with ThreadPoolExecutor(2) as pool:
        counts = dict(zip(runs, pool.map(lambda run: _instructions(*run), runs), strict=True))
    per_event = {v: (counts[v, EVENTS] - counts[v, 0]) / EVENTS for v in variants}
    for variant, value in per_event.items():
        print(f"{variant}: {value:.0f} instructions/event, {value / per_event['today']:.3f}×")


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        _worker(sys.argv[2], int(sys.argv[3]))
    else:
        main()
