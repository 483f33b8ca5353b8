"""capture() / restore(): a request's trace and ids into a task, and a tampered carrier out."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import TYPE_CHECKING, Any

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry import baggage, trace
from opentelemetry import context as context_api
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON

import otel_context
from otel_context import conf
from otel_context import task_carrier as tasks
from otel_context.propagation import parse_baggage
from otel_context.scope import RequestScope, scoped
from tests._logging import holding_logger

if TYPE_CHECKING:
    from collections.abc import Iterator

    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

IDS = {
    "correlation.id": "3f2c1a9e0b7d4e5f8a6b9c0d1e2f3a4b",
    "user.id": "1042",
    "organisation.id": "17",
    "project.id": "305",
}
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_ID = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"
log = structlog.get_logger("tests.tasks")


@pytest.fixture
def request_span(tracer: trace.Tracer) -> Iterator[trace.Span]:
    """A request: a current span and a scope with the standard ids (both closed after)."""
    with tracer.start_as_current_span("GET /orders/") as span, scoped(RequestScope(span), **IDS):
        yield span


def _fresh() -> Any:
    """A new, empty context: where a worker runs a task."""
    return context_api.attach(context_api.Context())


def restored_ids(carrier: object) -> dict[str, str]:
    token = _fresh()
    try:
        with tasks.restore(carrier):
            return otel_context.get_identifiers()
    finally:
        context_api.detach(token)


def restored_parent(carrier: object) -> trace.SpanContext:
    token = _fresh()
    try:
        with tasks.restore(carrier):
            return trace.get_current_span().get_span_context()
    finally:
        context_api.detach(token)


def fail_inside(carrier: object) -> None:
    with tasks.restore(carrier):
        msg = "task failed"
        raise ValueError(msg)


class TestCapture:
    def test_outside_a_span_and_a_scope_it_is_empty(self) -> None:
        """Nothing to carry: an empty carrier, so a producer can skip the header."""
        assert tasks.capture() == {}

    def test_carries_traceparent_and_the_ids_as_baggage(self, request_span: trace.Span) -> None:
        """traceparent of the current span, baggage with every id; strings only."""
        carrier = tasks.capture()
        ctx = request_span.get_span_context()
        assert set(carrier) == {"traceparent", "baggage"}
        assert carrier["traceparent"].startswith(f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-")
        assert parse_baggage(carrier["baggage"]) == IDS
        assert json.loads(json.dumps(carrier)) == carrier

    def test_typical_carrier_size(self, request_span: trace.Span) -> None:
        """Trace context, a UUID-hex correlation id and three short ids: 180 bytes as JSON."""
        size = len(json.dumps(tasks.capture(), separators=(",", ":")).encode())
        assert size == 180

    def test_nothing_else_from_the_context_travels(self, tracer: trace.Tracer) -> None:
        """No structlog contextvars, no inbound baggage: only the scope's identifiers."""
        ctx = baggage.set_baggage("client.key", "from-a-client")
        structlog.contextvars.bind_contextvars(basket="b-42")
        token = context_api.attach(ctx)
        try:
            with tracer.start_as_current_span("req") as span, scoped(RequestScope(span), **IDS):
                carrier = tasks.capture()
        finally:
            context_api.detach(token)
            structlog.contextvars.clear_contextvars()
        assert "from-a-client" not in json.dumps(carrier)
        assert "b-42" not in json.dumps(carrier)

    def test_only_outbound_keys_travel(self, request_span: trace.Span) -> None:
        """OUTBOUND_BAGGAGE_KEYS filters the ids, as for outgoing HTTP calls."""
        conf.configure(outbound_baggage_keys=["correlation.id", "organisation."])
        carrier = tasks.capture()
        assert parse_baggage(carrier["baggage"]) == {
            "correlation.id": IDS["correlation.id"],
            "organisation.id": "17",
        }

    def test_no_ids_without_propagate_identifiers(self, request_span: trace.Span) -> None:
        """PROPAGATE_IDENTIFIERS=false: the trace context still travels, the ids do not."""
        conf.configure(propagate_identifiers=False)
        assert set(tasks.capture()) == {"traceparent"}

    def test_tracestate_travels(self, tracer: trace.Tracer) -> None:
        """A vendor's tracestate goes along with the traceparent."""
        parent = trace.SpanContext(
            int(TRACE_ID, 16),
            int(PARENT_ID, 16),
            is_remote=True,
            trace_state=trace.TraceState([("vendor", "opaque")]),
        )
        token = context_api.attach(trace.set_span_in_context(trace.NonRecordingSpan(parent)))
        try:
            with tracer.start_as_current_span("req"):
                carrier = tasks.capture()
        finally:
            context_api.detach(token)
        assert carrier["tracestate"] == "vendor=opaque"

    def test_never_raises(self, request_span: trace.Span, monkeypatch: pytest.MonkeyPatch) -> None:
        """A failure while capturing gives an empty carrier: enqueueing goes on."""

        def broken() -> None:
            msg = "configuration exploded"
            raise RuntimeError(msg)

        monkeypatch.setattr(tasks, "get_config", broken)
        assert tasks.capture() == {}

    def test_the_ids_are_cut_to_fit_the_size_limit(self, tracer: trace.Tracer) -> None:
        """However many ids are bound, what capture makes, restore accepts."""
        many = {f"app.key{i}": "v" * 200 for i in range(100)}
        with tracer.start_as_current_span("req") as span, scoped(RequestScope(span), **many):
            carrier = tasks.capture()
        assert sum(len(value) for value in carrier.values()) <= tasks.MAX_CARRIER_SIZE
        assert len(restored_ids(carrier)) > 30


