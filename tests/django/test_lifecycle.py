"""The request scope lives exactly as long as the request span."""

from __future__ import annotations

import json
import logging
import threading
from typing import TYPE_CHECKING

import pytest
import structlog
from django.http import HttpRequest
from django.test import Client
from opentelemetry import context as otel_context

import otel_context as oc
from otel_context import OTelContextFilter, StructlogOTelProcessor
from otel_context.scope import current_scope

if TYPE_CHECKING:
    from collections.abc import Iterator

    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("instrumented")]


def _by_event(events: list[dict[str, object]], name: str) -> dict[str, object]:
    matches = [event for event in events if event["event"] == name]
    assert len(matches) == 1, f"expected one {name!r} event, got {matches}"
    return matches[0]


class TestSequentialRequests:
    def test_second_request_on_same_thread_sees_none_of_the_firsts_ids(
        self, events: list[dict[str, object]], exporter: InMemorySpanExporter
    ) -> None:
        """The acceptance test: ids of request 1 never appear on request 2's lines."""
        client = Client()
        threads: list[int] = []
        first = client.get(
            "/orgs/7/projects/p9/", headers={"Correlation-Id": "first-request", "X-Tenant": "t1"}
        )
        threads.append(threading.get_ident())
        first_events = list(events)
        events.clear()
        second = client.get("/plain/", headers={"Correlation-Id": "second-request"})
        threads.append(threading.get_ident())

        assert first.status_code == second.status_code == 200
        assert threads[0] == threads[1]
        assert {e["organisation.id"] for e in first_events} == {"7"}
        assert {e["tenant.id"] for e in first_events} == {"t1"}
        assert events, "the second request emitted no events"
        for event in events:
            assert event["correlation.id"] == "second-request"
            assert "organisation.id" not in event
            assert "project.id" not in event
            assert "tenant.id" not in event
        first_trace = {e["trace_id"] for e in first_events}
        second_trace = {e["trace_id"] for e in events}
        assert len(first_trace) == len(second_trace) == 1
        assert first_trace != second_trace
        assert second.json()["identifiers"] == {"correlation.id": "second-request"}
        assert current_scope() is None

    def test_events_carry_the_request_span_ids(
        self, events: list[dict[str, object]], exporter: InMemorySpanExporter
    ) -> None:
        """trace_id and span_id on every event are those of the server span."""
        Client().get("/plain/")
        (span,) = exporter.get_finished_spans()
        assert len(events) == 2
        for event in events:
            assert event["trace_id"] == f"{span.context.trace_id:032x}"
            assert event["span_id"] == f"{span.context.span_id:016x}"

    def test_events_in_a_child_span_carry_the_childs_span_id(
        self, events: list[dict[str, object]], exporter: InMemorySpanExporter
    ) -> None:
        """An event inside a child span has the child's span_id, and the parent's after it."""
        Client().get("/child/")
        spans = {span.name: span for span in exporter.get_finished_spans()}
        child, server = spans["child"], spans["GET child/"]
        in_child = _by_event(events, "view.in_child")
        after = _by_event(events, "view.after_child")
        assert in_child["span_id"] == f"{child.context.span_id:016x}"
        assert after["span_id"] == f"{server.context.span_id:016x}"
        assert in_child["trace_id"] == after["trace_id"] == f"{server.context.trace_id:032x}"
        assert in_child["correlation.id"] == after["correlation.id"]


class TestViewThatRaises:
    def test_500_carries_the_correlation_id_and_its_lines_the_ids(
        self, events: list[dict[str, object]], exporter: InMemorySpanExporter
    ) -> None:
        """A failing view: 500 with the correlation header, ids on its lines, scope gone."""
        client = Client(raise_request_exception=False)
        response = client.get("/raises/", headers={"Correlation-Id": "boom-1"})
        assert response.status_code == 500
        assert response["Correlation-Id"] == "boom-1"
        event = _by_event(events, "view.before_raise")
        assert event["correlation.id"] == "boom-1"
        (span,) = exporter.get_finished_spans()
        assert span.attributes is not None
        assert span.attributes["correlation.id"] == "boom-1"
        assert event["trace_id"] == f"{span.context.trace_id:032x}"
        assert current_scope() is None
        assert dict(otel_context.get_current()) == {}


