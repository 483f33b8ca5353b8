"""RequestScope: binding, reading and closing, also from several threads."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import SpanLimits, TracerProvider

from otel_context.ended import ENDED_ATTR, ended_fields, mark_ended
from otel_context.scope import (
    RESOLVER,
    UPSTREAM,
    URL,
    RequestScope,
    as_text,
    coerce,
    scoped,
)
from otel_context.stdlib import OTelContextFilter


class TestBind:
    def test_values_are_coerced_to_strings(self) -> None:
        """Ints and UUIDs become strings; None and '' unbind; booleans are refused."""
        assert coerce(5) == "5"
        assert coerce(None) is None
        assert coerce("") is None
        assert coerce(True) is None
        assert coerce("x" * 1000) == "x" * 256

    def test_bind_writes_span_attributes_unless_told_not_to(self, tracer: trace.Tracer) -> None:
        """span_attributes=False keeps ids off the span."""
        with tracer.start_as_current_span("a") as span:
            RequestScope(span).bind({"user.id": 1})
            RequestScope(span, span_attributes=False).bind({"project.id": 2})
        assert dict(span.attributes or {}) == {"user.id": "1"}

    def test_bind_reads_dunder_keys_cuts_long_values_and_unbinds_empty(self) -> None:
        """The inlined str path behaves as coerce(): cut at 256, '' and None unbind."""
        scope = RequestScope()
        scope.bind({"organisation__id": "7", "order.id": "x" * 300, "plan": 3})
        assert scope.identifiers() == {"organisation.id": "7", "order.id": "x" * 256, "plan": "3"}
        scope.bind({"organisation__id": "", "plan": None, "flag": True})
        assert scope.identifiers() == {"order.id": "x" * 256}

    def test_bind_after_the_span_ended_leaves_the_span_alone(
        self, tracer: trace.Tracer, caplog: pytest.LogCaptureFixture
    ) -> None:
        """No "Setting attribute on ended span" warning: the id is still bound."""
        with tracer.start_as_current_span("a") as span:
            scope = RequestScope(span)
        scope.bind({"user.id": 1})
        assert scope.identifiers() == {"user.id": "1"}
        assert dict(span.attributes or {}) == {}
        assert "ended span" not in caplog.text


class TestCache:
    """A bind of standard ids patches the processors' cache: the same as a rebuilt one."""

    @pytest.mark.parametrize(
        "late",
        [{"user.id": 5}, {"user__id": "5", "organisation.id": None}, {"project.id": "p"}],
    )
    def test_a_standard_bind_patches_the_cache_as_a_rebuild_would(
        self, tracer: trace.Tracer, late: dict[str, object]
    ) -> None:
        span = tracer.start_span("a")
        scope = RequestScope(span)
        scope.bind({"organisation.id": "7", "correlation.id": "c"})
        before = scope.cache_for(span)
        scope.bind(late)
        patched = scope._cache  # what the processors read
        assert patched is not None
        assert patched is not before
        assert patched[1] == scope.version
        rebuilt = RequestScope(span)
        rebuilt.bind(scope.identifiers())
        expected = rebuilt.cache_for(span)
        assert list(patched[2].items()) == list(expected[2].items())  # the same order, too
        assert patched[3:] == expected[3:]
        assert scope.cache_for(span) is patched

    def test_a_bind_of_another_key_drops_the_cache(self, tracer: trace.Tracer) -> None:
        span = tracer.start_span("a")
        scope = RequestScope(span)
        scope.bind({"user.id": "1"})
        before = scope.cache_for(span)
        scope.bind({"order.id": "o-1"})
        assert scope._cache is None  # the guard grows: rebuilt at the next event
        rebuilt = scope.cache_for(span)
        assert rebuilt[2] == {**before[2], "order.id": "o-1"}
        assert "order__id" in rebuilt[3]

    def test_a_bind_on_a_closed_scope_keeps_no_cache(self, tracer: trace.Tracer) -> None:
        span = tracer.start_span("a")
        scope = RequestScope(span)
        scope.cache_for(span)
        scope.close()
        scope.bind({"user.id": "1"})
        assert scope._cache is None


class _Request:
    """A framework request object stand-in: anything with a ``__dict__``."""


