"""The flight recorder: a sampled-out request's chatter held, written if the request mattered."""

from __future__ import annotations

import io
import json
import logging
import time
from typing import TYPE_CHECKING, Any

import pytest
import structlog
from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from otel_context import (
    FlightRecorder,
    LogSamplingFilter,
    LogSamplingProcessor,
    StructlogOTelProcessor,
    conf,
    flight_recorder,
    log_sampling,
)
from otel_context.scope import RequestScope, attach_scope
from tests._logging import logger_to

if TYPE_CHECKING:
    from collections.abc import Iterator

DROPPED_AT_HALF = 0x4BF92F3577B34DA6A3CE929D0E0E4736


class Lines:
    """A logger that writes rendered lines into a list (as WriteLogger writes to a file)."""

    def __init__(self) -> None:
        self.written: list[dict[str, Any]] = []

    def msg(self, line: str) -> None:
        self.written.append(json.loads(line))

    debug = info = warning = error = critical = exception = msg

    def events(self) -> list[str]:
        return [line["event"] for line in self.written]


@pytest.fixture
def out() -> Lines:
    return Lines()


def logger_for(out: Lines, *export: Any) -> Any:
    processors: list[Any] = [
        LogSamplingProcessor(),
        structlog.processors.add_log_level,
        StructlogOTelProcessor(),
        *export,
        structlog.processors.TimeStamper(fmt="iso"),
        FlightRecorder(structlog.processors.JSONRenderer()),
    ]
    return structlog.wrap_logger(out, processors=processors)


def holding(**options: object) -> conf.Config:
    """HOLD_LINES on for a ratio of 0, with *options*."""
    return conf.configure(
        **{"hold_lines": True, "unsampled_log_ratio": 0, "hold_slow_ms": 0, **options}
    )


@pytest.fixture
def request_scope() -> Iterator[RequestScope]:
    """A sampled-out request, HOLD_LINES on: its scope holds lines until it is closed."""
    config = holding()
    flags = TraceFlags(TraceFlags.DEFAULT)
    span = NonRecordingSpan(SpanContext(DROPPED_AT_HALF, 0xF067AA0BA902B7, False, flags))
    token = context_api.attach(trace.set_span_in_context(span))
    scope = RequestScope(span)
    scope.held = flight_recorder.held_lines(span, config)
    assert scope.held is not None
    scope_token = attach_scope(scope)
    yield scope
    scope.close()
    context_api.detach(scope_token)
    context_api.detach(token)


def end(scope: RequestScope, status: int) -> None:
    assert scope.held is not None
    scope.held.status = status
    scope.close()


