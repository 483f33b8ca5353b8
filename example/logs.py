"""One JSON line per log event, in every process of the example: web, pricing and worker.

structlog events and stdlib records (Django's, gunicorn's, Celery's) go through the same
processors: the level, otel_context's ids (``StructlogOTelProcessor``), an ISO timestamp and
``service.name``, so lines from several services in one search can be told apart.
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any

import structlog

from example.linefiles import open_line_file
from example.tracing import DEFAULT_SERVICE_NAME, otlp_endpoint
from otel_context import (
    FlightRecorder,
    LogSamplingFilter,
    LogSamplingProcessor,
    StructlogOTelLogProcessor,
    StructlogOTelProcessor,
)

if TYPE_CHECKING:
    from structlog.typing import EventDict, Processor

#: The log-line key naming the process's service (as the spans' resource attribute does).
SERVICE_KEY = "service.name"


class AddServiceName:
    """Add ``service.name`` to every event; a value passed at the call site wins."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __call__(self, logger: Any, method_name: str, event_dict: EventDict) -> EventDict:
        event_dict.setdefault(SERVICE_KEY, self.name)
        return event_dict


def service_name() -> str:
    """This process's service name: ``OTEL_SERVICE_NAME``, as the tracer's resource uses."""
    return os.environ.get("OTEL_SERVICE_NAME", "").strip() or DEFAULT_SERVICE_NAME


def _shared_processors() -> list[Processor]:
    return [
        structlog.stdlib.add_log_level,
        StructlogOTelProcessor(),
        AddServiceName(service_name()),
        structlog.processors.TimeStamper(fmt="iso"),
        structlog.processors.format_exc_info,
        # Each event as an OTel log record when logs are exported over OTLP, and also as a span
        # event: the compatibility option for Jaeger, which stores traces only and shows span
        # events as the span's "Logs" (docs/jaeger.md, "Log lines next to their spans").
        StructlogOTelLogProcessor(span_events=True, log_records=otlp_endpoint()),
    ]


def log_sampling() -> bool:
    """Whether log sampling is set up (docs/sampling.md): when its ratio is in the environment.

    Otherwise the chain is today's, so the example's benchmarks measure what they always did.
    """
    return bool(os.environ.get("OTEL_CONTEXT_UNSAMPLED_LOG_RATIO", "").strip())


def configure_structlog(log_file: str | None) -> None:
    """Render structlog events as JSON lines appended to *log_file* (``None``: stdout)."""
    renderer: Processor = structlog.processors.JSONRenderer()
    sampling: list[Processor] = []
    if log_sampling():
        sampling, renderer = [LogSamplingProcessor()], FlightRecorder(renderer)
    structlog.configure(
        processors=[
            *sampling,
            structlog.contextvars.merge_contextvars,
            *_shared_processors(),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.WriteLoggerFactory(file=open_line_file(log_file)),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )


def logging_config(log_file: str | None) -> dict[str, Any]:
    """A ``dictConfig`` (Django's ``LOGGING``) rendering stdlib records like structlog events."""
    pre_chain = _shared_processors()
    pre_chain.insert(1, structlog.stdlib.add_logger_name)
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.JSONRenderer(),
                ],
                "foreign_pre_chain": pre_chain,
            },
        },
        "filters": {"sampling": {"()": LogSamplingFilter}},
        "handlers": {
            "json": {
                "()": logging.StreamHandler,
                "stream": open_line_file(log_file),
                "formatter": "json",
                "filters": ["sampling"] if log_sampling() else [],
            },
        },
        "root": {"handlers": ["json"], "level": "INFO"},
    }