class TestEndedFields:
    def test_marked_request_gives_its_span_and_ids_after_close(self, tracer: trace.Tracer) -> None:
        """The fields survive the scope's close, read from the request object."""
        with tracer.start_as_current_span("a") as span:
            scope = RequestScope(span)
            scope.bind({"correlation.id": "c-1", "user.id": 4})
        request = _Request()
        mark_ended(request, scope, span)
        scope.close()
        assert ended_fields(request) == {
            "trace_id": f"{span.get_span_context().trace_id:032x}",
            "span_id": f"{span.get_span_context().span_id:016x}",
            "trace_sampled": True,
            "correlation.id": "c-1",
            "user.id": "4",
        }
        assert not any(isinstance(kept, trace.Span) for kept in request.__dict__[ENDED_ATTR])

    def test_the_fields_an_event_built_are_reused(self, tracer: trace.Tracer) -> None:
        """The scope's cached trace fields, as the request's events had them, not recomputed."""
        with tracer.start_as_current_span("a") as span:
            scope = RequestScope(span)
            built = scope.cache_for(span)[2]
        request = _Request()
        mark_ended(request, scope, span)
        assert request.__dict__[ENDED_ATTR][1] == {
            key: built[key] for key in ("trace_id", "span_id", "trace_sampled")
        }
        assert ended_fields(request) == built

    @pytest.mark.parametrize(
        "value",
        [
            None,
            "scope",
            (),
            ("not a scope", None),
            (RequestScope(),),
            [RequestScope(), None],
            (RequestScope(), None),
        ],
    )
    def test_anything_else_gives_none(self, value: object) -> None:
        """Unmarked, or marked with something that is not (scope, span): nothing, no error."""
        request = _Request()
        if value is not None:
            request.__dict__[ENDED_ATTR] = value
        assert ended_fields(request) is None
        assert ended_fields(None) is None
        assert ended_fields(object()) is None


class TestReentry:
    def test_a_line_logged_while_a_bind_writes_the_span_reads_the_scope(self) -> None:
        """A bind writes a span attribute and the span logs as it does (as the SDK warns of an
        attribute over ``OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`` from 1.45); the record's
        ``OTelContextFilter`` reads the scope in the same thread: no deadlock."""
        records: list[logging.LogRecord] = []
        handler = _Collect(records)
        handler.addFilter(OTelContextFilter())
        span_logger = logging.getLogger("tests.logging_span")
        span_logger.addHandler(handler)
        done = threading.Event()

        def bind_in_a_scope() -> None:
            span = _LoggingSpan(span_logger)
            with trace.use_span(span), scoped(RequestScope(span)) as scope:
                scope.bind({"user.id": "u-1"})
                done.set()

        _run_with_handler(bind_in_a_scope, span_logger, handler)
        assert done.is_set(), "the bind never returned: the scope's lock was taken twice"
        assert [(record.trace_id, record.user_id) for record in records] == [("1" * 32, "u-1")]

    def test_the_sdk_with_an_attribute_length_limit(self) -> None:
        """The real SDK, an id over its attribute length limit, ``OTelContextFilter`` on the
        SDK's logger: the bind returns, the id is bound whole and the span has it cut. (The SDK
        logs the cut from 1.45: on that train this is the deadlock the test above stands in
        for on every train.)"""
        tracer = TracerProvider(span_limits=SpanLimits(max_attribute_length=8)).get_tracer("t")
        handler = _Collect([])
        handler.addFilter(OTelContextFilter())
        sdk_logger = logging.getLogger("opentelemetry.attributes")
        sdk_logger.addHandler(handler)
        bound: list[dict[str, str]] = []
        spans: list[trace.Span] = []

        def bind_a_long_id() -> None:
            with tracer.start_as_current_span("task") as span, scoped(RequestScope(span)) as scope:
                scope.bind({"user.id": "user-0123456789"})
                bound.append(scope.identifiers())
                spans.append(span)

        _run_with_handler(bind_a_long_id, sdk_logger, handler)
        assert bound == [{"user.id": "user-0123456789"}], "the bind never returned"
        assert dict(getattr(spans[0], "attributes", None) or {}) == {"user.id": "user-012"}


def _run_with_handler(
    target: Callable[[], None], logger: logging.Logger, handler: logging.Handler
) -> None:
    """Run *target* in a thread (a deadlock there must not hang the suite: 10 s at most),
    then take *handler* off *logger*."""
    worker = threading.Thread(target=target, daemon=True)
    try:
        worker.start()
        worker.join(timeout=10)
    finally:
        logger.removeHandler(handler)