class _Records(logging.Handler):
    """Keeps each record, and what a ProcessorFormatter with our processor renders of it."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.lines: list[dict[str, object]] = []
        self.formatter_ = structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(),
            ],
            foreign_pre_chain=[StructlogOTelProcessor()],
        )

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(json.loads(self.formatter_.format(record)))


@pytest.fixture
def django_request_records() -> Iterator[_Records]:
    """Records of the ``django.request`` logger, through OTelContextFilter, and rendered."""
    handler = _Records()
    handler.addFilter(OTelContextFilter())
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


class TestLate4xxWarning:
    def test_returned_4xx_warning_carries_its_requests_ids(
        self,
        events: list[dict[str, object]],
        exporter: InMemorySpanExporter,
        django_request_records: _Records,
    ) -> None:
        """Django logs "Unauthorized" after the span ended; the line still joins its request."""
        response = Client().get("/orgs/7/refuses/", headers={"Correlation-Id": "late-401"})
        assert response.status_code == 401
        (span,) = exporter.get_finished_spans()
        (record,) = django_request_records.records
        (line,) = django_request_records.lines
        assert record.getMessage() == "Unauthorized: /orgs/7/refuses/"
        assert current_scope() is None, "the warning is logged outside the scope"
        trace_id, span_id = f"{span.context.trace_id:032x}", f"{span.context.span_id:016x}"
        assert (record.trace_id, record.span_id) == (trace_id, span_id)  # type: ignore[attr-defined]
        assert record.correlation_id == "late-401"  # type: ignore[attr-defined]
        assert record.organisation_id == "7"  # type: ignore[attr-defined]
        assert (line["trace_id"], line["span_id"]) == (trace_id, span_id)
        assert line["correlation.id"] == "late-401"
        assert line["organisation.id"] == "7"
        assert _by_event(events, "view.refusing")["trace_id"] == trace_id

    def test_a_record_without_the_request_gets_nothing_afterwards(
        self, django_request_records: _Records
    ) -> None:
        """The ids come from the record's own request: a later record gets none of them."""
        Client().get("/orgs/7/refuses/", headers={"Correlation-Id": "late-401"})
        logging.getLogger("django.request").warning("after the request")
        after_record, after_line = (
            django_request_records.records[-1],
            django_request_records.lines[-1],
        )
        assert after_record.correlation_id == "-"  # type: ignore[attr-defined]
        assert after_record.trace_id == "-"  # type: ignore[attr-defined]
        assert "correlation.id" not in after_line
        assert "trace_id" not in after_line

    def test_a_request_that_was_not_traced_gets_nothing(
        self, django_request_records: _Records
    ) -> None:
        """A record about an unmarked request (no hooks ran) falls back to the context."""
        record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "x", (), None)
        record.request = HttpRequest()
        django_request_records.handle(record)
        assert record.trace_id == "-"  # type: ignore[attr-defined]
        assert "trace_id" not in django_request_records.lines[-1]


class TestExcludedUrls:
    def test_no_scope_and_no_header_for_an_excluded_url(
        self, events: list[dict[str, object]], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Excluded URLs get no span, so no hooks and no identifiers."""
        from opentelemetry.instrumentation.django.middleware.otel_middleware import (
            _DjangoMiddleware,
        )
        from opentelemetry.util.http import parse_excluded_urls

        monkeypatch.setattr(_DjangoMiddleware, "_excluded_urls", parse_excluded_urls("healthz"))
        response = Client().get("/healthz/")
        assert response.status_code == 200
        assert "Correlation-Id" not in response
        assert response.json()["identifiers"] == {}
        assert events
        for event in events:
            assert "correlation.id" not in event
            assert "trace_id" not in event


class TestCorrelationHeader:
    @pytest.mark.parametrize(
        ("headers", "expected_header"),
        [
            ({}, "Correlation-Id"),
            ({"X-Request-ID": "nginx-abc"}, "X-Request-ID"),
            ({"Correlation-Id": "c-1", "X-Request-ID": "r-1"}, "Correlation-Id"),
        ],
    )
    def test_echoed_under_the_header_it_came_in(
        self, headers: dict[str, str], expected_header: str
    ) -> None:
        """Every response echoes the id under the header it came in (default Correlation-Id)."""
        response = Client().get("/plain/", headers=headers)
        value = response[expected_header]
        assert response.json()["identifiers"]["correlation.id"] == value
        if headers:
            assert value == headers[expected_header]
        else:
            assert len(value) == 32

    def test_invalid_header_is_replaced_and_never_echoed(
        self, events: list[dict[str, object]]
    ) -> None:
        """A junk correlation header is replaced by a generated id in logs and response."""
        junk = "<script>alert(1)</script>" + "x" * 300
        response = Client().get("/plain/", headers={"Correlation-Id": junk})
        value = response["Correlation-Id"]
        assert value != junk
        assert len(value) == 32
        assert all(event["correlation.id"] == value for event in events)
        assert junk not in repr(events)


class TestLateIdentifiers:
    def test_url_kwargs_are_bound_after_routing(
        self, events: list[dict[str, object]], exporter: InMemorySpanExporter
    ) -> None:
        """organisation/project from URL kwargs reach events and the span."""
        Client().get("/orgs/12/projects/abc/")
        assert {(e["organisation.id"], e["project.id"]) for e in events} == {("12", "abc")}
        (span,) = exporter.get_finished_spans()
        assert span.attributes is not None
        assert span.attributes["organisation.id"] == "12"
        assert span.attributes["project.id"] == "abc"

    def test_lookup_callable_returns_several_ids(self, events: list[dict[str, object]]) -> None:
        """A URL-kwarg lookup binds every id it returns."""
        Client().get("/environments/env-5/")
        assert {(e["environment.id"], e["project.id"]) for e in events} == {("5", "p-5")}

    def test_broken_lookup_and_resolver_drop_only_their_ids(
        self, events: list[dict[str, object]]
    ) -> None:
        """A lookup or resolver that raises: the event goes out without that id, no exception."""
        response = Client().get("/environments/broken/", headers={"X-Tenant": "boom"})
        assert response.status_code == 200
        assert events
        for event in events:
            assert "environment.id" not in event
            assert "tenant.id" not in event
            assert "correlation.id" in event

    def test_bind_in_view_reaches_events_span_and_get_identifiers(
        self, events: list[dict[str, object]], exporter: InMemorySpanExporter
    ) -> None:
        """otel_context.bind() mid-request: dotted keys everywhere."""
        response = Client().get("/bind/")
        event = _by_event(events, "view.bound")
        assert event["order.id"] == "o-1"
        assert event["feature"] == "beta"
        assert response.json()["identifiers"]["order.id"] == "o-1"
        (span,) = exporter.get_finished_spans()
        assert span.attributes is not None
        assert span.attributes["order.id"] == "o-1"

    def test_bind_outside_a_request_binds_nothing(self) -> None:
        """Outside a scope bind() reports False and get_identifiers() stays empty."""
        assert oc.bind(user__id="1") is False
        assert oc.get_identifiers() == {}