class TestOutcome:
    def test_a_fine_request_writes_nothing_held(self, out: Lines, request_scope: Any) -> None:
        """200, fast, no error: the chatter goes; warnings were written as they came."""
        log = logger_for(out)
        log.info("a")
        log.warning("w")
        log.debug("b")
        end(request_scope, 200)
        assert out.events() == ["w"]

    @pytest.mark.parametrize(("status", "why"), [(500, "error"), (0, "unfinished")])
    def test_a_failed_or_unfinished_request_writes_them(
        self, out: Lines, request_scope: Any, status: int, why: str
    ) -> None:
        """5xx (an exception is one), or no response at all: every held line, in order.

        Each keeps its own timestamp (rendered when logged) and says it was held.
        """
        log = logger_for(out)
        log.info("a")
        log.warning("w")
        time.sleep(0.002)
        log.debug("b")
        end(request_scope, status)
        assert out.events() == ["w", "a", "b"]
        a, b = out.written[1], out.written[2]
        assert a["log.held"] is b["log.held"] is True
        assert a["log.held.written"] == b["log.held.written"] == why  # as on the span
        assert "log.held" not in out.written[0]
        assert "log.held.written" not in out.written[0]
        assert a["timestamp"] < out.written[0]["timestamp"] < b["timestamp"]
        assert a["trace_id"] == f"{DROPPED_AT_HALF:032x}"

    def test_an_error_line_writes_them_first(self, out: Lines, request_scope: Any) -> None:
        """At ERROR the held lines go out before it; later lines are written as they come."""
        log = logger_for(out)
        log.info("a")
        log.error("boom")
        log.info("after")
        end(request_scope, 200)
        assert out.events() == ["a", "boom", "after"]
        assert [line.get("log.held", False) for line in out.written] == [True, False, False]
        assert [line.get("log.held.written") for line in out.written] == ["error", None, None]

    def test_a_slow_request_writes_them(self, out: Lines, request_scope: Any) -> None:
        """Longer than HOLD_SLOW_MS: written."""
        request_scope.held._config = holding(hold_slow_ms=1)
        log = logger_for(out)
        log.info("a")
        time.sleep(0.005)
        end(request_scope, 200)
        assert out.events() == ["a"]
        assert out.written[0]["log.held.written"] == "slow"

    def test_exit_writes_what_is_in_flight(self, out: Lines, request_scope: Any) -> None:
        """The process exits (SIGTERM, a worker timeout): in-flight held lines are written."""
        log = logger_for(out)
        log.info("a")
        flight_recorder.flush_at_exit()
        log.info("b")
        assert out.events() == ["a", "b"]
        assert out.written[0]["log.held.written"] == "exit"
        assert "log.held" not in out.written[1]  # decided: written as it came

    def test_nothing_is_left_for_the_next_request(self, out: Lines, request_scope: Any) -> None:
        """A closed scope holds nothing: the process counter is back to where it was."""
        before = flight_recorder._process_bytes[0]
        logger_for(out).info("a")
        assert flight_recorder._process_bytes[0] > before
        end(request_scope, 200)
        assert flight_recorder._process_bytes[0] == before
        assert request_scope.held is None


class TestBounds:
    def test_oldest_lines_go_first_and_are_counted(
        self, out: Lines, request_scope: Any, caplog: pytest.LogCaptureFixture
    ) -> None:
        """HOLD_MAX_LINES=3 and 10 lines: the last 3 are written, 7 counted in a warning."""
        request_scope.held._config = holding(hold_max_lines=3)
        log = logger_for(out)
        for name in ("l0", "l1", "l2", "l3", "l4", "l5", "l6", "l7", "l8", "l9"):
            log.info(name)
        with caplog.at_level(logging.WARNING, "otel_context.flight_recorder"):
            end(request_scope, 500)
        assert out.events() == ["l7", "l8", "l9"]
        assert "7 held log lines of this request were dropped" in caplog.text

    def test_a_huge_line_is_dropped_and_the_request_goes_on(
        self, out: Lines, request_scope: Any
    ) -> None:
        """A line over HOLD_MAX_BYTES alone is never held; later lines are."""
        request_scope.held._config = holding(hold_max_bytes=1000)
        log = logger_for(out)
        log.info("big", blob="x" * 5000)
        log.info("small")
        assert request_scope.held.bytes < 1000
        end(request_scope, 500)
        assert out.events() == ["small"]

    def test_the_process_bound(self, out: Lines, request_scope: Any) -> None:
        """Beyond HOLD_MAX_PROCESS_BYTES nothing more is held (dropped, counted)."""
        request_scope.held._config = holding(hold_max_process_bytes=0)
        logger_for(out).info("a")
        assert request_scope.held.dropped == 1
        end(request_scope, 500)
        assert out.events() == []

    def test_100000_lines_stay_within_bounds(self, out: Lines, request_scope: Any) -> None:
        """A view logging 100,000 lines holds at most HOLD_MAX_LINES of them."""
        log = logger_for(out)
        for _ in range(100_000):
            log.debug("spam")
        assert len(request_scope.held.lines) == 1000
        assert request_scope.held.dropped == 99_000


