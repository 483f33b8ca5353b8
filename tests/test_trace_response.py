"""add_trace_response_header: the trace id on the response for support requests."""

from __future__ import annotations

import re

from django.http import HttpResponse
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider, sampling

from otel_context.django.trace_response import add_trace_response_header, trace_response_value

W3C = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


class TestTraceResponseValue:
    def test_w3c_format(self, tracer: trace.Tracer) -> None:
        """traceresponse: version 00, the trace id, the server span's id, its trace flags."""
        with tracer.start_as_current_span("req") as span:
            value = trace_response_value(span)
        ctx = span.get_span_context()
        assert value == f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{ctx.trace_flags:02x}"
        assert int(value[-2:], 16) & 0x01  # sampled (0x02, Level 2's "random", may be set too)

    def test_unsampled_flag(self) -> None:
        """A sampled-out span still has valid ids; its sampled flag is clear."""
        provider = TracerProvider(sampler=sampling.ALWAYS_OFF, shutdown_on_exit=False)
        with provider.get_tracer("t").start_as_current_span("req") as span:
            value = trace_response_value(span)
        assert value is not None
        assert W3C.match(value)
        assert not int(value[-2:], 16) & 0x01

    def test_other_header_gets_the_bare_trace_id(self, tracer: trace.Tracer) -> None:
        """Any other header name: the 32-hex trace id a person can read out."""
        with tracer.start_as_current_span("req") as span:
            value = trace_response_value(span, "X-Trace-Id")
        assert value == f"{span.get_span_context().trace_id:032x}"

    def test_header_name_is_case_insensitive(self, tracer: trace.Tracer) -> None:
        """TraceResponse is the W3C header too."""
        with tracer.start_as_current_span("req") as span:
            value = trace_response_value(span, "TraceResponse")
        assert value is not None
        assert W3C.match(value)

    def test_invalid_span(self) -> None:
        """No valid span context (tracing off, excluded URL): no value."""
        assert trace_response_value(trace.INVALID_SPAN) is None


class TestAddTraceResponseHeader:
    def test_sets_and_exposes_the_header(self, tracer: trace.Tracer) -> None:
        """The header is set and listed in Access-Control-Expose-Headers for browsers."""
        response = HttpResponse("ok")
        with tracer.start_as_current_span("req") as span:
            assert add_trace_response_header(span, response)
        assert W3C.match(response["traceresponse"])
        assert response["Access-Control-Expose-Headers"] == "traceresponse"

    def test_keeps_exposed_headers_already_there(self, tracer: trace.Tracer) -> None:
        """Existing exposed headers stay; the name is not listed twice."""
        response = HttpResponse("ok")
        response["Access-Control-Expose-Headers"] = "X-Request-ID, X-Trace-Id"
        with tracer.start_as_current_span("req") as span:
            add_trace_response_header(span, response, "x-trace-id")
        assert response["Access-Control-Expose-Headers"] == "X-Request-ID, X-Trace-Id"
        assert response["X-Trace-Id"] == f"{span.get_span_context().trace_id:032x}"

    def test_appends_to_exposed_headers(self, tracer: trace.Tracer) -> None:
        """A new name is appended to the existing list."""
        response = HttpResponse("ok")
        response["Access-Control-Expose-Headers"] = "X-Request-ID"
        with tracer.start_as_current_span("req") as span:
            add_trace_response_header(span, response)
        assert response["Access-Control-Expose-Headers"] == "X-Request-ID, traceresponse"

    def test_nothing_for_an_invalid_span(self) -> None:
        """An invalid span adds no header at all."""
        response = HttpResponse("ok")
        assert not add_trace_response_header(trace.INVALID_SPAN, response)
        assert not response.has_header("traceresponse")
        assert not response.has_header("Access-Control-Expose-Headers")

    def test_a_header_the_app_set_is_left_as_it_is(self, tracer: trace.Tracer) -> None:
        """The app's own traceresponse (any case) stays, and CORS exposure is not touched."""
        response = HttpResponse("ok")
        response["TraceResponse"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        with tracer.start_as_current_span("req") as span:
            assert not add_trace_response_header(span, response)
        assert (
            response["traceresponse"] == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        )
        assert not response.has_header("Access-Control-Expose-Headers")