class TestRestore:
    def test_round_trip(self, request_span: trace.Span, events: list[dict[str, object]]) -> None:
        """Events in the task carry the request's trace id and ids, and no span id of its own.

        With no span started in the task, the current span is the request's, remote here: its
        span id is not this process's (issue 21), so the line names none.
        """
        carrier = tasks.capture()
        ctx = request_span.get_span_context()
        token = _fresh()
        try:
            with tasks.restore(carrier):
                log.info("task.ran")
                assert otel_context.get_identifiers() == IDS
        finally:
            context_api.detach(token)
        (event,) = (e for e in events if e["event"] == "task.ran")
        assert event["trace_id"] == f"{ctx.trace_id:032x}"
        assert "span_id" not in event
        assert {key: event[key] for key in IDS} == IDS

    @pytest.mark.parametrize(
        ("sampled", "written"), [(False, ["warning"]), (True, ["info", "warning"])]
    )
    @pytest.mark.usefixtures("instrumented")
    def test_log_sampling_follows_the_requests_trace(
        self, *, sampled: bool, written: list[str]
    ) -> None:
        """A task of a sampled-out request drops its lines below WARNING, in its own span too."""
        sampler = ALWAYS_ON if sampled else ALWAYS_OFF
        producer = TracerProvider(sampler=sampler, shutdown_on_exit=False).get_tracer("t")
        with producer.start_as_current_span("GET /") as span, scoped(RequestScope(span), **IDS):
            carrier = tasks.capture()
        logger = structlog.wrap_logger(
            structlog.testing.CapturingLogger(),
            processors=[otel_context.LogSamplingProcessor(ratio=0.0), lambda _l, _m, e: e["event"]],
        )
        token = _fresh()
        try:
            with tasks.restore(carrier, span_name="send_mail"):
                logger.info("step")
                logger.warning("slow")
        finally:
            context_api.detach(token)
        assert [call.method_name for call in logger._logger.calls] == written

    @pytest.mark.parametrize("span_name", [None, "send_mail"])
    @pytest.mark.parametrize(("fails", "written"), [(False, []), (True, ["error"])])
    @pytest.mark.usefixtures("instrumented")
    def test_held_lines_of_a_sampled_out_task(
        self, *, span_name: str | None, fails: bool, written: list[str]
    ) -> None:
        """HOLD_LINES: a task's dropped chatter is written, with its ids, if the block raised."""
        conf.configure(hold_lines=True, unsampled_log_ratio=0, hold_slow_ms=0)
        producer = TracerProvider(sampler=ALWAYS_OFF, shutdown_on_exit=False).get_tracer("t")
        with producer.start_as_current_span("GET /") as span, scoped(RequestScope(span), **IDS):
            carrier = tasks.capture()
        lines: list[dict[str, Any]] = []
        logger = holding_logger(lines)

        def body() -> None:
            logger.info("step")
            if fails:
                raise LookupError

        token = _fresh()
        try:
            with contextlib.suppress(LookupError), tasks.restore(carrier, span_name=span_name):
                body()
        finally:
            context_api.detach(token)
        assert [line.get("log.held.written") for line in lines] == written
        assert all(line["user.id"] == IDS["user.id"] for line in lines)
        assert otel_context.flight_recorder.held_now() == (0, 0)

    @pytest.mark.usefixtures("instrumented")
    def test_span_name_starts_a_child_span_with_the_ids(
        self, request_span: trace.Span, exporter: InMemorySpanExporter
    ) -> None:
        """With span_name, a span of the carried trace, parented on the producer's span."""
        carrier = tasks.capture()
        token = _fresh()
        try:
            with tasks.restore(carrier, span_name="send_mail") as scope:
                scope.bind({"mail.id": "m-1"})
        finally:
            context_api.detach(token)
        (span,) = (s for s in exporter.get_finished_spans() if s.name == "send_mail")
        producer = request_span.get_span_context()
        assert span.context is not None
        assert span.context.trace_id == producer.trace_id
        assert span.parent is not None
        assert span.parent.span_id == producer.span_id
        assert span.attributes is not None
        assert {key: span.attributes[key] for key in IDS} == IDS
        assert span.attributes["mail.id"] == "m-1"

    def test_leaves_nothing_behind(self, request_span: trace.Span) -> None:
        """After the block the context is what it was, and the task's scope is closed."""
        carrier = tasks.capture()
        token = _fresh()
        try:
            with tasks.restore(carrier) as scope:
                pass
            assert dict(context_api.get_current()) == {}
            assert scope.closed
        finally:
            context_api.detach(token)

    def test_an_exception_in_the_task_propagates_and_detaches(
        self, request_span: trace.Span
    ) -> None:
        """restore never swallows the task's exception, and detaches on the way out."""
        carrier = tasks.capture()
        token = _fresh()
        try:
            with pytest.raises(ValueError, match="task failed"):
                fail_inside(carrier)
            assert dict(context_api.get_current()) == {}
        finally:
            context_api.detach(token)

    def test_no_carrier_means_a_new_trace_and_a_generated_correlation_id(self) -> None:
        """A task enqueued outside a request: no parent, a fresh correlation id only."""
        ids = restored_ids(None)
        assert set(ids) == {"correlation.id"}
        assert not restored_parent(None).is_valid

    def test_without_a_parent_the_runner_span_continues(
        self, tracer: trace.Tracer, exporter: InMemorySpanExporter
    ) -> None:
        """No traceparent: the runner's own span stays current and gets the ids."""
        carrier = {"baggage": "user.id=7"}
        with tracer.start_as_current_span("runner.job") as runner, tasks.restore(carrier):
            assert trace.get_current_span() is runner
        (span,) = exporter.get_finished_spans()
        assert span.attributes is not None
        assert span.attributes["user.id"] == "7"

    def test_span_attributes_setting_is_respected(
        self, tracer: trace.Tracer, exporter: InMemorySpanExporter
    ) -> None:
        """SPAN_ATTRIBUTES=false: ids on events, not on spans."""
        conf.configure(span_attributes=False)
        with tracer.start_as_current_span("runner.job"), tasks.restore({"baggage": "user.id=7"}):
            assert otel_context.get_identifiers()["user.id"] == "7"
        (span,) = exporter.get_finished_spans()
        assert "user.id" not in (span.attributes or {})


