"""The framework-agnostic request lifecycle: what happens to the span at the response."""

from __future__ import annotations

import pytest
from opentelemetry import trace

from otel_context.request import settle_span
from otel_context.scope import RequestScope


class TestSettleSpan:
    def test_bound_ids_win_over_attributes_the_app_set(self, tracer: trace.Tracer) -> None:
        """organisation.id set by the app (an int, another value) is written back as bound."""
        with tracer.start_as_current_span("req") as span:
            scope = RequestScope(span)
            scope.bind({"organisation.id": 8, "user.id": "u"})
            span.set_attribute("organisation.id", 7)
            settle_span(scope)
        assert dict(span.attributes or {}) == {"organisation.id": "8", "user.id": "u"}

    def test_unbound_identifier_attributes_become_strings(self, tracer: trace.Tracer) -> None:
        """An identifier key nothing bound keeps the app's value, as a string; others stay."""
        with tracer.start_as_current_span("req") as span:
            scope = RequestScope(span)
            scope.keys = frozenset({"tenant.id", "project.id"})
            span.set_attributes({"tenant.id": 3, "http.status_code": 200, "project.id": "p"})
            settle_span(scope)
        assert dict(span.attributes or {}) == {
            "tenant.id": "3",
            "http.status_code": 200,
            "project.id": "p",
        }

    def test_span_attributes_off_or_span_not_recording(self, tracer: trace.Tracer) -> None:
        """SPAN_ATTRIBUTES off, an ended span or no span: the span is left alone."""
        with tracer.start_as_current_span("req") as span:
            scope = RequestScope(span, span_attributes=False)
            scope.bind({"user.id": "1"})
            span.set_attribute("user.id", 2)
            settle_span(scope)
        assert dict(span.attributes or {}) == {"user.id": 2}
        settle_span(RequestScope(span))  # ended: no warning, no change
        settle_span(RequestScope())
        assert dict(span.attributes or {}) == {"user.id": 2}

    def test_never_raises(self, tracer: trace.Tracer, caplog: pytest.LogCaptureFixture) -> None:
        """A span whose set_attribute raises: logged, not raised into the response."""

        class Broken(trace.NonRecordingSpan):
            attributes = {"user.id": 5}  # noqa: RUF012

            def is_recording(self) -> bool:
                return True

            def set_attribute(self, key: str, value: object) -> None:
                raise RuntimeError

        scope = RequestScope(Broken(trace.INVALID_SPAN_CONTEXT), span_attributes=True)
        scope.span_attributes = False
        scope.bind({"user.id": "1"})
        scope.span_attributes = True
        settle_span(scope)
        assert "settling the span's identifier attributes failed" in caplog.text