class _LoggingSpan(trace.NonRecordingSpan):
    """A recording span that logs a warning each time an attribute is written."""

    def __init__(self, logger: logging.Logger) -> None:
        super().__init__(trace.SpanContext(int("1" * 32, 16), 1, is_remote=False))
        self._logger = logger

    def is_recording(self) -> bool:
        return True

    def set_attribute(self, key: str, value: object) -> None:
        self._logger.warning("attribute %s written", key)


class _Collect(logging.Handler):
    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__()
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class TestThreads:
    def test_concurrent_binds_and_reads_never_fail(self, tracer: trace.Tracer) -> None:
        """Binding from one thread while another reads fields: no error, consistent reads."""
        scope = RequestScope()
        errors: list[BaseException] = []
        stop = threading.Event()

        def binder() -> None:
            for index in range(20000):
                scope.bind({f"k{index % 50}": index})
            stop.set()

        def reader() -> None:
            try:
                while not stop.is_set():
                    fields, _ = scope.fields(None)
                    assert all(isinstance(value, str) for value in fields.values())
                    scope.identifiers()
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=binder), threading.Thread(target=reader)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert errors == []
        assert len(scope.identifiers()) == 50


class TestScoped:
    def test_owned_scope_is_closed_given_scope_is_not(self) -> None:
        """scoped() closes a scope it created, not one handed to it."""
        given = RequestScope()
        with scoped(given):
            pass
        with scoped() as owned:
            pass
        assert not given.closed
        assert owned.closed


class TestPrecedence:
    def test_lower_ranked_source_never_replaces_a_higher_ranked_id(self) -> None:
        """A resolver's id does not replace the URL's; the URL's does not replace the app's."""
        scope = RequestScope()
        scope.bind({"organisation.id": "B"}, URL)
        scope.bind({"organisation.id": "A", "plan": "free"}, RESOLVER)
        assert scope.identifiers() == {"organisation.id": "B", "plan": "free"}
        scope.bind({"organisation.id": "app"})
        scope.bind({"organisation.id": "C"}, URL)
        assert scope.identifiers()["organisation.id"] == "app"

    def test_equal_or_higher_rank_replaces_and_lower_rank_cannot_unbind(self) -> None:
        """Same rank replaces (a retry, a login); None from a lower rank keeps the id."""
        scope = RequestScope()
        scope.bind({"user.id": "up"}, UPSTREAM)
        scope.bind({"user.id": "1"}, RESOLVER)
        scope.bind({"user.id": "2"}, RESOLVER)
        assert scope.identifiers() == {"user.id": "2"}
        scope.bind({"project.id": "p"}, URL)
        scope.bind({"project.id": None}, RESOLVER)
        assert scope.identifiers()["project.id"] == "p"
        scope.bind({"project.id": None})
        scope.bind({"project.id": "r"}, RESOLVER)
        assert scope.identifiers()["project.id"] == "r"  # unbound: any source may bind again

    def test_the_first_id_is_bound_as_the_applications(self) -> None:
        """``first``: ranked as an application bind, replaced by one, kept from the others."""
        scope = RequestScope(first=("correlation.id", "c"))
        assert scope.identifiers() == {"correlation.id": "c"}
        scope.bind({"correlation.id": "up", "user.id": "u"}, UPSTREAM)
        scope.bind({"correlation.id": "url"}, URL)
        assert scope.identifiers() == {"correlation.id": "c", "user.id": "u"}
        scope.bind({"correlation__id": "app"})
        assert scope.identifiers()["correlation.id"] == "app"
        scope.bind({"correlation.id": None})
        assert scope.identifiers() == {"user.id": "u"}

    def test_the_span_keeps_the_winner(self, tracer: trace.Tracer) -> None:
        """A refused bind writes no span attribute either."""
        with tracer.start_as_current_span("a") as span:
            scope = RequestScope(span)
            scope.bind({"organisation.id": 8}, URL)
            scope.bind({"organisation.id": 7}, RESOLVER)
        assert dict(span.attributes or {}) == {"organisation.id": "8"}


class TestAsText:
    def test_str_or_a_placeholder(self) -> None:
        """str() of the value; one whose __str__ raises gives a placeholder, never raises."""

        class Broken:
            def __str__(self) -> str:
                raise RuntimeError

        assert as_text(7) == "7"
        assert as_text(Broken()) == "<unprintable Broken>"
