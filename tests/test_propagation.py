"""Outgoing baggage: late identifiers travel, only to our own hosts; the safer W3C codec."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from opentelemetry import baggage, propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from otel_context import IdentifierPropagator, conf
from otel_context._baggage_limits import cut_count
from otel_context._inbound_gate import inbound_entries
from otel_context.propagation import (
    SafeBaggagePropagator,
    encode_baggage,
    install_propagator,
    parse_baggage,
)
from otel_context.scope import RequestScope, scoped

IDS = {"user.id": "42", "correlation.id": "c-1"}


@pytest.fixture
def propagator() -> IdentifierPropagator:
    inner = CompositePropagator([TraceContextTextMapPropagator(), SafeBaggagePropagator()])
    return IdentifierPropagator(inner)


@pytest.fixture
def global_textmap() -> Iterator[None]:
    before = propagate.get_global_textmap()
    yield
    propagate.set_global_textmap(before)


@contextmanager
def outgoing_call(tracer: trace.Tracer, url: str | None) -> Iterator[trace.Span]:
    """A request scope with IDS, and inside it the client span an HTTP instrumentation makes."""
    attributes = {} if url is None else {"url.full": url}
    with tracer.start_as_current_span("req") as span, scoped(RequestScope(span)) as scope:
        scope.bind(IDS)  # bound late: not in the OTel baggage object, only in the scope
        with tracer.start_as_current_span("GET", kind=trace.SpanKind.CLIENT, attributes=attributes):
            yield span


def _baggage(headers: dict[str, str]) -> set[str]:
    return set(headers["baggage"].split(",")) if "baggage" in headers else set()


class TestOutboundPolicy:
    @pytest.mark.parametrize(
        "url",
        [
            "http://flags-api:8000/x",
            "http://127.0.0.1:9/x",
            "http://localhost/x",
            "https://billing.prod.internal/x",
            "http://svc.ns.svc.cluster.local/x",
        ],
    )
    def test_our_hosts_get_the_late_identifiers(
        self, propagator: IdentifierPropagator, tracer: trace.Tracer, url: str
    ) -> None:
        """Default hosts: single-label, loopback, *.internal, cluster-local."""
        headers: dict[str, str] = {}
        with outgoing_call(tracer, url):
            propagator.inject(headers)
        assert _baggage(headers) == {"user.id=42", "correlation.id=c-1"}

    @pytest.mark.parametrize(
        "url", ["https://api.stripe.com/v1", "http://10.0.0.5/", "https://internal.evil.com/"]
    )
    def test_third_parties_get_traceparent_but_no_baggage(
        self, propagator: IdentifierPropagator, tracer: trace.Tracer, url: str
    ) -> None:
        """Other hosts: no identifiers, no baggage at all; trace context still goes."""
        headers: dict[str, str] = {}
        with tracer.start_as_current_span("req") as span, scoped(RequestScope(span), **IDS):
            ctx = baggage.set_baggage("amplitude.device_id", "d")
            with tracer.start_as_current_span("GET", ctx, attributes={"url.full": url}) as client:
                propagator.inject(headers)
        assert "baggage" not in headers
        assert "Correlation-Id" not in headers
        assert headers["traceparent"].split("-")[1] == f"{client.get_span_context().trace_id:032x}"

    def test_unknown_destination_fails_closed(
        self, propagator: IdentifierPropagator, tracer: trace.Tracer
    ) -> None:
        """No URL on the current span (sampled out, not HTTP): no baggage unless opted in."""
        headers: dict[str, str] = {}
        with outgoing_call(tracer, None):
            propagator.inject(headers)
        assert "baggage" not in headers
        conf.configure(outbound_baggage_to_unknown=True)
        with outgoing_call(tracer, None):
            propagator.inject(headers)
        assert _baggage(headers) == {"user.id=42", "correlation.id=c-1"}

    def test_configured_hosts_and_keys(
        self, propagator: IdentifierPropagator, tracer: trace.Tracer
    ) -> None:
        """OUTBOUND_BAGGAGE_HOSTS / _KEYS choose where and what."""
        conf.configure(
            outbound_baggage_hosts=["**.example.com"], outbound_baggage_keys=["correlation."]
        )
        headers: dict[str, str] = {}
        with outgoing_call(tracer, "https://a.b.example.com/"):
            propagator.inject(headers)
        assert _baggage(headers) == {"correlation.id=c-1"}

    def test_switched_off(self, propagator: IdentifierPropagator, tracer: trace.Tracer) -> None:
        """PROPAGATE_IDENTIFIERS=False keeps ids in the process; traceparent still goes."""
        conf.configure(propagate_identifiers=False)
        headers: dict[str, str] = {}
        with outgoing_call(tracer, "http://flags-api/"):
            propagator.inject(headers)
        assert "baggage" not in headers
        assert "traceparent" in headers

    def test_broken_policy_sends_no_baggage(
        self,
        propagator: IdentifierPropagator,
        tracer: trace.Tracer,
        monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """If the policy itself fails, inject fails closed and still sends traceparent."""

        def broken(*args: object) -> None:
            raise RuntimeError

        monkeypatch.setattr("otel_context.propagation.outbound_context", broken)
        headers: dict[str, str] = {}
        with outgoing_call(tracer, "http://flags-api/"):
            propagator.inject(headers)
        assert "baggage" not in headers
        assert "traceparent" in headers
        assert "outbound baggage policy failed" in caplog.text

    def test_outside_a_scope_nothing_is_added(self, propagator: IdentifierPropagator) -> None:
        """No scope, no span: nothing to inject."""
        headers: dict[str, str] = {}
        propagator.inject(headers)
        assert headers == {}

    def test_extract_and_fields_delegate(self, propagator: IdentifierPropagator) -> None:
        """extract() is the inner propagator's, gated (tests/test_inbound_gate.py); fields too."""
        assert propagator.fields == {"traceparent", "tracestate", "baggage"}
        assert inbound_entries(propagator.extract({"baggage": "a=b"})) == {"a": "b"}


