"""The framework-agnostic request lifecycle: what happens to the span at the response."""

from __future__ import annotations

from typing import Any, cast

import pytest
from opentelemetry import trace

from otel_context import conf
from otel_context.request import Request, settle_span
from otel_context.scope import RequestScope


class _OtherSdkSpan(trace.NonRecordingSpan):
    """A recording span of another SDK: public ``attributes`` (counted), no ``_attributes``."""

    def __init__(self, context: trace.SpanContext) -> None:
        super().__init__(context)
        self._values: dict[str, Any] = {}
        self.reads = 0

    @property
    def attributes(self) -> dict[str, Any]:
        self.reads += 1
        return self._values

    def is_recording(self) -> bool:
        return True

    def set_attribute(self, key: str, value: Any) -> None:
        self._values[key] = value

    def set_attributes(self, attributes: Any) -> None:
        self._values.update(attributes)


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

    def test_another_sdks_span_is_read_through_its_public_mapping(self) -> None:
        """A span without the SDK's private dict: its ``attributes`` mapping is read instead."""
        span = _OtherSdkSpan(trace.INVALID_SPAN_CONTEXT)
        span.set_attributes({"tenant.id": 3, "user.id": 4, "http.status_code": 200})
        scope = RequestScope(span)
        scope.keys = frozenset({"tenant.id"})
        scope.bind({"user.id": "u"})
        settle_span(scope)
        assert span.reads == 1
        assert span.attributes == {"tenant.id": "3", "user.id": "u", "http.status_code": 200}

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

    def test_a_request_scope_writes_its_ids_once_at_the_end(self, tracer: trace.Tracer) -> None:
        """``settle_at_end``: binds write nothing until settled, and write their own after."""
        with tracer.start_as_current_span("req") as span:
            scope = RequestScope(span, settle_at_end=True)
            scope.bind({"correlation.id": "c", "user.id": 1})
            assert dict(span.attributes or {}) == {}
            settle_span(scope)
            assert dict(span.attributes or {}) == {"correlation.id": "c", "user.id": "1"}
            scope.bind({"project.id": 4})  # a streamed body's bind, after the response
        assert dict(span.attributes or {}) == {
            "correlation.id": "c",
            "user.id": "1",
            "project.id": "4",
        }

    def test_never_raises(self, tracer: trace.Tracer, caplog: pytest.LogCaptureFixture) -> None:
        """A span whose set_attribute raises: logged, not raised into the response."""

        class Broken(trace.NonRecordingSpan):
            attributes = {"user.id": 5}  # noqa: RUF012

            def is_recording(self) -> bool:
                return True

            def set_attribute(self, key: str, value: object) -> None:
                raise RuntimeError

            def set_attributes(self, attributes: object) -> None:
                raise RuntimeError

        scope = RequestScope(Broken(trace.INVALID_SPAN_CONTEXT), span_attributes=True)
        scope.span_attributes = False
        scope.bind({"user.id": "1"})
        scope.span_attributes = True
        settle_span(scope)
        assert "settling the span's identifier attributes failed" in caplog.text


def _request(span: trace.Span, header: str | None = "X-Request-ID") -> Request:
    scope = RequestScope(span)
    return Request(scope, cast("Any", None), "abc-1", header)


class TestEcho:
    def test_echoed_when_the_response_has_no_such_header(self, tracer: trace.Tracer) -> None:
        """Nothing of the app's: the header the id came in, with the id."""
        with tracer.start_as_current_span("req") as span:
            echo = _request(span).echo(conf.build_config(setting={}, environ={}), _read, {})
        assert echo == ("X-Request-ID", "abc-1")
        assert "correlation.response_id" not in (span.attributes or {})

    @pytest.mark.parametrize(
        ("app_value", "recorded"),
        [
            ("app-7f3a", "app-7f3a"),
            ("abc-1", None),  # the same id: nothing to record
            ("x" * 129, None),  # too long for an id
            ("app id <b>", None),
            ("app-1\r\nSet-Cookie: a=b", None),
        ],
    )
    def test_the_apps_header_is_kept_and_only_a_valid_differing_id_recorded(
        self, tracer: trace.Tracer, app_value: str, recorded: str | None
    ) -> None:
        """The app's value wins; the span records it only if it passes inbound validation."""
        config = conf.build_config(setting={}, environ={})
        with tracer.start_as_current_span("req") as span:
            echo = _request(span).echo(config, _read, {"X-Request-ID": app_value})
        assert echo is None
        assert (span.attributes or {}).get("correlation.response_id") == recorded

    def test_span_attributes_off_records_nothing(self, tracer: trace.Tracer) -> None:
        """With SPAN_ATTRIBUTES off otel_context leaves the span alone."""
        config = conf.build_config(setting={}, environ={})
        with tracer.start_as_current_span("req") as span:
            request = _request(span)
            request.scope.span_attributes = False
            assert request.echo(config, _read, {"X-Request-ID": "app-2"}) is None
        assert not span.attributes


def _read(headers: dict[str, str], name: str) -> str | None:
    """A response's headers as ``Request.echo`` reads them."""
    return headers.get(name)
