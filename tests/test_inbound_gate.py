"""Inbound baggage is filtered at extract: a span processor never sees a client's identifiers."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from opentelemetry import baggage, trace
from opentelemetry.context import Context
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from otel_context import IdentifierPropagator, conf
from otel_context._inbound_gate import forget, gate, inbound_entries
from otel_context.propagation import SafeBaggagePropagator
from otel_context.request import DROPPED_ATTRIBUTE, begin, end
from tests._packages import require

processors: Any = require("opentelemetry-processor-baggage", "opentelemetry.processor.baggage")

SPOOF = "user.id=666,organisation.id=666,correlation.id=spoofed,colour=blue,flavour=plain"
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


@pytest.fixture
def propagator() -> IdentifierPropagator:
    inner = CompositePropagator([TraceContextTextMapPropagator(), SafeBaggagePropagator()])
    return IdentifierPropagator(inner)


def _extract(propagator: IdentifierPropagator, header: str = SPOOF) -> Context:
    return propagator.extract({"traceparent": TRACEPARENT, "baggage": header}, Context())


class TestGateAtExtract:
    def test_only_allowlisted_non_server_owned_keys_stay_in_baggage(
        self, propagator: IdentifierPropagator
    ) -> None:
        """Server-owned keys and unlisted keys are held back; an allowlisted key stays."""
        conf.configure(INBOUND_BAGGAGE_ALLOW=["colour"])
        context = _extract(propagator)
        assert dict(baggage.get_all(context)) == {"colour": "blue"}
        assert trace.get_current_span(context).get_span_context().trace_id  # trace unaffected

    def test_trusting_upstream_ids_does_not_let_them_into_baggage(
        self, propagator: IdentifierPropagator
    ) -> None:
        """The peer is unknown at extract: even with TRUST_UPSTREAM_IDENTIFIERS, none stays."""
        conf.configure(TRUST_UPSTREAM_IDENTIFIERS=True, INBOUND_BAGGAGE_ALLOW=["colour"])
        assert "user.id" not in baggage.get_all(_extract(propagator))

    def test_the_extracted_entries_are_kept_aside_for_the_request_hook(
        self, propagator: IdentifierPropagator
    ) -> None:
        """inbound_entries() gives the request hook every entry as extracted; forget() drops it."""
        context = _extract(propagator)
        assert inbound_entries(context) == dict(item.split("=") for item in SPOOF.split(","))
        assert dict(inbound_entries(forget(context))) == dict(baggage.get_all(context))

    def test_a_span_processor_copying_all_baggage_gets_no_client_key(
        self, propagator: IdentifierPropagator
    ) -> None:
        """BaggageSpanProcessor(ALLOW_ALL) on a span started in the extracted context."""
        provider = TracerProvider()
        provider.add_span_processor(
            processors.BaggageSpanProcessor(processors.ALLOW_ALL_BAGGAGE_KEYS)
        )
        span = provider.get_tracer("t").start_span("server", context=_extract(propagator))
        attributes = dict(getattr(span, "attributes", None) or {})
        span.end()
        provider.shutdown()
        assert attributes == {}

    def test_baggage_already_in_the_context_is_left_alone(
        self, propagator: IdentifierPropagator
    ) -> None:
        """Only what the carrier brought is judged: a prior entry survives, even overwritten."""
        before = baggage.set_baggage("user.id", "mine", baggage.set_baggage("k", "v", Context()))
        context = propagator.extract({"baggage": "user.id=666,x=1"}, before)
        assert dict(baggage.get_all(context)) == {"user.id": "mine", "k": "v"}

    def test_no_baggage_costs_nothing(self) -> None:
        """Without baggage the extracted context is returned as it is."""
        context = Context()
        assert gate(Context(), context) is context

    def test_a_failing_rule_keeps_no_inbound_baggage(
        self, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The gate never raises: if the rule fails, the baggage is dropped and it says so."""
        monkeypatch.setattr("otel_context._inbound_gate.filter_inbound", _raise)
        extracted = baggage.set_baggage("user.id", "666", Context())
        with caplog.at_level(logging.ERROR):
            context = gate(Context(), extracted)
        assert dict(baggage.get_all(context)) == {}
        assert "filtering inbound baggage failed" in caplog.text
        assert "666" not in caplog.text