class TestSafeBaggageCodec:
    def test_plus_is_not_a_space(self) -> None:
        """opentelemetry-python #5566: '+' in a value stays '+'."""
        assert parse_baggage("k=1+2,e=a%20b") == {"k": "1+2", "e": "a b"}
        ctx = SafeBaggagePropagator().extract({"baggage": "k=1+2"})
        assert baggage.get_all(ctx) == {"k": "1+2"}

    def test_round_trip(self) -> None:
        """What we encode, we (and the SDK's stricter reading) decode to the same value."""
        values = {"a": "1+2 3,;=%", "b": "ü"}
        header = encode_baggage(values)
        assert " " not in header
        assert "+" not in header
        assert parse_baggage(header) == values

    def test_invalid_members_skipped(self) -> None:
        """Bad names, bad characters and missing '=' are skipped; properties ignored."""
        assert parse_baggage('ok=1;prop=x, bad name=2,noequals,q="x",k2=v') == {
            "ok": "1",
            "k2": "v",
        }

    def test_limits(self) -> None:
        """Member count and length caps apply."""
        many = ",".join(f"k{i}=v" for i in range(1000))
        assert len(parse_baggage(many)) == 180
        assert parse_baggage("k=" + "v" * 5000) == {}
        assert len(encode_baggage({f"k{i}": "v" * 100 for i in range(200)})) <= 8192

    def test_oversized_member_cut_without_echo_and_trace_context_kept(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A 64 KB one-member header: no baggage, nothing logged, counted, traceparent read."""
        propagator = CompositePropagator([TraceContextTextMapPropagator(), SafeBaggagePropagator()])
        traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        with caplog.at_level(logging.DEBUG):
            ctx = propagator.extract(
                {"baggage": "k=" + "SECRET" * 11000, "traceparent": traceparent}
            )
        assert baggage.get_all(ctx) == {}
        assert (
            trace.get_current_span(ctx).get_span_context().trace_id
            == 0x4BF92F3577B34DA6A3CE929D0E0E4736
        )
        assert caplog.text == ""
        assert cut_count(ctx) == 1


class TestInstall:
    @pytest.mark.usefixtures("global_textmap")
    def test_wraps_once_and_swaps_in_the_safe_codec(self) -> None:
        """install_propagator() is idempotent and replaces the SDK's baggage propagator."""
        propagate.set_global_textmap(
            CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])
        )
        first = install_propagator()
        assert propagate.get_global_textmap() is first
        assert install_propagator() is first
        assert inbound_entries(first.extract({"baggage": "k=1+2"})) == {"k": "1+2"}

    @pytest.mark.usefixtures("global_textmap")
    def test_other_propagators_are_kept(self) -> None:
        """A propagator we don't know (a subclass of the SDK's too) is wrapped unchanged."""

        class OwnTraceContext(TraceContextTextMapPropagator):
            pass

        inner = OwnTraceContext()
        propagate.set_global_textmap(inner)
        assert install_propagator().inner is inner


class TestPolicyThroughTheRequestLifecycle:
    """Through request.begin(), as a real request: correlation.id sits in the OTel baggage too."""

    def _inject(self, propagator: IdentifierPropagator, tracer: trace.Tracer) -> dict[str, str]:
        from otel_context import request

        headers: dict[str, str] = {}
        with tracer.start_as_current_span("req") as span:
            begun = request.begin(span, {"Correlation-Id": "c-77"}.get, None, conf.get_config())
            try:
                begun.scope.bind({"user.id": "5"})
                attrs = {"url.full": "http://flags-api/"}
                with tracer.start_as_current_span("GET", attributes=attrs):
                    propagator.inject(headers)
            finally:
                request.end(begun)
        return headers

    def test_default_sends_correlation_and_user(
        self, propagator: IdentifierPropagator, tracer: trace.Tracer
    ) -> None:
        """Control: both identifiers go to our own host, the correlation id as a header too."""
        headers = self._inject(propagator, tracer)
        assert _baggage(headers) == {"correlation.id=c-77", "user.id=5"}
        assert headers["Correlation-Id"] == "c-77"

    def test_propagate_identifiers_off_keeps_correlation_id_home(
        self, propagator: IdentifierPropagator, tracer: trace.Tracer
    ) -> None:
        """PROPAGATE_IDENTIFIERS=False: no identifier leaves, not even correlation.id."""
        conf.configure(propagate_identifiers=False)
        headers = self._inject(propagator, tracer)
        assert "baggage" not in headers
        assert "Correlation-Id" not in headers

    def test_outbound_keys_apply_to_correlation_id_too(
        self, propagator: IdentifierPropagator, tracer: trace.Tracer
    ) -> None:
        """OUTBOUND_BAGGAGE_KEYS governs every key that leaves."""
        conf.configure(outbound_baggage_keys=["user."])
        assert _baggage(self._inject(propagator, tracer)) == {"user.id=5"}
