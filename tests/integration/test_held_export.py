"""Held lines of real Django requests, exported over OTLP/HTTP to a real receiver (issue 24).

``HOLD_LINES`` on, ``UNSAMPLED_LOG_RATIO`` 0: a sampled-out request that fails has its held
lines written and exported once, marked ``log.held``, with the request's trace and span ids,
identifiers and their own timestamps, although the SDK's batch processor exports them after
the request ended (it keeps no context since 1.44). A sampled-out request that went fine
exports none of its chatter; a sampled request exports everything as it comes, unmarked.
"""

from __future__ import annotations

import secrets
import time
from typing import TYPE_CHECKING

import pytest
import structlog
from django.test import Client
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

from otel_context import (
    FlightRecorder,
    LogSamplingProcessor,
    StructlogOTelLogProcessor,
    StructlogOTelProcessor,
    conf,
)
from tests.otlp_receiver import http_receiver

if TYPE_CHECKING:
    from collections.abc import Iterator

    from opentelemetry.sdk.trace import TracerProvider

    from tests.otlp_receiver import Received, ReceivedLog

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

#: correlation id -> (path, sampled, status)
REQUESTS = {
    "held-fails": ("/raises/", False, 500),
    "held-fine": ("/plain/", False, 200),
    "sampled": ("/plain/", True, 200),
}


@pytest.fixture
def receiver() -> Iterator[tuple[str, Received]]:
    with http_receiver() as (url, received):
        yield url, received


@pytest.fixture
def log_provider(receiver: tuple[str, Received]) -> Iterator[LoggerProvider]:
    """The SDK's batch processor and OTLP/HTTP exporter, flushed only when the test says."""
    provider = LoggerProvider(shutdown_on_exit=False)
    exporter = OTLPLogExporter(endpoint=f"{receiver[0]}/v1/logs")
    provider.add_log_record_processor(
        BatchLogRecordProcessor(exporter, schedule_delay_millis=60_000)
    )
    conf.configure(hold_lines=True, unsampled_log_ratio=0, hold_slow_ms=0)
    structlog.configure(
        processors=[
            LogSamplingProcessor(),
            structlog.processors.add_log_level,
            StructlogOTelProcessor(),
            StructlogOTelLogProcessor(provider),
            structlog.processors.TimeStamper(fmt="iso"),
            FlightRecorder(structlog.processors.JSONRenderer()),
        ],
        logger_factory=structlog.ReturnLoggerFactory(),
        cache_logger_on_first_use=False,
    )
    yield provider
    structlog.reset_defaults()
    provider.shutdown()


def serve(correlation_id: str) -> tuple[str, int, int]:
    """Send the request; its trace id (from its ``traceparent``), start and end times (ns)."""
    path, sampled, status = REQUESTS[correlation_id]
    trace_id = secrets.token_hex(16)
    headers = {
        "Correlation-Id": correlation_id,
        "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-0{int(sampled)}",
    }
    started = time.time_ns()
    response = Client(raise_request_exception=False).get(path, headers=headers)
    assert response.status_code == status
    return trace_id, started, time.time_ns()


@pytest.mark.usefixtures("instrumented")
def test_held_lines_are_exported_once_with_their_request(
    receiver: tuple[str, Received], log_provider: LoggerProvider, instrumented: TracerProvider
) -> None:
    """Which records arrive, marked or not, with which trace, ids and times."""
    sent = {correlation_id: serve(correlation_id) for correlation_id in REQUESTS}
    assert receiver[1].logs == []  # nothing exported yet: every request is over
    assert log_provider.force_flush(10_000)
    received = receiver[1]
    assert received.wait_for(lambda r: len(r.logs) >= 3)
    by_request: dict[str, list[ReceivedLog]] = {}
    for record in received.logs:
        by_request.setdefault(str(record.attributes.get("correlation.id")), []).append(record)

    held = [r for r in by_request["held-fails"] if r.body == "view.before_raise"]
    assert len(held) == 1, by_request["held-fails"]
    record = held[0]
    assert record.attributes["log.held"] is True
    trace_id, started, ended = sent["held-fails"]
    assert record.trace_id == trace_id
    assert record.span_id != "0" * 16
    assert started < record.time_unix_nano < ended
    spans = instrumented.exporter.get_finished_spans()  # type: ignore[attr-defined]
    exported = {f"{span.context.trace_id:032x}": span for span in spans}
    assert trace_id not in exported  # sampled out: its span is not exported, its lines are

    fine = [str(r.body) for r in by_request.get("held-fine", [])]
    assert not {"view.start", "service.called"} & set(fine)  # dropped, with their records
    sampled = by_request["sampled"]
    assert sorted(str(r.body) for r in sampled) == ["service.called", "view.start"]
    assert all("log.held" not in r.attributes for r in sampled)
    server = exported[sent["sampled"][0]]
    assert {r.span_id for r in sampled} == {f"{server.context.span_id:016x}"}