class TestElsewhere:
    def test_outside_a_holding_request_the_recorder_just_renders(self, out: Lines) -> None:
        """No scope (or HOLD_LINES off): every line is rendered and written at once."""
        logger_for(out).info("a")
        assert out.events() == ["a"]
        assert "log.held" not in out.written[0]

    def test_a_sampled_request_holds_nothing(self) -> None:
        """held_lines() is None for a sampled trace, a kept one, or the feature off."""
        config = conf.configure(hold_lines=True, unsampled_log_ratio=0)
        flags = TraceFlags(TraceFlags.SAMPLED)
        sampled = NonRecordingSpan(SpanContext(DROPPED_AT_HALF, 1, False, flags))
        assert flight_recorder.held_lines(sampled, config) is None
        off = conf.configure(hold_lines=True)
        assert flight_recorder.held_lines(trace.INVALID_SPAN, off) is None

    def test_a_stdlib_error_record_writes_them_first(self, out: Lines, request_scope: Any) -> None:
        """LogSamplingFilter on a handler: an ERROR record (Django's 500) flushes held lines."""
        logger_for(out).info("a")
        record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "x", None, None)
        assert LogSamplingFilter().filter(record)
        assert out.events() == ["a"]
        assert request_scope.held.due == "error"

    def test_held_lines_through_a_stdlib_logger_pass_the_filter(self, request_scope: Any) -> None:
        """structlog on a stdlib Logger whose handler has LogSamplingFilter: written when due."""
        seen: list[str] = []
        handler = logging.Handler()
        handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
        handler.addFilter(LogSamplingFilter())
        with logger_to("tests.flight_recorder.stdlib", handler) as stdlib:
            log = structlog.wrap_logger(
                stdlib,
                processors=[LogSamplingProcessor(), FlightRecorder(lambda _l, _m, e: e["event"])],
            )
            log.info("a")
            stdlib.info("direct")  # a stdlib record of the same request: dropped at once
            assert seen == []
            end(request_scope, 500)
        assert seen == ["a"]

    @pytest.mark.parametrize("status", [500, 200])
    def test_a_processor_formatter_chain_holds_too(self, request_scope: Any, status: int) -> None:
        """structlog -> stdlib with ``wrap_for_formatter``: the line is held, then, if the
        request matters, handed to the logger and rendered by the handler's
        ``ProcessorFormatter``, marked held, with its own timestamp; else never rendered."""
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(
            structlog.stdlib.ProcessorFormatter(processor=structlog.processors.JSONRenderer())
        )
        handler.addFilter(LogSamplingFilter())
        with logger_to("tests.flight_recorder.formatter", handler) as stdlib:
            log = structlog.wrap_logger(
                stdlib,
                wrapper_class=structlog.stdlib.BoundLogger,
                processors=[
                    LogSamplingProcessor(),
                    structlog.processors.TimeStamper(fmt="iso"),
                    FlightRecorder(structlog.stdlib.ProcessorFormatter.wrap_for_formatter),
                ],
            )
            log.info("a", n=1)
            assert stream.getvalue() == ""  # held
            stamped = request_scope.held.lines[0].event["timestamp"]
            end(request_scope, status)
        lines = [json.loads(line) for line in stream.getvalue().splitlines()]
        if status == 200:
            assert lines == []
            return
        ((line),) = lines
        assert (line["event"], line["n"], line["log.held"]) == ("a", 1, True)
        assert (line["log.held.written"], line["timestamp"]) == ("error", stamped)

    @pytest.mark.usefixtures("request_scope")
    def test_without_any_recorder_nothing_is_left_to_one(self) -> None:
        """HOLD_LINES but no FlightRecorder (W010): the line is dropped, not written marked."""
        count = log_sampling.RECORDERS[0]
        log_sampling.RECORDERS[0] = 0
        try:
            with pytest.raises(structlog.DropEvent):
                LogSamplingProcessor()(None, "info", {"event": "a"})
        finally:
            log_sampling.RECORDERS[0] = count
