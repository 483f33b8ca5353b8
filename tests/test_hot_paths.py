"""The per-event and per-request shortcuts (issues 23 and 25) give what the long way gives."""

from __future__ import annotations

import copy
import threading

import pytest
from django.http import HttpResponse
from django.test import RequestFactory
from opentelemetry import baggage, trace
from opentelemetry import context as otel_context

from otel_context import StructlogOTelProcessor, conf
from otel_context._baggage_limits import cut_count, note_cut
from otel_context._inbound_gate import BAGGAGE_KEY, gate, inbound_entries
from otel_context.django.hooks import (
    CORRELATION_ATTR,
    establish_correlation_id,
    header_value,
    meta_headers,
    meta_names,
    request_hook,
    response_hook,
)
from otel_context.request import request_context, settle_span
from otel_context.scope import SCOPE_KEY, RequestScope, coerce, get_identifiers, scoped
from otel_context.tracestate import SafeTraceContextPropagator


class TestProcessorCache:
    def test_a_bind_leaves_no_stale_cache_and_the_next_event_has_the_id(
        self, tracer: trace.Tracer
    ) -> None:
        """The per-event check is the span only: a bind patches the cache or drops it."""
        processor = StructlogOTelProcessor()
        with tracer.start_as_current_span("req") as span, scoped(RequestScope(span)) as scope:
            processor(None, "info", {})
            assert scope._cache is not None
            scope.bind({"project.id": 12})  # a standard id: patched
            assert scope._cache is not None
            assert scope._cache[2]["project.id"] == "12"
            event = processor(None, "info", {})
            scope.bind({"order.id": "o-1"})  # another key: the guard grows, so dropped
            assert scope._cache is None
            later = processor(None, "info", {"order__id": "call-site"})
        assert event["project.id"] == "12"
        assert later["order.id"] == "call-site", "call-site keys win, under their dotted name"

    def test_a_closed_scope_keeps_no_cache_and_adds_no_ids(self, tracer: trace.Tracer) -> None:
        """cache_for() on a closed scope answers but stores nothing; events get no ids."""
        processor = StructlogOTelProcessor()
        scope = RequestScope()
        scope.bind({"user.id": 1})
        with tracer.start_as_current_span("req"), scoped(scope):
            processor(None, "info", {})
            scope.close()
            assert scope.cache_for(None)[2] == {"user.id": "1"}
            assert scope._cache is None
            event = processor(None, "info", {})
        assert "user.id" not in event

    def test_a_cache_built_across_a_bind_is_not_kept(self) -> None:
        """A bind() between reading the ids and storing the cache leaves the cache out."""
        scope = RequestScope()
        entered, release = threading.Event(), threading.Event()

        class _Slow(dict[str, str]):
            def __init__(self) -> None:
                super().__init__({"user.id": "1"})

            def __iter__(self):  # type: ignore[no-untyped-def]
                entered.set()
                release.wait(5)
                return super().__iter__()

        scope._ids = _Slow()
        reader = threading.Thread(target=scope.cache_for, args=(None,))
        reader.start()
        entered.wait(5)  # the reader holds the lock while it copies the ids
        binder = threading.Thread(target=scope.bind, args=({"project.id": 2},))
        binder.start()
        release.set()
        reader.join(5)
        binder.join(5)
        assert scope._cache is None or scope._cache[1] == scope.version

    def test_renaming_processor_is_still_the_public_class(self, tracer: trace.Tracer) -> None:
        """field_names="ecs" is a StructlogOTelProcessor, copies as one, renames every event."""
        processor = StructlogOTelProcessor(field_names="ecs")
        assert isinstance(processor, StructlogOTelProcessor)
        assert type(StructlogOTelProcessor()) is StructlogOTelProcessor
        twin = copy.copy(processor)
        with tracer.start_as_current_span("req") as span, scoped(RequestScope(span), user__id=4):
            events = [dict(p(None, "info", {"n": 1})) for p in (processor, twin, processor)]
        assert all(e["user.id"] == "4" and "trace.id" in e for e in events)
        assert all("trace_id" not in e for e in events)


class TestCorrelationMiddlewareReads:
    def test_meta_names_keep_the_first_spelling_in_order(self) -> None:
        """Two spellings of one header read one META key, reported under the first."""
        names = meta_names(("X-Request-ID", "x-request-id", "Correlation-Id"))
        assert list(names.items()) == [
            ("HTTP_X_REQUEST_ID", "X-Request-ID"),
            ("HTTP_CORRELATION_ID", "Correlation-Id"),
        ]

    @pytest.mark.parametrize(
        ("headers", "expected"),
        [
            ({"X-Request-ID": "abc-1"}, ("abc-1", "X-Request-ID")),
            ({"Correlation-Id": "c-1", "X-Request-ID": "abc-1"}, ("c-1", "Correlation-Id")),
            ({"Correlation-Id": "<bad>"}, (None, "Correlation-Id")),
            ({}, (None, None)),
        ],
    )
    def test_the_id_and_the_header_it_came_in(
        self, headers: dict[str, str], expected: tuple[str | None, str | None]
    ) -> None:
        """The first configured header present wins; a bad or absent one is replaced."""
        request = RequestFactory().get("/", headers=headers)
        establish_correlation_id(request)
        cid, header = request.__dict__[CORRELATION_ATTR]
        assert header == expected[1]
        if expected[0] is None:
            assert len(cid) == 32
            assert cid not in headers.values()
        else:
            assert cid == expected[0]


class TestResponseHeaderValue:
    def test_reads_as_response_get_does(self) -> None:
        """Case-insensitive, None when absent; the value as set."""
        response = HttpResponse()
        response["X-Request-ID"] = "app-7"
        for name in ("X-Request-ID", "x-request-id", "Correlation-Id"):
            assert header_value(response, name) == response.get(name)
        assert header_value(response, "correlation-id") is None

    def test_another_response_type_uses_its_own_get(self) -> None:
        """Without Django's header store, the response's own get() answers."""

        class _Odd:
            headers = None

            @staticmethod
            def get(name: str) -> str | None:
                return f"odd:{name}"

        assert header_value(_Odd(), "X") == "odd:X"  # type: ignore[arg-type]


class TestInboundReads:
    def test_nothing_extracted_is_the_same_context(self) -> None:
        """Propagators that extracted nothing: the context comes back as it was."""
        before = baggage.set_baggage("k", "v")
        assert gate(before, before) is before

    def test_entries_and_cut_count_from_a_given_context_and_the_current_one(self) -> None:
        """Reading the context's own keys directly gives what get_value() gave."""
        context = note_cut(3, baggage.set_baggage("k", "v"))
        assert dict(inbound_entries(context)) == {"k": "v"}
        assert cut_count(context) == 3
        token = otel_context.attach(context)
        try:
            assert dict(inbound_entries()) == {"k": "v"}
            assert cut_count() == 3
        finally:
            otel_context.detach(token)


class TestRequestContext:
    @pytest.mark.parametrize("start", [{}, {"k": "v"}, {"k": "v", "correlation.id": "old"}])
    def test_one_copy_is_what_set_baggage_then_set_value_give(self, start: dict[str, str]) -> None:
        """request_context() equals baggage.set_baggage() then attach_scope()'s set_value()."""
        context = otel_context.set_value("other", 1)
        for key, value in start.items():
            context = baggage.set_baggage(key, value, context)
        scope = RequestScope()
        long_way = otel_context.set_value(
            SCOPE_KEY, scope, baggage.set_baggage("correlation.id", "c-1", context)
        )
        short = request_context(context, "c-1", scope)
        assert type(short) is type(long_way)
        assert short == long_way
        assert baggage.get_all(short) == {**start, "correlation.id": "c-1"}
        assert baggage.get_all(context) == start  # the given context is left as it was

    def test_a_baggage_value_that_is_no_dict_is_none(self) -> None:
        """As set_baggage() does, a non-dict under the baggage key counts as no baggage."""
        context = otel_context.set_value(BAGGAGE_KEY, "odd")
        assert baggage.get_all(request_context(context, "c-2", RequestScope())) == {
            "correlation.id": "c-2"
        }


class TestTraceparentShortcut:
    def test_no_traceparent_gives_the_context_back(self) -> None:
        """Without a traceparent the propagator returns the given context itself."""
        base = baggage.set_baggage("k", "v")
        carrier = {"tracestate": "a=1"}
        assert SafeTraceContextPropagator().extract(carrier, base) is base

    def test_a_traceparent_still_brings_its_tracestate(self) -> None:
        """The shortcut leaves the extracting case as it was."""
        carrier = {
            "traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01",
            "tracestate": "a=1",
        }
        span = trace.get_current_span(SafeTraceContextPropagator().extract(carrier))
        assert span.get_span_context().trace_state.get("a") == "1"


class TestSettleReadsAttributes:
    def test_a_plain_mapping_of_attributes_is_still_read(self) -> None:
        """Spans whose attributes are another Mapping than the SDK's mappingproxy are settled."""

        class _Span(trace.NonRecordingSpan):
            def __init__(self) -> None:
                super().__init__(trace.INVALID_SPAN_CONTEXT)
                self.attributes: dict[str, object] = {"user.id": 5}
                self.set: dict[str, object] = {}

            def is_recording(self) -> bool:
                return True

            def set_attribute(self, key: str, value: object) -> None:
                self.set[key] = value

        span = _Span()
        settle_span(RequestScope(span))
        assert span.set == {"user.id": "5"}


class TestBindInlined:
    def test_ints_and_strs_bind_as_coerce_gives(self) -> None:
        """bind()'s inlined str and int cases give coerce()'s strings; a bool still unbinds."""
        values: dict[str, object] = {"a.id": 7, "b.id": 10**300, "c.id": "x" * 300, "d.id": True}
        scope = RequestScope()
        scope.bind({"d.id": "kept-until-unbound"})
        scope.bind(values)
        expected = {k: coerce(v) for k, v in values.items() if coerce(v) is not None}
        assert scope.identifiers() == expected
        assert len(expected["b.id"]) == 256


class TestRequestHookReader:
    def test_meta_headers_reads_meta_by_header_name(self) -> None:
        """The reader request_hook hands begin() without CorrelationMiddleware's id."""
        request = RequestFactory().get("/", headers={"X-Request-ID": "abc-1"})
        read = meta_headers(request.META)
        assert read("X-Request-ID") == "abc-1"
        assert read("x-request-id") == "abc-1"
        assert read("Correlation-Id") is None

    def test_request_hook_without_the_middleware_reads_the_header(
        self, tracer: trace.Tracer
    ) -> None:
        """No id derived before the hook: request_hook reads the request's own header."""
        header = conf.get_config().correlation_id_headers[0]
        request = RequestFactory().get("/", headers={header: "abc-2"})
        with tracer.start_as_current_span("req") as span:
            request_hook(span, request)
            try:
                assert get_identifiers()["correlation.id"] == "abc-2"
            finally:
                response_hook(span, request, HttpResponse())
        assert get_identifiers() == {}
