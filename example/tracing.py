"""The example service's ``TracerProvider``, shared by its gunicorn (WSGI) and uvicorn (ASGI) runs.

Spans go to ``EXAMPLE_SPAN_FILE`` (default stdout), one compact JSON line each, and traces and
logs also over OTLP when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (via ``configure_providers``).

Call :func:`setup_tracing` once per serving process, after any fork: gunicorn's ``post_fork``
hook does it for each worker, ``example/asgi.py`` for the uvicorn process. A
BatchSpanProcessor's export thread does not survive a fork.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from opentelemetry import trace
from opentelemetry._logs import get_logger_provider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

import otel_context
from example.linefiles import open_line_file
from otel_context.sampling import sampler_from_env
from otel_context.sdk import Providers
from otel_context.trace_keeping import add_keeper, keeping_sampler

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


def otlp_endpoint() -> bool:
    """Whether traces and logs should also leave over OTLP (``OTEL_EXPORTER_OTLP_ENDPOINT``)."""
    return bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip())


def setup_tracing(*, warn: Callable[[str], None], shutdown_on_exit: bool) -> Providers:
    """Set up this process's providers, make them global, and return them.

    Spans always go to ``EXAMPLE_SPAN_FILE`` as JSON lines (the demo and the tests read it).
    With ``OTEL_EXPORTER_OTLP_ENDPOINT`` set, :func:`otel_context.configure_providers` also
    exports traces and logs over OTLP. With ``OTEL_CONTEXT_KEEP_NOTABLE_TRACES``, a sampled-out
    trace that failed or was slow is kept too (over OTLP when set, else in the file). Stop
    with :func:`shutdown`: bounded, collector up or not.

    Args:
        warn: Reports a configuration problem (e.g. gunicorn's ``server.log.warning``).
        shutdown_on_exit: Flush and shut down at interpreter exit (``atexit``). gunicorn
            workers shut down in their exit hooks instead.
    """
    span_file = JsonLinesSpanExporter(os.environ.get("EXAMPLE_SPAN_FILE"))
    if otlp_endpoint():
        try:
            providers = otel_context.configure_providers(default_service_name=DEFAULT_SERVICE_NAME)
        except otel_context.ConfigurationError as exc:
            warn(f"OTLP export is off: {exc}")
        else:
            tracer_provider = providers.tracer_provider
            if isinstance(tracer_provider, TracerProvider):
                tracer_provider.add_span_processor(BatchSpanProcessor(span_file))
            return providers
    service = os.environ.get("OTEL_SERVICE_NAME") or DEFAULT_SERVICE_NAME
    provider = TracerProvider(
        resource=Resource.create({"service.name": service}),
        # sampled-out calls still carry ids to our own hosts; KEEP_NOTABLE_TRACES records them
        sampler=keeping_sampler(sampler_from_env()),
        shutdown_on_exit=shutdown_on_exit,
    )
    provider.add_span_processor(BatchSpanProcessor(span_file))
    path = os.environ.get("EXAMPLE_SPAN_FILE")
    keeper = add_keeper(provider, lambda: JsonLinesSpanExporter(path))  # the same file
    trace.set_tracer_provider(provider)
    exporters = (span_file,) if keeper is None else (span_file, keeper)
    return Providers(provider, get_logger_provider(), owned=(provider,), exporters=exporters)


def shutdown(providers: Providers | None) -> None:
    """Flush and stop *providers* within 5 s, even with the collector down."""
    if providers is not None:
        otel_context.shutdown_providers(timeout_s=5, providers=providers)
