"""opentelemetry-processor-baggage beside otel_context: what a client's baggage reaches.

``BaggageSpanProcessor`` and ``BaggageLogProcessor`` with ``ALLOW_ALL_BAGGAGE_KEYS`` on the
providers a real Django request (DjangoInstrumentor, otel_context's hooks) uses. Log records
and child spans read the baggage otel_context filtered; the server span starts before the
filter and gets the client's keys: that is what W005 warns about.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from django.core import checks as django_checks
from django.test import Client
from opentelemetry import trace
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_context import StructlogOTelLogProcessor, StructlogOTelProcessor
from otel_context._baggage_processors import copied_keys
from otel_context.django.checks import check_baggage_span_processor
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

    def test_the_server_span_gets_them_at_start_and_w005_says_so(
        self, logs: Any, exporter: InMemorySpanExporter, instrumented: TracerProvider
    ) -> None:
        """The server span starts with the client's baggage as parent: the hole W005 names."""
        Client().get("/child/", headers={"baggage": SPOOF})
        server = next(s for s in exporter.get_finished_spans() if s.kind == trace.SpanKind.SERVER)
        attributes = dict(server.attributes or {})
        assert attributes["user.id"] == "666"  # copied at span start, before request_hook
        assert attributes["correlation.id"] != "spoofed"  # settle_span writes the bound id back
        assert copied_keys(["user.id", "colour"], instrumented) == ["colour", "user.id"]


class TestW005:
    def test_warns_with_an_allow_all_span_processor(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The global provider copies server-owned keys: one warning naming them."""
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