def _raise(*args: object, **kwargs: object) -> None:
    raise RuntimeError


class TestRequestHookAfterTheGate:
    """begin() judges the held-back entries with the peer, as before the gate existed."""

    def _begin(self, propagator: IdentifierPropagator, tracer: trace.Tracer, peer: str) -> Any:
        from opentelemetry import context as otel_context

        token = otel_context.attach(_extract(propagator))
        try:
            with tracer.start_as_current_span("server", end_on_exit=False) as span:
                begun = begin(span, lambda name: None, peer, conf.get_config())
                found = dict(baggage.get_all()), begun.scope.identifiers(), inbound_entries()
                end(begun)
            span.end()
        finally:
            otel_context.detach(token)
        return span, found

    def test_a_trusted_hop_still_passes_its_identifiers(
        self, propagator: IdentifierPropagator, tracer: trace.Tracer
    ) -> None:
        """TRUST_UPSTREAM_IDENTIFIERS from a trusted network: user.id reaches the scope."""
        conf.configure(
            TRUST_UPSTREAM_IDENTIFIERS=True,
            TRUSTED_NETWORKS=["10.0.0.0/8"],
            INBOUND_BAGGAGE_ALLOW=["colour"],
        )
        span, (current, ids, held) = self._begin(propagator, tracer, "10.1.2.3")
        assert ids["user.id"] == "666"
        assert ids["organisation.id"] == "666"
        assert "user.id" not in current  # identifiers live in the scope, not in baggage
        assert held == current  # judged: nothing held back any more
        assert ids["correlation.id"] == "spoofed"  # the hop's id: a valid shape
        assert span.attributes[DROPPED_ATTRIBUTE] == 1  # flavour: not allowlisted

    def test_an_untrusted_peer_gets_them_dropped_and_counted(
        self, propagator: IdentifierPropagator, tracer: trace.Tracer
    ) -> None:
        """The same request from outside: no client id, every dropped entry counted."""
        conf.configure(
            TRUST_UPSTREAM_IDENTIFIERS=True,
            TRUSTED_NETWORKS=["10.0.0.0/8"],
            INBOUND_BAGGAGE_ALLOW=["colour"],
        )
        span, (current, ids, _) = self._begin(propagator, tracer, "192.0.2.1")
        assert "user.id" not in ids
        assert ids["correlation.id"] != "spoofed"
        assert current["colour"] == "blue"
        assert span.attributes[DROPPED_ATTRIBUTE] == 4


class TestBaggageLogProcessor:
    def test_a_record_emitted_in_the_extracted_context_gets_no_client_key(
        self, propagator: IdentifierPropagator
    ) -> None:
        """BaggageLogProcessor(ALLOW_ALL) reads the current baggage: already filtered."""
        from opentelemetry import context as otel_context
        from opentelemetry._logs import LogRecord
        from opentelemetry.sdk._logs import LoggerProvider
        from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor

        if not hasattr(processors, "BaggageLogProcessor"):
            pytest.skip("this opentelemetry-processor-baggage has no BaggageLogProcessor")
        log_export: Any = require("opentelemetry-sdk", "opentelemetry.sdk._logs.export")
        kind = getattr(log_export, "InMemoryLogRecordExporter", None)
        exporter = (kind or log_export.InMemoryLogExporter)()
        provider = LoggerProvider()
        provider.add_log_record_processor(
            processors.BaggageLogProcessor(processors.ALLOW_ALL_BAGGAGE_KEYS)
        )
        provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
        conf.configure(INBOUND_BAGGAGE_ALLOW=["colour"])
        token = otel_context.attach(_extract(propagator))
        try:
            provider.get_logger("t").emit(LogRecord(body="before the request hook"))
        finally:
            otel_context.detach(token)
        provider.shutdown()
        (item,) = exporter.get_finished_logs()
        assert dict(getattr(item, "log_record", item).attributes or {}) == {"colour": "blue"}