class TestTamperedCarriers:
    @pytest.mark.parametrize(
        "carrier",
        [None, "traceparent", 42, ["traceparent", TRACEPARENT], b"{}", object(), {1: 2}],
    )
    def test_a_carrier_that_is_no_mapping_is_ignored(self, carrier: object) -> None:
        """Not a mapping: the task runs in a new trace with a generated correlation id."""
        assert set(restored_ids(carrier)) == {"correlation.id"}
        assert not restored_parent(carrier).is_valid

    def test_values_that_are_no_strings_are_ignored(self) -> None:
        """Each non-string entry is dropped; the others still count."""
        carrier = {"traceparent": 12345, "tracestate": None, "baggage": "user.id=7"}
        assert restored_ids(carrier)["user.id"] == "7"
        carrier = {"traceparent": TRACEPARENT, "baggage": ["user.id=7"]}
        assert "user.id" not in restored_ids(carrier)
        assert restored_parent(carrier).trace_id == int(TRACE_ID, 16)

    @pytest.mark.parametrize(
        "carrier",
        [
            # the ids as entries of their own, next to the trace context
            {"traceparent": TRACEPARENT, "baggage": "user.id=7", "user.id": "99", "v": "1"},
            # a producer that shipped its structlog contextvars whole (django-structlog #34)
            {"traceparent": TRACEPARENT, "baggage": "user.id=7", "contextvars": {"user.id": 9}},
            # a correlation id outside the baggage is not taken either
            {"traceparent": TRACEPARENT, "baggage": "user.id=7", "correlation.id": "forged"},
        ],
        ids=["top-level-ids", "contextvars", "top-level-correlation-id"],
    )
    def test_a_carrier_of_an_older_shape_keeps_only_what_it_can(self, carrier: object) -> None:
        """Entries this version does not know are ignored; its own entries still count."""
        ids = restored_ids(carrier)
        assert set(ids) == {"correlation.id", "user.id"}
        assert ids["user.id"] == "7"
        assert ids["correlation.id"] != "forged"
        assert restored_parent(carrier).trace_id == int(TRACE_ID, 16)

    def test_an_oversized_carrier_is_ignored_whole(self) -> None:
        """Over 8 KB: not even its traceparent or its valid ids are used."""
        carrier = {"traceparent": TRACEPARENT, "baggage": "user.id=7," + "x=" + "y" * 9000}
        assert set(restored_ids(carrier)) == {"correlation.id"}
        assert not restored_parent(carrier).is_valid

    @pytest.mark.parametrize(
        "traceparent",
        [
            "junk",
            f"00-{'0' * 32}-{PARENT_ID}-01",
            f"00-{TRACE_ID}-{'0' * 16}-01",
            f"ff-{TRACE_ID}-{PARENT_ID}-01",
            f"00-{TRACE_ID.upper()}-{PARENT_ID}-01",
            f"00-{TRACE_ID}-{PARENT_ID}-01-extra",
            "",
        ],
    )
    def test_an_invalid_traceparent_starts_a_new_trace(self, traceparent: str) -> None:
        """Junk trace context: a new trace; the carrier's valid ids are still restored."""
        carrier = {"traceparent": traceparent, "baggage": "user.id=7"}
        assert not restored_parent(carrier).is_valid
        assert restored_ids(carrier)["user.id"] == "7"

    def test_a_malformed_tracestate_is_dropped_and_the_trace_kept(self) -> None:
        """A tracestate with CR/LF or over 512 characters: parent kept, vendor state not."""
        for tracestate in ("a=b\r\nX-Evil: 1", "a=" + "b" * 600):
            parent = restored_parent({"traceparent": TRACEPARENT, "tracestate": tracestate})
            assert parent.trace_id == int(TRACE_ID, 16)
            assert len(parent.trace_state) == 0

    @pytest.mark.parametrize(
        "header",
        [
            "user.id=7%0D%0AX-Evil%3A%201",
            "user.id=7\r\nX-Evil: 1",
            "user.id=%00",
            "user.id=" + "7" * 300,
            "user.id",
        ],
    )
    def test_unprintable_or_oversized_values_are_dropped(self, header: str) -> None:
        """CR/LF (raw or encoded), NUL, over 256 characters, no value: the id is dropped."""
        assert "user.id" not in restored_ids({"baggage": header})

    def test_a_forged_correlation_id_is_replaced(self, caplog: pytest.LogCaptureFixture) -> None:
        """An unsafe correlation id is replaced by a generated one, and never logged."""
        caplog.set_level(logging.DEBUG)
        ids = restored_ids({"baggage": "correlation.id=%3Cscript%3Ealert(1)%3C%2Fscript%3E"})
        assert ids["correlation.id"].isalnum()
        assert "script" not in caplog.text

    def test_a_trusted_correlation_id_keeps_its_shape(self) -> None:
        """TRUST_CORRELATION_ID: ids a trusted proxy set keep their header-safe shape."""
        conf.configure(trust_correlation_id=True)
        assert restored_ids({"baggage": "correlation.id=abc%2F123%40edge"})["correlation.id"] == (
            "abc/123@edge"
        )

    def test_keys_neither_server_owned_nor_allowlisted_are_dropped(self) -> None:
        """Only server-owned keys and OUTBOUND_BAGGAGE_KEYS matches come back."""
        conf.configure(outbound_baggage_keys=["tenant."])
        ids = restored_ids({"baggage": "user.id=7,tenant.id=t-1,evil.key=x"})
        assert ids.keys() == {"correlation.id", "user.id", "tenant.id"}

    def test_a_thousand_entries_are_capped(self) -> None:
        """1000 baggage members, or 1000 carrier keys: bounded, never an error."""
        header = ",".join(f"k{i}=v" for i in range(1000))
        assert len(restored_ids({"baggage": header})) <= tasks.MAX_IDENTIFIERS + 1
        carrier = {f"key{i}": "value" for i in range(1000)} | {"baggage": "user.id=7"}
        assert restored_ids(carrier)["user.id"] == "7"

    def test_read_never_raises(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """An internal error while reading: the task still runs, with a generated id."""

        def broken(*args: object) -> None:
            msg = "parser exploded"
            raise RuntimeError(msg)

        monkeypatch.setattr(tasks, "parse_baggage", broken)
        carried = tasks.read({"baggage": "user.id=7"})
        assert carried.parent is None
        assert set(carried.identifiers) == {"correlation.id"}

    @given(
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=300),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(
                    st.sampled_from(["traceparent", "tracestate", "baggage", "x"]) | st.text(),
                    inner,
                    max_size=4,
                )
            ),
            max_leaves=10,
        )
    )
    def test_any_carrier_gives_bounded_printable_ids(self, carrier: object) -> None:
        """Whatever comes off the queue: no exception; ids are printable and bounded."""
        ids = tasks.read(carrier, conf.get_config()).identifiers
        assert "correlation.id" in ids
        assert len(ids) <= tasks.MAX_IDENTIFIERS + 1
        assert all(value.isprintable() and len(value) <= 256 for value in ids.values())


