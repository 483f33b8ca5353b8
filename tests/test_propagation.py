"""IdentifierPropagator: late identifiers leave with outgoing calls."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from otel_context import IdentifierPropagator, conf
from otel_context.propagation import install_propagator
from otel_context.scope import RequestScope, scoped


@pytest.fixture
def propagator() -> IdentifierPropagator:
    inner = CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])
    return IdentifierPropagator(inner)


@pytest.fixture
def global_textmap() -> Iterator[None]:
    before = propagate.get_global_textmap()
    yield
    propagate.set_global_textmap(before)


class TestInject:
    def test_late_bound_ids_are_sent_as_baggage(
        self, propagator: IdentifierPropagator, tracer: trace.Tracer
    ) -> None:
        """An id bound after the scope started still reaches the outgoing baggage header."""
        headers: dict[str, str] = {}
        with tracer.start_as_current_span("req") as span, scoped(RequestScope(span)) as scope:
            scope.bind({"user.id": "42", "correlation.id": "c-1"})
            propagator.inject(headers)
        assert set(headers["baggage"].split(",")) == {"user.id=42", "correlation.id=c-1"}
        assert headers["traceparent"].split("-")[1] == f"{span.get_span_context().trace_id:032x}"

    def test_nothing_added_outside_a_scope(self, propagator: IdentifierPropagator) -> None:
        """No scope: the inner propagator alone."""
        headers: dict[str, str] = {}
        propagator.inject(headers)
        assert headers == {}

    def test_switched_off(self, propagator: IdentifierPropagator, tracer: trace.Tracer) -> None:
        """PROPAGATE_IDENTIFIERS=False keeps ids in the process; traceparent still goes."""
        conf.configure(propagate_identifiers=False)
        headers: dict[str, str] = {}
        try:
            with (
                tracer.start_as_current_span("req") as span,
                scoped(RequestScope(span), user__id="1"),
            ):
                propagator.inject(headers)
        finally:
            conf.configure()
        assert "baggage" not in headers
        assert "traceparent" in headers

    def test_extract_and_fields_delegate(self, propagator: IdentifierPropagator) -> None:
        """extract() and fields are the inner propagator's."""
        assert propagator.fields == {"traceparent", "tracestate", "baggage"}
        ctx = propagator.extract({"baggage": "a=b"})
        from opentelemetry import baggage

        assert baggage.get_all(ctx) == {"a": "b"}


class TestInstall:
    @pytest.mark.usefixtures("global_textmap")
    def test_wraps_the_global_propagator_once(self) -> None:
        """install_propagator() is idempotent."""
        first = install_propagator()
        assert propagate.get_global_textmap() is first
        assert install_propagator() is first
