"""Stdlib records held by HeldHandler, beside the structlog lines of the same request."""

from __future__ import annotations

import contextlib
import logging
import subprocess
import sys
import textwrap
import warnings
from typing import TYPE_CHECKING, Any

import pytest
from opentelemetry import context as context_api
from opentelemetry import trace

from otel_context import flight_recorder, task_carrier
from otel_context.held_records import HeldHandler
from tests.test_flight_recorder import (
    DROPPED_AT_HALF,
    Lines,
    end,
    holding,
    logger_for,
    out,
    request_scope,
)
from tests.test_held_export import Sink

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["out", "request_scope"]  # the fixtures, shared with the recorder's tests


class Kept(logging.Handler):
    """The target: keeps what it handles (message, and the held marks)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, object, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        held = getattr(record, "log.held", None)
        self.seen.append((record.getMessage(), held, getattr(record, "log.held.written", None)))


@pytest.fixture
def target() -> Iterator[Kept]:
    kept = Kept()
    stdlib = logging.getLogger("tests.held_records")
    handler = HeldHandler(kept)
    stdlib.addHandler(handler)
    stdlib.setLevel(logging.DEBUG)
    stdlib.propagate = False
    yield kept
    stdlib.removeHandler(handler)
    stdlib.propagate = True


def log() -> logging.Logger:
    return logging.getLogger("tests.held_records")


class TestHeldHandler:
    def test_a_fine_request_drops_its_info_records(self, target: Kept, request_scope: Any) -> None:
        """Held, then dropped; the warning goes through at once."""
        log().info("chatter %s", 1)
        log().warning("careful")
        assert target.seen == [("careful", None, None)]
        end(request_scope, 200)
        assert target.seen == [("careful", None, None)]

    def test_a_failed_request_writes_them_marked(self, target: Kept, request_scope: Any) -> None:
        """5xx: each held record handed to the target, in order, with log.held and why."""
        log().info("a %s", "x")
        log().debug("b")
        assert target.seen == []
        end(request_scope, 500)
        assert target.seen == [("a x", True, "error"), ("b", True, "error")]

    @pytest.mark.parametrize(("fails", "seen"), [(False, []), (True, [("task", True, "error")])])
    def test_a_task_holds_its_records_as_a_request_does(
        self, target: Kept, *, fails: bool, seen: list[tuple[str, object, object]]
    ) -> None:
        """A task of a sampled-out trace (``task_carrier.restore``): held, written if it raised."""
        holding()
        flags = trace.TraceFlags(trace.TraceFlags.DEFAULT)
        unsampled = trace.NonRecordingSpan(
            trace.SpanContext(DROPPED_AT_HALF, 0xF067AA0BA902B7, False, flags)
        )
        with trace.use_span(unsampled):
            carrier = task_carrier.capture()

        def body() -> None:
            log().info("task")
            if fails:
                raise LookupError

        with contextlib.suppress(LookupError), task_carrier.restore(carrier):
            body()
        assert target.seen == seen

    def test_an_error_record_writes_them_first(self, target: Kept, request_scope: Any) -> None:
        """Held records go before the ERROR record; later ones go through as they come."""
        log().info("a")
        log().error("boom")
        log().info("after")
        assert target.seen == [("a", True, "error"), ("boom", None, None), ("after", None, None)]

    def test_with_structlog_lines_in_one_order(
        self, target: Kept, out: Lines, request_scope: Any
    ) -> None:
        """Structlog lines and stdlib records of a request share one held buffer and order."""
        structlog_log = logger_for(out)
        order: list[str] = []
        out.info = lambda line: order.append("structlog")  # type: ignore[method-assign]
        target.emit = lambda record: order.append("stdlib")  # type: ignore[method-assign]
        structlog_log.info("s1")
        log().info("r1")
        structlog_log.info("s2")
        end(request_scope, 500)
        assert order == ["structlog", "stdlib", "structlog"]

    def test_bounds_are_shared(self, target: Kept, request_scope: Any) -> None:
        """HOLD_MAX_LINES counts records too; a huge record is dropped alone."""
        request_scope.held._config = holding(hold_max_lines=2, hold_max_bytes=2000)
        log().info("x" * 5000)
        for index in range(4):
            log().info("r%d", index)
        assert len(request_scope.held.lines) == 2
        assert flight_recorder.held_now()[1] <= 2000
        end(request_scope, 500)
        assert [seen[0] for seen in target.seen] == ["r2", "r3"]

    def test_outside_a_holding_request_it_passes_records_on(self, target: Kept) -> None:
        """No request (start-up, a command): every record reaches the target."""
        log().info("plain")
        assert target.seen == [("plain", None, None)]

    def test_a_broken_target_never_raises_into_the_request(self, request_scope: Any) -> None:
        """A target that raises when the held record is written: counted, not raised."""

        class Broken(logging.Handler):
            def handle(self, record: logging.LogRecord) -> bool:
                raise RuntimeError

        handler = HeldHandler(Broken())
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
        handler.handle(record)
        held = request_scope.held
        end(request_scope, 500)
        assert held.failed == 1

    def test_exit_hands_them_over_in_their_own_context(
        self, target: Kept, request_scope: Any
    ) -> None:
        """Written at exit from elsewhere: the target handles them in the request's context."""
        traces: list[int] = []
        target.emit = lambda record: traces.append(  # type: ignore[method-assign]
            trace.get_current_span().get_span_context().trace_id
        )
        log().info("a")
        token = context_api.attach(context_api.Context())
        try:
            flight_recorder.flush_at_exit()
        finally:
            context_api.detach(token)
        assert traces == [DROPPED_AT_HALF]


def test_logging_dict_config_resolves_the_target_by_name() -> None:
    """LOGGING: "class" HeldHandler and "target" a handler's name, as for MemoryHandler."""
    script = textwrap.dedent(
        """
        import logging.config
        logging.config.dictConfig({
            "version": 1,
            "handlers": {
                "console": {"class": "logging.StreamHandler", "stream": "ext://sys.stdout"},
                "held": {"class": "otel_context.held_records.HeldHandler", "target": "console"},
            },
            "loggers": {"app": {"handlers": ["held"], "level": "INFO"}},
        })
        logging.getLogger("app").info("outside any request")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "outside any request\n"


def test_an_otel_logging_handler_exports_them_held_once(request_scope: Any) -> None:
    """The target an OTel LoggingHandler: a held record exported when written, with log.held,
    why, its own creation time and the request's trace, from a context that has none."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the SDK's handler, deprecated
        from opentelemetry.sdk._logs import LoggingHandler

        made = Sink()
        handler = HeldHandler(LoggingHandler(logger_provider=made.provider))
    stdlib = logging.getLogger("tests.held_records.otel")
    stdlib.addHandler(handler)
    stdlib.setLevel(logging.DEBUG)
    stdlib.propagate = False
    try:
        stdlib.info("held %d", 1)
        assert made.records() == []
        token = context_api.attach(context_api.Context())
        try:
            end(request_scope, 500)
        finally:
            context_api.detach(token)
        (record,) = made.records()
    finally:
        stdlib.removeHandler(handler)
        made.provider.shutdown()
    assert record.body == "held 1"
    assert record.attributes["log.held"] is True
    assert record.attributes["log.held.written"] == "error"
    assert record.trace_id == DROPPED_AT_HALF
