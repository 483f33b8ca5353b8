"""What trace keeping (``KEEP_NOTABLE_TRACES``) costs a Django request, in CPU instructions.

``python -m benchmarks.trace_keeping`` from the repository root. One process per variant runs
``GET /keep/`` (a view logging nothing, answering 200) through Django's test client,
``DjangoInstrumentor`` and otel_context, on a ``TracerProvider`` whose span exporter discards:

- ``dropped``: ``ParentBased(ALWAYS_OFF)``, today: the request's span is non-recording;
- ``kept_off``: the same sampler wrapped in ``RecordSampledOut``, with ``KeepNotableTraces``:
  the span records, ends, and is forgotten (fine and fast: not kept), the common case;
- ``sampled``: ``ParentBased(ALWAYS_ON)`` with a ``BatchSpanProcessor``: a head-sampled request.

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


def view(request: HttpRequest) -> HttpResponse:
    """Answer 200 at once."""
    return HttpResponse("ok")


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


def _worker(variant: str, number: int) -> None:
    """Set up *variant*, warm up, then serve *number* requests."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    from opentelemetry import trace  # noqa: PLC0415

    trace.set_tracer_provider(_provider(variant))
    import django  # noqa: PLC0415
    from django.conf import settings  # noqa: PLC0415

    django.setup()
    settings.ROOT_URLCONF = __name__
    settings.ALLOWED_HOSTS = ["*"]
    from django.test import Client  # noqa: PLC0415

    client = Client()
    for _ in range(200 + number):
        client.get("/keep/")


def _instructions(variant: str, number: int) -> int:
    return run_module(["benchmarks.trace_keeping", "worker", variant, str(number)])


def main() -> None:
    """Print instructions per request of each variant, and its ratio to ``dropped``."""
    runs = [(variant, n) for variant in VARIANTS for n in (0, REQUESTS)]
    with ThreadPoolExecutor(2) as pool:
        counts = dict(zip(runs, pool.map(lambda run: _instructions(*run), runs), strict=True))
    per_request = {v: (counts[v, REQUESTS] - counts[v, 0]) / REQUESTS for v in VARIANTS}
    for variant, value in per_request.items():
        print(
            f"{variant}: {value:,.0f} instructions/request, {value / per_request['dropped']:.3f}×"
        )


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        _worker(sys.argv[2], int(sys.argv[3]))
    else:
        main()
