"""The flight recorder through Django and the OTel middleware: 500s, streamed bodies, no leaks."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

import pytest
import structlog
from django.test import Client

from otel_context import (
    FlightRecorder,
    LogSamplingProcessor,
    StructlogOTelProcessor,
    flight_recorder,
)
from otel_context.scope import current_scope

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("instrumented")]
#: A sampled-out request (flags 00), whose trace the ratio 0 does not keep.
SAMPLED_OUT = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"}


@pytest.fixture
def lines(settings: Any) -> Iterator[list[dict[str, Any]]]:
    """HOLD_LINES on; structlog renders JSON lines into the returned list."""
    settings.OTEL_CONTEXT = {"UNSAMPLED_LOG_RATIO": 0, "HOLD_LINES": True, "HOLD_SLOW_MS": 0}
    written: list[dict[str, Any]] = []

    class Out:
        def msg(self, line: str) -> None:
            written.append(json.loads(line))

        info = warning = error = msg

    structlog.configure(
        processors=[
            LogSamplingProcessor(),
            structlog.processors.add_log_level,
            StructlogOTelProcessor(),
            FlightRecorder(structlog.processors.JSONRenderer()),
        ],
        logger_factory=lambda *args: Out(),
        cache_logger_on_first_use=False,
    )
    before = flight_recorder._process_bytes[0]
    yield written
    structlog.reset_defaults()
    assert flight_recorder._process_bytes[0] == before  # nothing left held
    assert current_scope() is None


def test_a_fine_request_drops_its_chatter(lines: list[dict[str, Any]]) -> None:
    """200 from a sampled-out request: its info line is neither written nor kept."""
    assert Client().get("/plain/", headers=SAMPLED_OUT).status_code == 200
    assert [line["event"] for line in lines] == []


def test_a_view_that_raises_writes_it(lines: list[dict[str, Any]]) -> None:
    """An unhandled exception (500): the line logged before it is written, marked held."""
    response = Client(raise_request_exception=False).get("/raises/", headers=SAMPLED_OUT)
    assert response.status_code == 500
    (line,) = lines
    assert (line["event"], line["log.held"]) == ("view.before_raise", True)
    assert line["log.held.written"] == "error"


def test_a_sampled_request_writes_as_it_goes(lines: list[dict[str, Any]]) -> None:
    """flags 01: nothing held, nothing marked."""
    sampled = {"traceparent": SAMPLED_OUT["traceparent"][:-2] + "01"}
    Client().get("/plain/", headers=sampled)
    assert [line["event"] for line in lines] == ["view.start", "service.called"]
    assert not any("log.held" in line for line in lines)


def test_a_streamed_body_is_decided_when_it_ends(settings: Any, lines: list[dict]) -> None:  # type: ignore[type-arg]
    """Lines logged while the body streams are held until it is done; slow: written."""
    settings.OTEL_CONTEXT = {**settings.OTEL_CONTEXT, "HOLD_SLOW_MS": 5}
    response = Client().get("/stream/", headers=SAMPLED_OUT)
    time.sleep(0.02)  # the request is slow because its body is
    assert b"".join(response.streaming_content).count(b"chunk") == 5  # type: ignore[arg-type]
    assert [line["index"] for line in lines] == [0, 1, 2, 3, 4]
    assert all(line["log.held"] for line in lines)
    assert {line["log.held.written"] for line in lines} == {"slow"}


def test_the_trace_follows_the_lines(
    lines: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With RecordSampledOut + KeepNotableTraces, the failed request's spans are kept, with why."""
    from opentelemetry.instrumentation.django.middleware.otel_middleware import _DjangoMiddleware
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased

    from otel_context.trace_keeping import KeepNotableTraces, RecordSampledOut

    provider = TracerProvider(
        sampler=RecordSampledOut(ParentBased(ALWAYS_ON)), shutdown_on_exit=False
    )
    kept = InMemorySpanExporter()
    keeper = KeepNotableTraces(kept, slow_ms=0)
    provider.add_span_processor(keeper)
    monkeypatch.setattr(_DjangoMiddleware, "_tracer", provider.get_tracer("django"))
    try:
        Client().get("/plain/", headers=SAMPLED_OUT)
        Client(raise_request_exception=False).get("/raises/", headers=SAMPLED_OUT)
        assert keeper.force_flush(5000)
    finally:
        provider.shutdown()
    (server,) = kept.get_finished_spans()
    assert server.attributes is not None
    status = server.attributes.get(
        "http.response.status_code", server.attributes.get("http.status_code")
    )
    assert status == 500
    assert server.attributes["log.held.written"] == "error"
    assert [line["event"] for line in lines] == ["view.before_raise"]
    assert lines[0]["log.held.written"] == server.attributes["log.held.written"]
