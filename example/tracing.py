"""The example service's ``TracerProvider``, shared by its gunicorn (WSGI) and uvicorn (ASGI) runs.

Spans go to ``EXAMPLE_SPAN_FILE`` (default stdout), one compact JSON line each, and also over
OTLP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set and an OTLP exporter is installed.

Call :func:`setup_tracing` once per serving process, after any fork: gunicorn's ``post_fork``
hook does it for each worker, ``example/asgi.py`` for the uvicorn process. A
BatchSpanProcessor's export thread does not survive a fork.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

from example.linefiles import open_line_file

if TYPE_CHECKING:
    from collections.abc import Callable

DEFAULT_SERVICE_NAME = "otel-context-example"


class JsonLinesSpanExporter(ConsoleSpanExporter):
    """The SDK's console exporter, writing one compact JSON line per span to *path*."""

    def __init__(self, path: str | None) -> None:
        super().__init__(
            out=open_line_file(path),  # type: ignore[arg-type]
            formatter=lambda span: span.to_json(indent=None) + "\n",
        )


def otlp_exporter(warn: Callable[[str], None]) -> SpanExporter | None:
    """An OTLP/HTTP exporter if ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set; *warn* if not installed."""
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip():
        return None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
            OTLPSpanExporter,
        )
    except ImportError:
        warn("OTEL_EXPORTER_OTLP_ENDPOINT is set but no OTLP exporter is installed")
        return None
    return OTLPSpanExporter()  # reads the endpoint and headers from the environment


def setup_tracing(*, warn: Callable[[str], None], shutdown_on_exit: bool) -> TracerProvider:
    """Create the process's ``TracerProvider``, make it the global one and return it.

    Args:
        warn: Reports a configuration problem (e.g. gunicorn's ``server.log.warning``).
        shutdown_on_exit: Flush and shut down at interpreter exit (``atexit``). gunicorn
            workers shut down in their exit hooks instead.
    """
    service = os.environ.get("OTEL_SERVICE_NAME") or DEFAULT_SERVICE_NAME
    provider = TracerProvider(
        resource=Resource.create({"service.name": service}), shutdown_on_exit=shutdown_on_exit
    )
    exporters = [JsonLinesSpanExporter(os.environ.get("EXAMPLE_SPAN_FILE")), otlp_exporter(warn)]
    for exporter in filter(None, exporters):
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider
