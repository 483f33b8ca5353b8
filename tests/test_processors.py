"""StructlogOTelProcessor, called directly with plain event dicts."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import structlog
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from otel_context import StructlogOTelProcessor
from otel_context.scope import SCOPE_KEY, RequestScope, scoped

IDS = {"correlation.id": "c-1", "user.id": "42", "organisation.id": "7"}


def process(event: dict[str, Any]) -> dict[str, Any]:
    return dict(StructlogOTelProcessor()(None, "info", event))


class TestOutsideARequest:
    def test_adds_nothing_without_span_or_scope(self) -> None:
        """No span, no scope: the event is returned as it came."""
        assert process({"event": "hi", "a": 1}) == {"event": "hi", "a": 1}

    def test_adds_trace_ids_of_a_valid_span(self, tracer: trace.Tracer) -> None:
        """A span without a request scope (a task, a command): trace ids only."""
        with tracer.start_as_current_span("job") as span:
            event = process({"event": "hi"})
        ctx = span.get_span_context()
        assert event == {
            "event": "hi",
            "trace_id": f"{ctx.trace_id:032x}",
            "span_id": f"{ctx.span_id:016x}",
            "trace_sampled": True,
        }

    def test_invalid_span_adds_nothing(self) -> None:
        """The non-recording INVALID_SPAN has no ids worth logging."""
        with trace.use_span(trace.INVALID_SPAN):
            assert process({"event": "hi"}) == {"event": "hi"}


class TestInsideAScope:
    def test_adds_trace_ids_and_identifiers(self, tracer: trace.Tracer) -> None:
        """Inside a scope: trace_id, span_id and every identifier, dotted."""
        with tracer.start_as_current_span("req") as span, scoped(RequestScope(span), **IDS):
            event = process({"event": "hi"})
        assert event["trace_id"] == f"{span.get_span_context().trace_id:032x}"
        assert {key: event[key] for key in IDS} == IDS

    def test_child_span_has_its_own_span_id(self, tracer: trace.Tracer) -> None:
        """The cache must not serve the parent's span_id inside a child span."""
        processor = StructlogOTelProcessor()
        with tracer.start_as_current_span("req") as parent, scoped(RequestScope(parent), **IDS):
            before = processor(None, "info", {})["span_id"]
            with tracer.start_as_current_span("child") as child:
                inside = processor(None, "info", {})["span_id"]
            after = processor(None, "info", {})["span_id"]
        assert before == after == f"{parent.get_span_context().span_id:016x}"
        assert inside == f"{child.get_span_context().span_id:016x}"

    def test_late_bind_is_seen_by_the_next_event(self, tracer: trace.Tracer) -> None:
        """The cache is keyed on the scope version: a bind shows on the very next event."""
        processor = StructlogOTelProcessor()
        with tracer.start_as_current_span("req") as span, scoped(RequestScope(span)) as scope:
            assert "user.id" not in processor(None, "info", {})
            scope.bind({"user.id": 5})
            assert processor(None, "info", {})["user.id"] == "5"
            scope.bind({"user.id": None})
            assert "user.id" not in processor(None, "info", {})

    def test_call_site_keys_win(self, tracer: trace.Tracer) -> None:
        """setdefault semantics: what the call site passed is kept."""
        with tracer.start_as_current_span("req") as span, scoped(RequestScope(span), **IDS):
            event = process({"event": "hi", "user.id": "call-site", "trace_id": "mine"})
        assert event["user.id"] == "call-site"
        assert event["trace_id"] == "mine"
        assert event["organisation.id"] == "7"

    def test_double_underscore_call_site_key_is_the_dotted_key(self, tracer: trace.Tracer) -> None:
        """organisation__id=9 at the call site becomes organisation.id=9 and wins."""
        with tracer.start_as_current_span("req") as span, scoped(RequestScope(span), **IDS):
            event = process({"event": "hi", "organisation__id": "9", "app__key": "k"})
        assert event["organisation.id"] == "9"
        assert "organisation__id" not in event
        assert event["app__key"] == "k", "only identifier keys are renamed"

    def test_double_underscore_is_mapped_outside_a_request_too(self) -> None:
        """The same event shape whether or not a request is current."""
        assert process({"user__id": "3"}) == {"user.id": "3"}

    def test_closed_scope_reads_as_empty(self, tracer: trace.Tracer) -> None:
        """A scope leaked in some context copy adds nothing once its request ended."""
        scope = RequestScope()
        scope.bind(IDS)
        scope.close()
        token = otel_context.attach(otel_context.set_value(SCOPE_KEY, scope))
        try:
            assert process({"event": "late"}) == {"event": "late"}
        finally:
            otel_context.detach(token)


class TestOneTypePerIdentifier:
    def test_call_site_ints_of_identifier_keys_are_strings(self, tracer: trace.Tracer) -> None:
        """organisation__id=7 logs "7", as a bound id does; other keys keep their type."""
        with tracer.start_as_current_span("req") as span, scoped(RequestScope(span), **IDS):
            event = process({"organisation__id": 9, "user.id": 42, "status": 200})
        assert event["organisation.id"] == "9"
        assert event["user.id"] == "42"
        assert event["status"] == 200

    def test_configured_and_bound_keys_count_unbound_standard_ones_too(
        self, tracer: trace.Tracer
    ) -> None:
        """A scope's keys (URL_KWARGS/RESOLVERS ones) and bound ones are identifiers."""
        with tracer.start_as_current_span("req") as span, scoped(RequestScope(span)) as scope:
            scope.keys = frozenset({"tenant.id"})
            scope.bind({"order.id": "o-1"})
            event = process({"tenant__id": 3, "order.id": 4, "project__id": 5, "other__id": 6})
        assert event["tenant.id"] == "3"
        assert event["order.id"] == "4"
        assert event["project.id"] == "5"
        assert event["other__id"] == 6, "not an identifier key: left alone"

    def test_outside_a_request_and_none(self) -> None:
        """Outside any scope the standard keys are strings too; a call-site None is dropped."""
        assert process({"user__id": 3, "project.id": None}) == {"user.id": "3"}

    def test_none_at_the_call_site_lets_the_bound_id_in(self, tracer: trace.Tracer) -> None:
        """A call site passing user_id=None does not blank the request's user."""
        with tracer.start_as_current_span("req") as span, scoped(RequestScope(span), **IDS):
            assert process({"user__id": None})["user.id"] == "42"


