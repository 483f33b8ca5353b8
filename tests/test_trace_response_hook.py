"""TRACE_RESPONSE_HEADER wires the trace id into responses through the Django hook."""

from __future__ import annotations

import pytest
from django.test import Client
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("instrumented")]


class TestTraceResponseSetting:
    def test_off_by_default(self) -> None:
        """No traceresponse header unless configured."""
        assert "traceresponse" not in Client().get("/plain/")

    def test_w3c_traceresponse(
        self, settings: pytest.FixtureRequest, exporter: InMemorySpanExporter
    ) -> None:
        """'traceresponse' gives the W3C Trace Context level 2 header for the server span."""
        settings.OTEL_CONTEXT = {"TRACE_RESPONSE_HEADER": "traceresponse"}  # type: ignore[attr-defined]
        response = Client(raise_request_exception=False).get("/raises/")
        (span,) = exporter.get_finished_spans()
        version, trace_id, span_id, _ = response["traceresponse"].split("-")
        assert (version, trace_id, span_id) == (
            "00",
            f"{span.context.trace_id:032x}",
            f"{span.context.span_id:016x}",
        )

    def test_custom_header_carries_the_bare_trace_id(
        self, settings: pytest.FixtureRequest, exporter: InMemorySpanExporter
    ) -> None:
        """Any other name gets the trace id alone, for support tickets."""
        settings.OTEL_CONTEXT = {"TRACE_RESPONSE_HEADER": "X-Trace-Id"}  # type: ignore[attr-defined]
        response = Client().get("/plain/")
        (span,) = exporter.get_finished_spans()
        assert response["X-Trace-Id"] == f"{span.context.trace_id:032x}"