class TestRestored:
    def test_the_carrier_keyword_is_taken_off(self, request_span: trace.Span) -> None:
        """The function gets its own arguments; the ids are current inside it."""

        @tasks.restored()
        def send_mail(to: str) -> tuple[str, dict[str, str]]:
            return to, otel_context.get_identifiers()

        carrier = tasks.capture()
        token = _fresh()
        try:
            assert send_mail("a@example.com", otel_context=carrier) == ("a@example.com", IDS)
        finally:
            context_api.detach(token)

    def test_a_function_that_declares_the_keyword_still_receives_it(
        self, request_span: trace.Span
    ) -> None:
        """A parameter of that name is left in place."""

        @tasks.restored("trace_context")
        def run(trace_context: dict[str, str]) -> bool:
            return otel_context.get_identifiers() == IDS and "traceparent" in trace_context

        carrier = tasks.capture()
        token = _fresh()
        try:
            assert run(trace_context=carrier)
        finally:
            context_api.detach(token)

    @pytest.mark.usefixtures("instrumented")
    def test_span_name_and_a_missing_carrier(self, exporter: InMemorySpanExporter) -> None:
        """Called without a carrier: its own trace, a span, a generated correlation id."""

        @tasks.restored(span_name="nightly")
        def nightly() -> dict[str, str]:
            return otel_context.get_identifiers()

        assert set(nightly()) == {"correlation.id"}
        (span,) = exporter.get_finished_spans()
        assert span.name == "nightly"
        assert span.parent is None

    def test_coroutine_functions(self, request_span: trace.Span) -> None:
        """An async task body is restored around its whole run, awaits included."""

        @tasks.restored()
        async def job() -> dict[str, str]:
            await asyncio.sleep(0)
            return otel_context.get_identifiers()

        carrier = tasks.capture()
        token = _fresh()
        try:
            assert asyncio.run(job(otel_context=carrier)) == IDS
        finally:
            context_api.detach(token)
