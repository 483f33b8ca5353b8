"""Records exported after their request ended keep the request's trace ids and identifiers.

Since SDK 1.44 ``BatchLogRecordProcessor`` drops a record's context before buffering it
(opentelemetry-python #4977) and a ``Context`` can no longer be changed in place (#5399): a
record must carry everything it needs from the moment it is emitted. Real Django requests
through DjangoInstrumentor, the SDK's batch processor and OTLP/HTTP exporter, a real receiver;
the export happens once both requests are over (held in the batch, or held by a slow exporter).
Run on the newest matrix cell too: ``nox -s py313-django61-otel-newest -- <this file>``.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import pytest
import structlog
from django.test import Client
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, LogRecordExportResult

from otel_context import StructlogOTelProcessor
from otel_context.log_records import StructlogOTelLogProcessor
from tests.otlp_receiver import http_receiver

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from opentelemetry.sdk.trace import TracerProvider

    from tests.otlp_receiver import Received

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

REQUESTS = {  # correlation id -> (path, organisation.id, project.id)
    "req-one": ("/orgs/7/projects/p-1/", "7", "p-1"),
    "req-two": ("/orgs/8/projects/p-2/", "8", "p-2"),
}


class HeldExporter(OTLPLogExporter):
    """The real OTLP/HTTP exporter, made slow: each export waits until ``release`` is set."""

    def __init__(self, endpoint: str) -> None:
        super().__init__(endpoint=endpoint)
        self.entered = threading.Event()
        self.release = threading.Event()

    def export(self, batch: Sequence[Any]) -> LogRecordExportResult:
        self.entered.set()
        self.release.wait(10)
        return super().export(batch)


@pytest.fixture
def receiver() -> Iterator[tuple[str, Received]]:
    with http_receiver() as (url, received):
        yield url, received


def configure_structlog(provider: LoggerProvider) -> None:
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            StructlogOTelProcessor(),
            StructlogOTelLogProcessor(provider),
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.ReturnLoggerFactory(),
        cache_logger_on_first_use=False,
    )


def serve(correlation_id: str) -> None:
    path = REQUESTS[correlation_id][0]
    response = Client().get(path, headers={"Correlation-Id": correlation_id})
    assert response.status_code == 200


def assert_each_record_is_its_requests(received: Received, tracer: TracerProvider) -> None:
    """Two records per request (view.start, service.called), each with its request's ids."""
    spans = tracer.exporter.get_finished_spans()  # type: ignore[attr-defined]
    servers = {
        span.attributes["correlation.id"]: span for span in spans if span.kind.name == "SERVER"
    }
    assert set(servers) == set(REQUESTS)
    assert received.wait_for(lambda r: len(r.logs) == 4)
    for record in received.logs:
        correlation_id = record.attributes["correlation.id"]
        _, organisation, project = REQUESTS[str(correlation_id)]
        context = servers[correlation_id].get_span_context()
        assert (record.trace_id, record.span_id) == (
            f"{context.trace_id:032x}",
            f"{context.span_id:016x}",
        ), record
        assert record.attributes["organisation.id"] == organisation  # a string: one type
        assert record.attributes["project.id"] == project
    assert sorted(str(record.body) for record in received.logs) == [
        "service.called",
        "service.called",
        "view.start",
        "view.start",
    ]


@pytest.mark.usefixtures("instrumented")
class TestExportedAfterTheRequest:
    def test_held_in_the_batch_until_both_requests_ended(
        self, receiver: tuple[str, Received], instrumented: TracerProvider
    ) -> None:
        url, received = receiver
        provider = LoggerProvider(shutdown_on_exit=False)
        exporter = OTLPLogExporter(endpoint=f"{url}/v1/logs")
        provider.add_log_record_processor(
            BatchLogRecordProcessor(exporter, schedule_delay_millis=60_000)
        )
        configure_structlog(provider)
        try:
            serve("req-one")
            serve("req-two")
            assert received.logs == []  # still buffered: both requests are over
            assert provider.force_flush(10_000)
        finally:
            provider.shutdown()
            structlog.reset_defaults()
        assert_each_record_is_its_requests(received, instrumented)

    def test_a_slow_exporter_sends_them_after_the_next_request(
        self, receiver: tuple[str, Received], instrumented: TracerProvider
    ) -> None:
        url, received = receiver
        provider = LoggerProvider(shutdown_on_exit=False)
        exporter = HeldExporter(f"{url}/v1/logs")
        provider.add_log_record_processor(
            BatchLogRecordProcessor(exporter, schedule_delay_millis=20)
        )
        configure_structlog(provider)
        try:
            serve("req-one")
            assert exporter.entered.wait(10)  # the export thread holds req-one's records
            serve("req-two")  # ...while another request runs with other ids
            assert received.logs == []
            exporter.release.set()
            assert provider.force_flush(10_000)
        finally:
            exporter.release.set()
            provider.shutdown()
            structlog.reset_defaults()
        assert_each_record_is_its_requests(received, instrumented)
