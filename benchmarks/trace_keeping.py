"""What trace keeping (``KEEP_NOTABLE_TRACES``) costs a Django request, in CPU instructions.

``python -m benchmarks.trace_keeping [LINES]`` from the repository root. One process per variant
runs ``GET /keep/`` (a view logging LINES lines, default 0: the last a WARNING, the others INFO;
answering 200) through Django's test client, ``DjangoInstrumentor`` and otel_context, on a
``TracerProvider`` whose span exporter discards; lines are rendered as JSON to ``/dev/null``:

- ``dropped``: ``ParentBased(ALWAYS_OFF)``, today: the request's span is non-recording;
- ``lines`` (with LINES only): the same, with log sampling (``UNSAMPLED_LOG_RATIO`` 0) and the
  flight recorder (``HOLD_LINES``): the INFO lines are held (unrendered), then dropped; the
  WARNING written;
- ``kept_off``: the sampler wrapped in ``RecordSampledOut``, with ``KeepNotableTraces`` (and with
  LINES, log sampling and the flight recorder): the span records, ends, and is forgotten (fine
  and fast: not kept), the common case;
- ``sampled``: ``ParentBased(ALWAYS_ON)`` with a ``BatchSpanProcessor``: a head-sampled request,
  today's chain.

Instructions (a run with N requests minus a run with none, divided by N) are unmoved by other
load on the machine, unlike time.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.urls import path

from benchmarks.instructions import run_module

VARIANTS = ("dropped", "kept_off", "sampled")
REQUESTS = 400
#: Fewer with lines: each costs about twice as much under callgrind.
REQUESTS_WITH_LINES = 150


def view(request: HttpRequest) -> HttpResponse:
    """Log ``?lines=`` lines (the last a WARNING), then answer 200."""
    import structlog  # noqa: PLC0415

    lines = int(request.GET.get("lines", "0"))
    log = structlog.get_logger("keep")
    for index in range(lines - 1):
        log.info("step", index=index)
    if lines:
        log.warning("done")
    return HttpResponse("ok")


def _logging(variant: str) -> None:
    """Today's structlog chain, or log sampling with the flight recorder, to ``/dev/null``."""
    import structlog  # noqa: PLC0415

    import otel_context  # noqa: PLC0415
    from otel_context import conf  # noqa: PLC0415

    sampling = variant in {"lines", "kept_off"}
    if sampling:
        conf.configure(unsampled_log_ratio=0, hold_lines=True, hold_slow_ms=1000)
    renderer: Any = structlog.processors.JSONRenderer()
    chain: list[Any] = [otel_context.LogSamplingProcessor()] if sampling else []
    chain += [
        structlog.processors.add_log_level,
        otel_context.StructlogOTelProcessor(),
        structlog.processors.TimeStamper(fmt="iso"),
        otel_context.FlightRecorder(renderer) if sampling else renderer,
    ]
    devnull = open(os.devnull, "w")  # noqa: SIM115, PTH123 - for the process's life
    structlog.configure(
        processors=chain,
        logger_factory=structlog.WriteLoggerFactory(file=devnull),
        cache_logger_on_first_use=True,
    )


urlpatterns = [path("keep/", view)]


class _Discard:
    """A span exporter that drops what it is given."""

    def export(self, spans: Any) -> Any:
        from opentelemetry.sdk.trace.export import SpanExportResult  # noqa: PLC0415

        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Nothing to stop."""

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Nothing queued."""
        return True


def _provider(variant: str) -> Any:
    from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
    from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased  # noqa: PLC0415

    from otel_context.trace_keeping import KeepNotableTraces, RecordSampledOut  # noqa: PLC0415

    root = ALWAYS_ON if variant == "sampled" else ALWAYS_OFF
    sampler = RecordSampledOut(ParentBased(root)) if variant == "kept_off" else ParentBased(root)
    provider = TracerProvider(sampler=sampler, shutdown_on_exit=False)
    provider.add_span_processor(BatchSpanProcessor(_Discard()))  # type: ignore[arg-type]
    if variant == "kept_off":
        provider.add_span_processor(KeepNotableTraces(_Discard(), slow_ms=1000))  # type: ignore[arg-type]
    return provider


def _worker(variant: str, number: int, lines: int) -> None:
    """Set up *variant*, warm up, then serve *number* requests logging *lines* lines."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    from opentelemetry import trace  # noqa: PLC0415

    trace.set_tracer_provider(_provider(variant))
    import django  # noqa: PLC0415
    from django.conf import settings  # noqa: PLC0415

    django.setup()
    settings.ROOT_URLCONF = __name__
    settings.ALLOWED_HOSTS = ["*"]
    from django.test import Client  # noqa: PLC0415

    if lines:
        _logging(variant)
    client = Client()
    for _ in range(200 + number):
        client.get("/keep/", {"lines": lines})


def _instructions(variant: str, number: int, lines: int) -> int:
    return run_module(["benchmarks.trace_keeping", "worker", variant, str(number), str(lines)])


def main() -> None:
    """Print instructions per request of each variant, and its ratio to ``dropped``."""
    lines = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    variants = ("dropped", "lines", "kept_off", "sampled") if lines else VARIANTS
    number = REQUESTS_WITH_LINES if lines else REQUESTS
    runs = [(variant, n) for variant in variants for n in (0, number)]
    with ThreadPoolExecutor(2) as pool:
        found = pool.map(lambda run: _instructions(run[0], run[1], lines), runs)
        counts = dict(zip(runs, found, strict=True))
    per_request = {v: (counts[v, number] - counts[v, 0]) / number for v in variants}
    print(f"{lines} lines a request")
    for variant, value in per_request.items():
        ratio = value / per_request["dropped"]
        print(f"{variant}: {value:,.0f} instructions/request, {ratio:.3f}×")


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        _worker(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    else:
        main()
