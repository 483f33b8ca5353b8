"""Lines written with log sampling and the flight recorder, against today (issue 24, "Measure").

``python -m benchmarks.log_sampling_mix [REQUESTS]`` from the repository root. In one process,
through Django's test client, ``DjangoInstrumentor`` and otel_context, with head sampling at
10 % (``ParentBased(TraceIdRatioBased(0.1))``): a view logging 20 lines a request (19 INFO, and
a WARNING), of which 2 % raise (500) and 3 % are slow (60 ms, ``HOLD_SLOW_MS`` 50). The same
requests run twice: today's chain, then with ``UNSAMPLED_LOG_RATIO`` 0, ``HOLD_LINES`` on,
``LogSamplingProcessor`` and ``FlightRecorder``. It prints the lines written each time and
whether every line of the failing and slow requests was written.
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections import Counter
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import path

LINES = 20
rng = random.Random(24)


def view(request: HttpRequest) -> HttpResponse:
    """Log LINES lines; ``?kind=error`` raises after them, ``?kind=slow`` takes 60 ms."""
    import structlog  # noqa: PLC0415

    log = structlog.get_logger("mix")
    kind = request.GET.get("kind", "fine")
    for index in range(LINES - 1):
        log.info("step", index=index, kind=kind)
    log.warning("almost.done", kind=kind)
    if kind == "slow":
        time.sleep(0.06)
    if kind == "error":
        msg = "failed on purpose"
        raise RuntimeError(msg)
    return HttpResponse("ok")


urlpatterns = [path("mix/", view)]


class Counting:
    """A logger counting the lines written, by request kind and whether they were held."""

    def __init__(self) -> None:
        self.lines: Counter[tuple[str, bool]] = Counter()

    def msg(self, line: str) -> None:
        kind = line.split('"kind": "', 1)[1].split('"', 1)[0]
        self.lines[kind, '"log.held": true' in line] += 1

    info = warning = error = msg


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    from opentelemetry import trace  # noqa: PLC0415
    from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased  # noqa: PLC0415

    trace.set_tracer_provider(TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.1))))
    import django  # noqa: PLC0415
    from django.conf import settings  # noqa: PLC0415

    django.setup()
    settings.ROOT_URLCONF = __name__
    settings.ALLOWED_HOSTS = ["*"]
    settings.DEBUG_PROPAGATE_EXCEPTIONS = False
    import logging  # noqa: PLC0415

    logging.disable(logging.CRITICAL)  # Django's "Internal Server Error" records are not counted


def _run(kinds: list[str], *, sampling: bool) -> Counting:
    import structlog  # noqa: PLC0415
    from django.test import Client  # noqa: PLC0415

    import otel_context  # noqa: PLC0415
    from otel_context import conf  # noqa: PLC0415

    conf.configure(
        **({"unsampled_log_ratio": 0, "hold_lines": True, "hold_slow_ms": 50} if sampling else {})
    )
    out = Counting()
    renderer: Any = structlog.processors.JSONRenderer()
    chain: list[Any] = [otel_context.LogSamplingProcessor()] if sampling else []
    chain += [
        structlog.processors.add_log_level,
        otel_context.StructlogOTelProcessor(),
        structlog.processors.TimeStamper(fmt="iso"),
        otel_context.FlightRecorder(renderer) if sampling else renderer,
    ]
    structlog.configure(
        processors=chain, logger_factory=lambda *_: out, cache_logger_on_first_use=False
    )
    client = Client(raise_request_exception=False)
    for kind in kinds:
        client.get("/mix/", {"kind": kind})
    return out


def main() -> None:
    """Print lines written today and with the feature, by kind of request."""
    requests = int(sys.argv[1]) if len(sys.argv) > 1 else 2000
    _setup()
    kinds = rng.choices(["fine", "error", "slow"], weights=[95, 2, 3], k=requests)
    wanted = Counter(kinds)
    today = _run(kinds, sampling=False)
    sampled = _run(kinds, sampling=True)
    total_today, total = sum(today.lines.values()), sum(sampled.lines.values())
    print(f"requests {requests}: {dict(wanted)}, {LINES} lines each")
    print(f"lines written today: {total_today}; with log sampling + flight recorder: {total}")
    print(f"fewer: {1 - total / total_today:.1%}")
    for kind in ("error", "slow"):
        held = sampled.lines[kind, True]
        written = held + sampled.lines[kind, False]
        print(f"{kind}: {written} of {wanted[kind] * LINES} lines written ({held} held)")
    print(f"fine: {sampled.lines['fine', False]} lines written (sampled traces' and warnings)")


if __name__ == "__main__":
    main()
