"""Flask beside BaggageSpanProcessor (allow-all): a client's baggage reaches no span."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from opentelemetry.trace import SpanKind

from tests._packages import require, skip_if_omitted

skip_if_omitted("opentelemetry-instrumentation-flask")
processors: Any = require("opentelemetry-processor-baggage", "opentelemetry.processor.baggage")

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from tests.flask.conftest import AppFactory

SPOOF = "user.id=42,organisation.id=7,colour=blue"


def test_the_server_span_starts_without_the_client_s_keys(
    make_app: AppFactory, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    """The WSGI middleware extracts through otel_context's propagator: nothing to copy."""
    provider.add_span_processor(processors.BaggageSpanProcessor(processors.ALLOW_ALL_BAGGAGE_KEYS))
    make_app().test_client().get("/plain", headers={"baggage": SPOOF})
    (span,) = [s for s in exporter.get_finished_spans() if s.kind is SpanKind.SERVER]
    attributes = dict(span.attributes or {})
    assert "user.id" not in attributes
    assert "organisation.id" not in attributes
    assert "colour" not in attributes  # not in INBOUND_BAGGAGE_ALLOW
