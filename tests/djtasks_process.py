"""The two processes of the django.tasks integration test: a producer and a real worker.

``python -m tests.djtasks_process worker [db_worker options]`` runs django-tasks-db's
``db_worker`` command; ``python -m tests.djtasks_process produce ANSWERS`` sends the
requests (Django's test client, through the real DjangoInstrumentor middleware) whose views
enqueue, plus one enqueue outside any request, and writes the answers to ``ANSWERS``;
``produce-traced ANSWERS TRACEPARENTS`` sends one request per label of the JSON object
``TRACEPARENTS``, each continuing that ``traceparent``. With ``OTEL_CONTEXT_UNSAMPLED_LOG_RATIO``
set, both put ``LogSamplingProcessor`` first in their structlog chain.

Both run with ``DJANGO_SETTINGS_MODULE=tests.djtasks_settings`` (Django 6.0+) and write
structlog and stdlib records as JSON lines to ``OTEL_CONTEXT_TEST_LOG_FILE`` and spans as
JSON lines to ``OTEL_CONTEXT_TEST_SPAN_FILE``. Tracing is set up before ``django.setup()``,
so DjangoInstrumentor (instrumented by otel_context's ``ready()``) uses this provider.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

import structlog
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

import otel_context
from example.linefiles import open_line_file

#: (label, organisation, fail): the requests the producer sends, in order.
CALLS = (("a", 1, False), ("b", 2, False), ("c", 3, True))
log = structlog.get_logger("tests.djtasks_process")


def setup_telemetry() -> TracerProvider:
    """Spans, structlog events and stdlib records to the files named in the environment."""
    provider = TracerProvider()
    exporter = ConsoleSpanExporter(  # one JSON line per span, written in one call
        out=open_line_file(os.environ["OTEL_CONTEXT_TEST_SPAN_FILE"]),  # type: ignore[arg-type]
        formatter=lambda span: span.to_json(indent=None) + "\n",
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    log_file = open_line_file(os.environ["OTEL_CONTEXT_TEST_LOG_FILE"])
    sampling = os.environ.get("OTEL_CONTEXT_UNSAMPLED_LOG_RATIO")
    structlog.configure(
        processors=[
            *([otel_context.LogSamplingProcessor()] if sampling else []),
            structlog.stdlib.add_log_level,
            otel_context.StructlogOTelProcessor(),
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.WriteLoggerFactory(file=log_file),  # type: ignore[arg-type]
    )
    handler = logging.StreamHandler(log_file)  # type: ignore[arg-type]
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
    return provider


def produce(answers: Path) -> None:
    """Three requests that enqueue (the third task fails), then an enqueue outside them."""
    from django.test import Client

    from tests import djtasks_app

    client, result = Client(), {}
    for label, organisation, fail in CALLS:
        response = client.get(
            f"/orgs/{organisation}/enqueue/",
            {"label": label, "order": f"order-{label}", **({"fail": "1"} if fail else {})},
            headers={"Correlation-Id": f"req-{label}", "X-Tenant": f"tenant-{label}"},
        )
        result[label] = response.json()
    bare = djtasks_app.record.enqueue("bare")
    result["bare"] = {"task_id": bare.id, "kwargs": bare.kwargs}
    answers.write_text(json.dumps(result))


def produce_traced(answers: Path, traceparents: dict[str, str]) -> None:
    """One request per label, continuing its ``traceparent``; each view enqueues ``record``."""
    from django.test import Client

    client, result = Client(), {}
    for label, traceparent in traceparents.items():
        response = client.get(
            "/orgs/1/enqueue/", {"label": label}, headers={"traceparent": traceparent}
        )
        result[label] = response.json()
    answers.write_text(json.dumps(result))


def work(arguments: list[str]) -> None:
    """django-tasks-db's worker, logging ``worker.between_tasks`` after each task's context."""
    from django.core.management import call_command
    from django.tasks.signals import task_finished

    def between(**kwargs: Any) -> None:
        log.info("worker.between_tasks")

    task_finished.connect(between, weak=False)
    call_command("db_worker", *arguments)


def main(argv: list[str]) -> None:
    """Set up telemetry and Django, then run the role named by ``argv[0]``."""
    import django

    provider = setup_telemetry()
    django.setup()
    try:
        if argv[0] == "produce":
            produce(Path(argv[1]))
        elif argv[0] == "produce-traced":
            produce_traced(Path(argv[1]), json.loads(argv[2]))
        else:
            work(argv[1:])
    finally:
        provider.shutdown()


if __name__ == "__main__":
    main(sys.argv[1:])
