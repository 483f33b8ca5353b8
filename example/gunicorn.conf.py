# ruff: noqa: N999 - gunicorn looks for this conventional file name
"""gunicorn settings of the example service.

Run from the repository root: ``gunicorn -c example/gunicorn.conf.py``.

Environment:
    EXAMPLE_BIND: address to listen on (default ``127.0.0.1:8000``; ``fd://N`` for a passed socket).
    EXAMPLE_WORKERS, EXAMPLE_THREADS: gthread workers and threads per worker (default 2 and 4).
    EXAMPLE_SPAN_FILE: file the finished spans are appended to, one JSON line each (default stdout).
    OTEL_EXPORTER_OTLP_ENDPOINT: also export spans over OTLP, if an OTLP exporter is installed.

Each worker sets up its own ``TracerProvider`` in ``post_fork``: a BatchSpanProcessor's export
thread does not survive a fork, so one created in the master would never export. The worker
shuts the provider down on exit so queued spans are written.
"""

from __future__ import annotations

import gc
import os
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

from example.linefiles import open_line_file

wsgi_app = "example.wsgi:application"
bind = [os.environ.get("EXAMPLE_BIND") or "127.0.0.1:8000"]
worker_class = "gthread"
workers = int(os.environ.get("EXAMPLE_WORKERS") or 2)
threads = int(os.environ.get("EXAMPLE_THREADS") or 4)
# A worker gets this long to finish requests and flush spans after SIGTERM.
graceful_timeout = int(os.environ.get("EXAMPLE_GRACEFUL_TIMEOUT") or 10)
proc_name = "otel-context-example"
# gunicorn >= 25 opens a control socket at one per-user path: two servers would collide.
control_socket_disable = True

_provider: TracerProvider | None = None


class JsonLinesSpanExporter(ConsoleSpanExporter):
    """The SDK's console exporter, writing one compact JSON line per span to *path*."""

    def __init__(self, path: str | None) -> None:
        super().__init__(
            out=open_line_file(path),  # type: ignore[arg-type]
            formatter=lambda span: span.to_json(indent=None) + "\n",
        )


def _otlp_exporter(server: Any) -> SpanExporter | None:
    if not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip():
        return None
    try:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
            OTLPSpanExporter,
        )
    except ImportError:
        server.log.warning("OTEL_EXPORTER_OTLP_ENDPOINT is set but no OTLP exporter is installed")
        return None
    return OTLPSpanExporter()  # reads the endpoint and headers from the environment


def post_fork(server: Any, worker: Any) -> None:
    global _provider  # noqa: PLW0603 - one provider per worker process
    service = os.environ.get("OTEL_SERVICE_NAME") or "otel-context-example"
    provider = TracerProvider(
        resource=Resource.create({"service.name": service}), shutdown_on_exit=False
    )
    exporters = [JsonLinesSpanExporter(os.environ.get("EXAMPLE_SPAN_FILE")), _otlp_exporter(server)]
    for exporter in filter(None, exporters):
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    _provider = provider


def post_worker_init(worker: Any) -> None:
    # Django, OTel and the app are loaded: keep their objects out of the collector's full scans,
    # which otherwise stall requests while queued spans pile up (see the reference notes).
    gc.freeze()


def _shutdown() -> None:
    global _provider
    provider, _provider = _provider, None
    if provider is not None:
        provider.shutdown()  # flushes the BatchSpanProcessor queue


def worker_int(worker: Any) -> None:
    _shutdown()


def worker_exit(server: Any, worker: Any) -> None:
    _shutdown()
