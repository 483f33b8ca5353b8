"""What ``HeldHandler`` costs a stdlib record, in CPU instructions (callgrind).

``python -m benchmarks.held_records`` from the repository root. Each variant logs one INFO
record (``"order %s created"``) inside a request holding its lines (``HOLD_LINES``,
``UNSAMPLED_LOG_RATIO`` 0), through a ``StreamHandler`` to ``/dev/null`` with an ``asctime``
format, the request's trace sampled out (``out``) or sampled (``sampled``):

- ``plain``: the handler alone, today: every record written;
- ``filter``: with ``LogSamplingFilter`` on it: sampled out, the record is dropped;
- ``held``: wrapped in ``HeldHandler``: sampled out, the record is held (beyond 1,000 held,
  the oldest is dropped, as it would be), never formatted.

Instructions (a run with N records minus a run with none, divided by N) are unmoved by other
load on the machine, unlike time.
"""

from __future__ import annotations

import logging
import os
import sys
from concurrent.futures import ThreadPoolExecutor

from benchmarks.instructions import run_module

VARIANTS = ("plain", "filter", "held")
RECORDS = 5000
TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736


def _handler(variant: str) -> logging.Handler:
    from otel_context import LogSamplingFilter  # noqa: PLC0415
    from otel_context.held_records import HeldHandler  # noqa: PLC0415

    devnull = open(os.devnull, "w")  # noqa: SIM115, PTH123 - for the process's life
    stream = logging.StreamHandler(devnull)
    stream.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    if variant == "filter":
        stream.addFilter(LogSamplingFilter())
    return HeldHandler(stream) if variant == "held" else stream


def _worker(variant: str, number: int, sampled: bool) -> None:  # noqa: FBT001
    """Set up *variant* in a holding request, warm up, then log *number* records."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    import django  # noqa: PLC0415

    django.setup()
    from opentelemetry import context, trace  # noqa: PLC0415

    from otel_context import conf, flight_recorder  # noqa: PLC0415
    from otel_context.scope import RequestScope, attach_scope  # noqa: PLC0415

    config = conf.configure(hold_lines=True, unsampled_log_ratio=0, hold_slow_ms=0)
    flags = trace.TraceFlags(1 if sampled else 0)
    span = trace.NonRecordingSpan(
        trace.SpanContext(TRACE_ID, 0xF067AA0BA902B7, is_remote=False, trace_flags=flags)
    )
    context.attach(trace.set_span_in_context(span))
    scope = RequestScope(span)
    scope.held = flight_recorder.held_lines(span, config)
    attach_scope(scope)
    log = logging.getLogger("bench.held_records")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    log.addHandler(_handler(variant))
    logging.getLogger("otel_context").setLevel(logging.CRITICAL)  # the "dropped" warning
    for _ in range(2000 + number):
        log.info("order %s created", 17)


def main() -> None:
    """Print instructions per record of each variant, and its ratio to ``plain``."""
    runs = [(v, n, s) for s in ("out", "sampled") for v in VARIANTS for n in (0, RECORDS)]
    with ThreadPoolExecutor(2) as pool:
        found = pool.map(
            lambda r: run_module(["benchmarks.held_records", "worker", r[0], str(r[1]), r[2]]),
            runs,
        )
        counts = dict(zip(runs, found, strict=True))
    for trace_state in ("out", "sampled"):
        per = {
            v: (counts[v, RECORDS, trace_state] - counts[v, 0, trace_state]) / RECORDS
            for v in VARIANTS
        }
        for variant, value in per.items():
            ratio = value / per["plain"]
            print(f"{trace_state} {variant}: {value:,.0f} instructions/record, {ratio:.3f}×")


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        _worker(sys.argv[2], int(sys.argv[3]), sys.argv[4] == "sampled")
    else:
        main()
