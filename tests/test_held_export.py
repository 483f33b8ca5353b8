"""Held lines reach the OTel log export when written: once, with their own time and trace.

The SDK's real ``LoggerProvider`` with its batch processor (which, since 1.44, keeps nothing
of the context a record was emitted in) and the in-memory exporter; structlog lines through
:class:`~otel_context.export.StructlogOTelLogProcessor`, and through a stdlib logger whose OTel
``LoggingHandler`` exports them.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
import warnings
from typing import TYPE_CHECKING, Any

import pytest
import structlog
from opentelemetry import context as context_api
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, InMemoryLogRecordExporter

from otel_context import (
    FlightRecorder,
    LogSamplingFilter,
    LogSamplingProcessor,
    StructlogOTelLogProcessor,
    StructlogOTelProcessor,
    flight_recorder,
)
from tests._logging import logger_to
from tests.test_flight_recorder import (
    DROPPED_AT_HALF,
    Lines,
    end,
    holding,
    logger_for,
    out,
    request_scope,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from opentelemetry.sdk._logs import ReadableLogRecord

    from otel_context.scope import RequestScope

__all__ = ["out", "request_scope"]  # the fixtures, shared with the recorder's tests


class Sink:
    """A real LoggerProvider, batched, exporting to memory."""

    def __init__(self) -> None:
        self.exporter = InMemoryLogRecordExporter()
        self.provider = LoggerProvider(shutdown_on_exit=False)
        self.provider.add_log_record_processor(
            BatchLogRecordProcessor(self.exporter, schedule_delay_millis=60_000)
        )

    def records(self) -> list[Any]:
        assert self.provider.force_flush(10_000)
        finished: list[ReadableLogRecord] = list(self.exporter.get_finished_logs())
        return [entry.log_record for entry in finished]


@pytest.fixture
def sink() -> Iterator[Sink]:
    made = Sink()
    yield made
    made.provider.shutdown()


def bodies(records: list[Any]) -> list[object]:
    return [record.body for record in records]


class TestStructlogRecords:
    def test_written_held_lines_are_exported_once_as_logged(
        self, out: Lines, request_scope: RequestScope, sink: Sink
    ) -> None:
        """A failed request: its held lines are records, in order, marked, with their ids."""
        request_scope.bind({"correlation.id": "req-held"})
        log = logger_for(out, StructlogOTelLogProcessor(sink.provider))
        log.info("a", n=1)
        time.sleep(0.002)
        log.warning("w")
        time.sleep(0.002)
        log.debug("b")
        assert bodies(sink.records()) == ["w"]  # the held ones wait for the outcome
        token = context_api.attach(context_api.Context())  # written from elsewhere: no context
        try:
            end(request_scope, 500)
        finally:
            context_api.detach(token)
        records = sink.records()
        assert bodies(records) == ["w", "a", "b"]  # each exactly once
        w, a, b = records
        assert a.attributes["log.held"] is b.attributes["log.held"] is True
        assert a.attributes["log.held.written"] == b.attributes["log.held.written"] == "error"
        assert "log.held" not in w.attributes
        assert "log.held.written" not in w.attributes
        assert a.timestamp < w.timestamp < b.timestamp  # their own times, not the flush's
        for record in records:
            assert record.trace_id == DROPPED_AT_HALF
            assert record.span_id == 0xF067AA0BA902B7
            assert record.attributes["correlation.id"] == "req-held"
        assert a.attributes["n"] == 1
        assert [line.get("log.held", False) for line in out.written] == [False, True, True]

    def test_dropped_lines_are_not_exported(
        self, out: Lines, request_scope: RequestScope, sink: Sink
    ) -> None:
        """A fine request: its held lines are dropped, and so are their records."""
        log = logger_for(out, StructlogOTelLogProcessor(sink.provider))
        log.info("a")
        log.warning("w")
        end(request_scope, 200)
        assert bodies(sink.records()) == ["w"]
        assert out.events() == ["w"]

    def test_an_error_line_exports_them_before_it(
        self, out: Lines, request_scope: RequestScope, sink: Sink
    ) -> None:
        """At ERROR, the held records go first; later lines are exported as they come."""
        log = logger_for(out, StructlogOTelLogProcessor(sink.provider))
        log.info("a")
        log.error("boom")
        log.info("after")
        end(request_scope, 200)
        records = sink.records()
        assert bodies(records) == ["a", "boom", "after"]
        assert [r.attributes.get("log.held", False) for r in records] == [True, False, False]
        assert [r.attributes.get("log.held.written") for r in records] == ["error", None, None]

    def test_exit_exports_what_is_in_flight(
        self, out: Lines, request_scope: RequestScope, sink: Sink
    ) -> None:
        """The process exits with the request in flight: its held records are exported."""
        logger_for(out, StructlogOTelLogProcessor(sink.provider)).info("a")
        flight_recorder.flush_at_exit()
        records = sink.records()
        assert bodies(records) == ["a"]
        assert records[0].trace_id == DROPPED_AT_HALF
        del request_scope

    def test_bounds_drop_records_with_their_lines(
        self, out: Lines, request_scope: RequestScope, sink: Sink
    ) -> None:
        """The oldest lines dropped by HOLD_MAX_LINES are not exported either."""
        request_scope.held._config = holding(hold_max_lines=2)  # type: ignore[union-attr]
        log = logger_for(out, StructlogOTelLogProcessor(sink.provider))
        for name in ("l0", "l1", "l2", "l3"):
            log.info(name)
        end(request_scope, 500)
        assert bodies(sink.records()) == ["l2", "l3"]


class TestStdlibRecords:
    def test_a_logging_handler_exports_them_with_their_own_time_and_trace(
        self, request_scope: RequestScope, sink: Sink
    ) -> None:
        """structlog on a stdlib logger with an OTel LoggingHandler: the handler exports them.

        Once (our processor defers to the handler), when written, with the record's creation
        time and trace context those of the logging moment; dropped ones are never exported.
        """
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # the SDK's handler, deprecated
            from opentelemetry.sdk._logs import LoggingHandler

            handler = LoggingHandler(logger_provider=sink.provider)
        handler.addFilter(LogSamplingFilter())
        with logger_to("tests.held_export.stdlib", handler) as stdlib:
            log = structlog.wrap_logger(
                stdlib,
                processors=[
                    LogSamplingProcessor(),
                    structlog.processors.add_log_level,
                    StructlogOTelProcessor(),
                    StructlogOTelLogProcessor(sink.provider),
                    FlightRecorder(structlog.processors.JSONRenderer()),
                ],
            )
            before = time.time_ns()
            log.info("a")
            logged = time.time_ns()
            time.sleep(0.01)
            token = context_api.attach(context_api.Context())
            try:
                end(request_scope, 500)
            finally:
                context_api.detach(token)
        records = sink.records()
        assert len(records) == 1
        assert '"log.held": true' in str(records[0].body)
        assert before <= records[0].timestamp <= logged
        assert records[0].trace_id == DROPPED_AT_HALF


_AT_EXIT = textwrap.dedent(
    """
    import sys

    import structlog
    from opentelemetry import context, trace
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, ConsoleLogExporter

    import otel_context
    from otel_context import conf, flight_recorder
    from otel_context.export import StructlogOTelLogProcessor
    from otel_context.scope import RequestScope, attach_scope

    provider = LoggerProvider()  # shut down at exit (atexit), as the SDK does by default
    provider.add_log_record_processor(BatchLogRecordProcessor(ConsoleLogExporter(out=sys.stdout)))
    config = conf.configure(hold_lines=True, unsampled_log_ratio=0)
    log = structlog.wrap_logger(
        structlog.PrintLogger(sys.stderr),
        processors=[
            otel_context.LogSamplingProcessor(),
            structlog.processors.add_log_level,
            otel_context.StructlogOTelProcessor(),
            StructlogOTelLogProcessor(provider),
            otel_context.FlightRecorder(structlog.processors.JSONRenderer()),
        ],
    )
    flags = trace.TraceFlags(trace.TraceFlags.DEFAULT)
    trace_id = 0x4BF92F3577B34DA6A3CE929D0E0E4736
    span = trace.NonRecordingSpan(trace.SpanContext(trace_id, 1, False, flags))
    context.attach(trace.set_span_in_context(span))
    scope = RequestScope(span)
    scope.held = flight_recorder.held_lines(span, config)
    attach_scope(scope)
    log.info("held.in_flight")
    sys.exit(0)  # a gunicorn worker's SIGTERM or timeout: the request is still in flight
    """
)


def test_exit_exports_the_records_before_the_provider_shuts_down() -> None:
    """atexit: the recorder's flush runs before the SDK provider's shutdown (last in, first out)."""
    done = subprocess.run(
        [sys.executable, "-c", _AT_EXIT], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert '"log.held": true' in done.stderr  # the line
    assert '"held.in_flight"' in done.stdout  # its record, exported by the batch at shutdown
