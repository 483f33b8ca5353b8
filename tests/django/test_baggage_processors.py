"""opentelemetry-processor-baggage beside otel_context: what a client's baggage reaches.

``BaggageSpanProcessor`` and ``BaggageLogProcessor`` with ``ALLOW_ALL_BAGGAGE_KEYS`` on the
providers a real Django request (DjangoInstrumentor, otel_context's hooks) uses. The server
span starts in the context otel_context's propagator extracted, already filtered: no span and
no record gets a client's key. W005 is left for a global propagator that is not ours.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from asgiref.sync import async_to_sync
from django.core import checks as django_checks
from django.test import AsyncClient, Client
from opentelemetry import propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_context import IdentifierPropagator, StructlogOTelLogProcessor, StructlogOTelProcessor
from otel_context._baggage_processors import copied_keys, extracted_keys
from otel_context.django.checks import check_baggage_span_processor
from otel_context.request import DROPPED_ATTRIBUTE
from tests._packages import require

processors: Any = require("opentelemetry-processor-baggage", "opentelemetry.processor.baggage")
log_export: Any = require("opentelemetry-sdk", "opentelemetry.sdk._logs.export")

pytestmark = [pytest.mark.django_db]
SPOOF = "user.id=666,organisation.id=666,correlation.id=spoofed,colour=blue"


def _memory_log_exporter() -> Any:
    kind = getattr(log_export, "InMemoryLogRecordExporter", None) or log_export.InMemoryLogExporter
    return kind()


@pytest.fixture
def logs(instrumented: TracerProvider) -> Iterator[Any]:
    """BaggageSpanProcessor on the request's provider, BaggageLogProcessor on a log provider."""
    instrumented.add_span_processor(
        processors.BaggageSpanProcessor(processors.ALLOW_ALL_BAGGAGE_KEYS)
    )
    exporter = _memory_log_exporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(
        processors.BaggageLogProcessor(processors.ALLOW_ALL_BAGGAGE_KEYS)
    )
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    structlog.configure(
        processors=[
            StructlogOTelProcessor(),
            StructlogOTelLogProcessor(logger_provider=provider),
            structlog.testing.LogCapture(),
        ],
        cache_logger_on_first_use=False,
    )
    yield exporter
    structlog.reset_defaults()
    provider.shutdown()


def _record_attributes(exporter: Any) -> list[dict[str, Any]]:
    finished = exporter.get_finished_logs()
    return [dict(getattr(item, "log_record", item).attributes or {}) for item in finished]


class TestAllowAllBaggageProcessors:
    def test_log_records_and_child_spans_never_get_a_client_id(
        self, logs: Any, exporter: InMemorySpanExporter
    ) -> None:
        """Records and the child span: the server's ids, no client key at all."""
        response = Client().get("/child/", headers={"baggage": SPOOF})
        assert response.status_code == 200
        records = _record_attributes(logs)
        assert len(records) == 2
        for attributes in records:
            assert attributes.get("user.id") is None
            assert attributes.get("organisation.id") is None
            assert attributes["correlation.id"] != "spoofed"
            assert "colour" not in attributes
        child = next(s for s in exporter.get_finished_spans() if s.name == "child")
        assert dict(child.attributes or {}).get("user.id") is None
        assert "colour" not in dict(child.attributes or {})

    def test_the_server_span_starts_without_them(
        self, logs: Any, exporter: InMemorySpanExporter, instrumented: TracerProvider
    ) -> None:
        """The server span's parent context was filtered at extract: no client key on it."""
        Client().get("/child/", headers={"baggage": SPOOF})
        server = next(s for s in exporter.get_finished_spans() if s.kind == trace.SpanKind.SERVER)
        attributes = dict(server.attributes or {})
        assert attributes.get("user.id") is None  # the hole W005 used to warn about: closed
        assert attributes.get("organisation.id") is None
        assert "colour" not in attributes  # not in INBOUND_BAGGAGE_ALLOW
        assert attributes["correlation.id"] != "spoofed"
        assert attributes[DROPPED_ATTRIBUTE] == 4  # counted as before, by the request hook
        assert copied_keys(["user.id", "colour"], instrumented) == ["colour", "user.id"]
        assert extracted_keys(["user.id", "colour"]) == []
        assert check_baggage_span_processor() == []

    def test_under_asgi_too(self, logs: Any, exporter: InMemorySpanExporter) -> None:
        """Through Django's ASGI handler (the scope as carrier): the same, nothing copied."""
        async_to_sync(AsyncClient().get)("/child/", headers={"baggage": SPOOF})
        server = next(s for s in exporter.get_finished_spans() if s.kind == trace.SpanKind.SERVER)
        attributes = dict(server.attributes or {})
        assert attributes.get("user.id") is None
        assert "colour" not in attributes
        assert attributes[DROPPED_ATTRIBUTE] == 4
        for record in _record_attributes(logs):
            assert record.get("user.id") is None
            assert "colour" not in record


class TestW005:
    def test_warns_when_a_foreign_propagator_lets_them_in(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Allow-all span processor, and a global propagator set over ours: one warning."""
        monkeypatch.setattr(propagate, "get_global_textmap", W3CBaggagePropagator)
        provider = TracerProvider()
        provider.add_span_processor(
            processors.BaggageSpanProcessor(processors.ALLOW_ALL_BAGGAGE_KEYS)
        )
        monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
        (message,) = check_baggage_span_processor()
        assert message.id == "otel_context.W005"
        assert isinstance(message, django_checks.Warning)
        assert "organisation.id, project.id" in message.msg
        assert "user.id" in message.msg.split(")")[0]
        provider.shutdown()

    def test_silent_with_allow_all_behind_otel_context_s_propagator(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Our propagator holds server-owned keys back at extract: nothing left to warn about."""
        provider = TracerProvider()
        provider.add_span_processor(
            processors.BaggageSpanProcessor(processors.ALLOW_ALL_BAGGAGE_KEYS)
        )
        monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
        wrapped = IdentifierPropagator(W3CBaggagePropagator())
        monkeypatch.setattr(propagate, "get_global_textmap", lambda: wrapped)
        assert check_baggage_span_processor() == []
        provider.shutdown()

    def test_silent_with_a_predicate_that_refuses_identifiers(
        self, monkeypatch: pytest.MonkeyPatch, exporter: InMemorySpanExporter
    ) -> None:
        """A predicate for the app's own keys only: no warning, and the probe is never exported."""
        provider = TracerProvider()
        provider.add_span_processor(processors.BaggageSpanProcessor(lambda key: key == "colour"))
        provider.add_span_processor(SimpleSpanProcessor(exporter))  # what an exporter would see
        monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
        assert check_baggage_span_processor() == []
        assert exporter.get_finished_spans() == ()
        provider.shutdown()
