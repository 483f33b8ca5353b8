"""The Celery app the integration tests run a real worker on, and the view that enqueues.

Worker: ``python -m celery -A tests.celery_app worker -P solo -Q <queue>`` with
``OTEL_CONTEXT_TEST_BROKER_URL``, ``OTEL_CONTEXT_TEST_LOG_FILE`` and
``OTEL_CONTEXT_TEST_SPAN_FILE`` set. Tracing, logging and otel_context are set up in
``worker_init`` only, so importing this module (the producer does) configures nothing.

Producer: a Django request to :data:`urlpatterns` (``ROOT_URLCONF = "tests.celery_app"``).
"""

from __future__ import annotations

import logging
import os
from typing import Any

import structlog
from celery import Celery, signals
from django.http import HttpRequest, JsonResponse
from django.urls import path
from opentelemetry import trace

import otel_context
from example.linefiles import open_line_file

DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/15"
BROKER_URL = os.environ.get("OTEL_CONTEXT_TEST_BROKER_URL") or DEFAULT_BROKER_URL

app = Celery("otel_context_tests", broker=BROKER_URL, backend=BROKER_URL)
app.conf.update(
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    worker_hijack_root_logger=False,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    result_expires=300,
)
log = structlog.get_logger("tests.celery_app")


@app.task(name="tests.record", bind=True)
def record(self: Any, label: str) -> dict[str, object]:
    """Log an event, and one in a child span; return what travelled in the message."""
    log.info("task.ran", label=label)
    with trace.get_tracer("tests").start_as_current_span("task.child"):
        log.info("task.child", label=label)
    return {
        "identifiers": otel_context.get_identifiers(),
        "carrier": getattr(self.request, "otel_context", None),
        "baggage_header": getattr(self.request, "baggage", None),
    }


@app.task(name="tests.fail")
def fail(label: str) -> None:
    """Log an event, then raise: the failure path must detach the task's context too."""
    log.info("task.failing", label=label)
    msg = "task failed on purpose"
    raise RuntimeError(msg)


def enqueue(request: HttpRequest, organisation_pk: int) -> JsonResponse:
    """Bind an application id, then enqueue ``tests.record`` (or ``tests.fail``)."""
    otel_context.bind(order__id=request.GET.get("order"))
    task = fail if request.GET.get("fail") else record
    result = task.delay(request.GET.get("label", ""))
    log.info("view.enqueued", task_id=result.id)
    return JsonResponse({"task_id": result.id, "identifiers": otel_context.get_identifiers()})


urlpatterns = [path("orgs/<int:organisation_pk>/enqueue/", enqueue)]


# ---------------------------------------------------------------- worker set-up
@signals.setup_logging.connect
def _setup_logging(**kwargs: Any) -> None:
    """Celery's own records (received, succeeded, failed) as JSON lines with the ids."""
    handler = logging.StreamHandler(open_line_file(os.environ["OTEL_CONTEXT_TEST_LOG_FILE"]))  # type: ignore[arg-type]
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(),
            ],
            foreign_pre_chain=[
                structlog.stdlib.add_logger_name,
                otel_context.StructlogOTelProcessor(),
            ],
        )
    )
    logging.basicConfig(handlers=[handler], level=logging.INFO, force=True)


@signals.worker_init.connect
def _setup_worker(**kwargs: Any) -> None:
    """Tracing to a JSON-lines file, structlog to the log file, then otel_context."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

    import otel_context.celery

    provider = TracerProvider()
    exporter = ConsoleSpanExporter(  # one JSON line per span, written in one call
        out=open_line_file(os.environ["OTEL_CONTEXT_TEST_SPAN_FILE"]),  # type: ignore[arg-type]
        formatter=lambda span: span.to_json(indent=None) + "\n",
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    structlog.configure(
        processors=[
            otel_context.LogSamplingProcessor(),  # off unless OTEL_CONTEXT_UNSAMPLED_LOG_RATIO
            structlog.stdlib.add_log_level,
            otel_context.StructlogOTelProcessor(),
            # holds nothing unless OTEL_CONTEXT_HOLD_LINES (tests/integration/test_celery_held.py)
            otel_context.FlightRecorder(structlog.processors.JSONRenderer()),
        ],
        logger_factory=structlog.WriteLoggerFactory(
            file=open_line_file(os.environ["OTEL_CONTEXT_TEST_LOG_FILE"])  # type: ignore[arg-type]
        ),
    )
    otel_context.celery.instrument()
    # Connected after otel_context's handlers, so it runs once the task's context is gone.
    signals.task_postrun.connect(_after_task, weak=False)


@signals.worker_ready.connect
def _worker_ready(**kwargs: Any) -> None:
    log.info("worker.ready")


def _after_task(**kwargs: Any) -> None:
    log.info("worker.between_tasks")