class TestNeverRaises:
    def test_broken_refresh_still_emits_the_event(
        self, tracer: trace.Tracer, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A refresh hook that raises: the event keeps the ids known so far, no exception."""

        def broken() -> None:
            msg = "adapter bug"
            raise RuntimeError(msg)

        with tracer.start_as_current_span("req") as span, scoped(RequestScope(span), **IDS) as s:
            s.refresh = broken
            event = process({"event": "hi"})
            again = process({"event": "again"})
        assert event["user.id"] == again["user.id"] == "42"
        assert s.refresh is None, "a broken refresh is switched off after its first failure"
        assert "refreshing identifiers failed" in caplog.text

    def test_garbage_in_the_context_is_ignored(self) -> None:
        """Something that is not a scope under our key does not break logging."""
        token = otel_context.attach(otel_context.set_value(SCOPE_KEY, object()))
        try:
            assert process({"event": "hi"}) == {"event": "hi"}
        finally:
            otel_context.detach(token)

    def test_internal_error_is_logged_once_and_the_event_survives(
        self,
        tracer: trace.Tracer,
        caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """An unexpected failure inside the processor loses only the fields."""
        with tracer.start_as_current_span("req") as span, scoped(RequestScope(span), **IDS) as s:
            monkeypatch.setattr(s, "_ids", None)  # corrupt the scope: fields() raises
            with caplog.at_level(logging.ERROR):
                event = process({"event": "hi"})
        assert event == {"event": "hi"}
        assert "adding trace ids and identifiers to a log event failed" in caplog.text


class TestInAPipeline:
    def test_works_in_processor_formatter_for_stdlib_records(self, tracer: trace.Tracer) -> None:
        """foreign_pre_chain: a stdlib record gets the same dotted keys as a structlog event."""
        formatter = structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[StructlogOTelProcessor()],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(sort_keys=True),
            ],
        )
        record = logging.LogRecord("django.request", logging.WARNING, __file__, 1, "slow", (), None)
        with tracer.start_as_current_span("req") as span, scoped(RequestScope(span), **IDS):
            line = formatter.format(record)
        assert '"user.id": "42"' in line
        assert f'"trace_id": "{span.get_span_context().trace_id:032x}"' in line


def _sampled_out() -> trace.Tracer:
    """A tracer whose sampler drops every trace (ids valid, sampled flag off)."""
    return TracerProvider(sampler=ALWAYS_OFF).get_tracer("tests")


class TestTraceSampled:
    def test_sampled_and_sampled_out_requests(self, tracer: trace.Tracer) -> None:
        """trace_sampled is the span context's sampled flag: true when kept, false when dropped."""
        processor = StructlogOTelProcessor()
        for source, sampled in ((tracer, True), (_sampled_out(), False)):
            with source.start_as_current_span("req") as span, scoped(RequestScope(span), **IDS):
                event = dict(processor(None, "info", {"event": "hi"}))
                with source.start_as_current_span("child"):
                    child = dict(processor(None, "info", {}))
            assert event["trace_id"] == f"{span.get_span_context().trace_id:032x}"
            assert event["trace_sampled"] is sampled
            assert child["trace_sampled"] is sampled

    def test_outside_a_request_and_under_ecs_names(self) -> None:
        """A sampled-out span outside a scope: trace_sampled false; trace.sampled under ECS."""
        with _sampled_out().start_as_current_span("job"):
            default = process({})
            ecs = dict(StructlogOTelProcessor(field_names="ecs")(None, "info", {}))
        assert default["trace_sampled"] is False
        assert ecs["trace.sampled"] is False
        assert "trace_sampled" not in ecs

    def test_part_of_the_per_span_cache(self, tracer: trace.Tracer) -> None:
        """The flag is cached with the span's fields: the span context is not read per event."""
        processor = StructlogOTelProcessor()
        with tracer.start_as_current_span("req") as span, scoped(RequestScope(span)) as scope:
            processor(None, "info", {})
            cached = scope._cache
            assert cached is not None
            assert cached[2]["trace_sampled"] is True
            processor(None, "info", {})
            assert scope._cache is cached

    def test_call_site_value_wins(self, tracer: trace.Tracer) -> None:
        """As for every field, what the call site passed is kept."""
        with tracer.start_as_current_span("req") as span, scoped(RequestScope(span), **IDS):
            event = process({"trace_sampled": "mine"})
        assert event["trace_sampled"] == "mine"


class TestFieldNames:
    def test_ecs_names(self, tracer: trace.Tracer) -> None:
        """ECS: trace.id, span.id, trace.sampled, http.request.id, user.id, labels for the rest."""
        processor = StructlogOTelProcessor(field_names="ecs")
        with tracer.start_as_current_span("req") as span, scoped(RequestScope(span), **IDS):
            event = dict(processor(None, "info", {"event": "hi"}))
            child_ids = []
            with tracer.start_as_current_span("child") as child:
                child_ids.append(processor(None, "info", {})["span.id"])
        ctx = span.get_span_context()
        assert event == {
            "event": "hi",
            "trace.id": f"{ctx.trace_id:032x}",
            "span.id": f"{ctx.span_id:016x}",
            "trace.sampled": True,
            "http.request.id": "c-1",
            "user.id": "42",
            "labels.organisation_id": "7",
        }
        assert child_ids == [f"{child.get_span_context().span_id:016x}"]

    def test_otel_names_are_the_default(self, tracer: trace.Tracer) -> None:
        """'otel' and 'default' produce the same event."""
        with tracer.start_as_current_span("req") as span, scoped(RequestScope(span), **IDS):
            otel = dict(StructlogOTelProcessor(field_names="otel")(None, "info", {}))
            default = dict(StructlogOTelProcessor()(None, "info", {}))
        assert otel == default

    def test_unknown_choice_is_refused(self) -> None:
        """A typo in field_names fails at configuration time, not per event."""
        with pytest.raises(ValueError, match="field_names must be one of"):
            StructlogOTelProcessor(field_names="elastic")
