"""Log lines follow the trace's sampling: structlog events, stdlib records and OTel log records."""

from __future__ import annotations

import logging
import random
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest
import structlog
from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, TraceIdRatioBased
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from otel_context import (
    LogSamplingFilter,
    LogSamplingProcessor,
    StructlogOTelLogProcessor,
    StructlogOTelProcessor,
    conf,
    log_sampling,
)
from otel_context.log_sampling import line_kept, trace_keeps

if TYPE_CHECKING:
    from collections.abc import Iterator

    from structlog.typing import Processor

#: A trace id kept at ratio 0.5, and one dropped (checked in TestTraceKeeps).
KEPT_AT_HALF = 0x0AF7651916CD43DD8448EB211C80319C
DROPPED_AT_HALF = 0x4BF92F3577B34DA6A3CE929D0E0E4736


def in_trace(trace_id: int, *, sampled: bool) -> Any:
    """Attach a remote span context (as a traceparent header would) and return its token."""
    flags = TraceFlags(TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT)
    span_context = SpanContext(trace_id, 0x00F067AA0BA902B7, is_remote=True, trace_flags=flags)
    return context_api.attach(trace.set_span_in_context(NonRecordingSpan(span_context)))


def chain(*first: Processor, sink: InMemoryLogRecordExporter | None = None) -> Any:
    """A structlog logger [*first, StructlogOTelProcessor, (export), JSONRenderer] -> list."""
    processors: list[Any] = [*first, StructlogOTelProcessor()]
    if sink is not None:
        provider = LoggerProvider(shutdown_on_exit=False)
        provider.add_log_record_processor(SimpleLogRecordProcessor(sink))
        processors.append(StructlogOTelLogProcessor(provider))
    processors.append(structlog.processors.JSONRenderer())
    return structlog.wrap_logger(structlog.testing.CapturingLogger(), processors=processors)


def written(logger: Any) -> list[str]:
    return [call.method_name for call in logger._logger.calls]


def log_all(logger: Any) -> None:
    logger.debug("d")
    logger.info("i")
    logger.warning("w")
    logger.error("e")


class TestTraceKeeps:
    def test_the_edges(self) -> None:
        """Ratio 0 keeps no trace, ratio 1 every trace."""
        assert not trace_keeps(KEPT_AT_HALF, 0.0)
        assert trace_keeps(DROPPED_AT_HALF, 1.0)

    def test_a_function_of_the_trace_id(self) -> None:
        """The same trace id gets the same answer (every service of a trace agrees)."""
        assert trace_keeps(KEPT_AT_HALF, 0.5)
        assert not trace_keeps(DROPPED_AT_HALF, 0.5)

    def test_the_ratio_among_traces_the_head_sampler_dropped(self) -> None:
        """Of the traces TraceIdRatioBased(0.1) drops, about the ratio keep their lines.

        Keyed on the raw low bits, as TraceIdRatioBased is, a ratio below 0.1 would keep none.
        """
        rng = random.Random(24)  # noqa: S311 - reproducible trace ids, not secrets
        head = TraceIdRatioBased(0.1)
        dropped = [
            trace_id
            for trace_id in (rng.getrandbits(128) for _ in range(40_000))
            if not head.should_sample(None, trace_id, "x").decision.is_sampled()
        ]
        for ratio in (0.05, 0.2, 0.5):
            kept = sum(trace_keeps(trace_id, ratio) for trace_id in dropped) / len(dropped)
            assert abs(kept - ratio) < 0.015, (ratio, kept)


class TestStructlog:
    @pytest.mark.parametrize(
        ("trace_id", "sampled", "ratio", "expected"),
        [
            (DROPPED_AT_HALF, False, 0.0, ["warning", "error"]),
            (DROPPED_AT_HALF, False, 0.5, ["warning", "error"]),
            (KEPT_AT_HALF, False, 0.5, ["debug", "info", "warning", "error"]),
            (DROPPED_AT_HALF, True, 0.0, ["debug", "info", "warning", "error"]),
        ],
    )
    def test_lines_below_warning_follow_the_trace(
        self, trace_id: int, *, sampled: bool, ratio: float, expected: list[str]
    ) -> None:
        """Sampled-out: below WARNING dropped, or kept for the ratio's traces; sampled: all."""
        logger = chain(LogSamplingProcessor(ratio=ratio))
        token = in_trace(trace_id, sampled=sampled)
        try:
            log_all(logger)
        finally:
            context_api.detach(token)
        assert written(logger) == expected

    def test_outside_a_trace_every_line_is_kept(self) -> None:
        """No current span (start-up, a command): nothing to follow."""
        logger = chain(LogSamplingProcessor(ratio=0.0))
        log_all(logger)
        assert written(logger) == ["debug", "info", "warning", "error"]

    def test_the_level_is_an_option(self) -> None:
        """level=ERROR: warnings of a sampled-out trace go too; exception() is ERROR."""
        logger = chain(LogSamplingProcessor(ratio=0.0, level=logging.ERROR))
        token = in_trace(DROPPED_AT_HALF, sampled=False)
        try:
            log_all(logger)
            logger.exception("x")  # noqa: LOG004 - the method name is what is tested
        finally:
            context_api.detach(token)
        assert written(logger) == ["error", "error"]

    def test_settings_decide_by_default_and_default_to_off(self) -> None:
        """Without arguments the options apply; UNSAMPLED_LOG_RATIO defaults to 1: all kept."""
        logger = chain(LogSamplingProcessor())
        token = in_trace(DROPPED_AT_HALF, sampled=False)
        try:
            log_all(logger)
            conf.configure(unsampled_log_ratio="0", unsampled_log_level="error")
            log_all(logger)
        finally:
            context_api.detach(token)
        assert written(logger) == ["debug", "info", "warning", "error", "error"]

    def test_dropped_lines_are_not_exported(self) -> None:
        """Placed first, a dropped event reaches no OTel log record either."""
        sink = InMemoryLogRecordExporter()
        logger = chain(LogSamplingProcessor(ratio=0.0), sink=sink)
        token = in_trace(DROPPED_AT_HALF, sampled=False)
        try:
            log_all(logger)
        finally:
            context_api.detach(token)
        bodies = [record.log_record.body for record in sink.get_finished_logs()]
        assert bodies == ["w", "e"]

    def test_a_stdlib_record_in_processor_formatter_is_never_dropped(self) -> None:
        """DropEvent would crash ProcessorFormatter: a foreign event is kept (the filter drops)."""
        token = in_trace(DROPPED_AT_HALF, sampled=False)
        try:
            event = {"event": "x", "_record": object()}
            assert LogSamplingProcessor(ratio=0.0)(None, "info", event) is event
        finally:
            context_api.detach(token)

    def test_a_broken_policy_keeps_the_line(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Bad configuration (E002 reports it) never loses a line nor raises into the call."""

        def broken() -> conf.Config:
            msg = "OTEL_CONTEXT_UNSAMPLED_LOG_RATIO: bad"
            raise conf.ConfigurationError(msg)

        monkeypatch.setattr(log_sampling, "conf", SimpleNamespace(_cached=None, get_config=broken))
        token = in_trace(DROPPED_AT_HALF, sampled=False)
        try:
            event = {"event": "x"}
            assert LogSamplingProcessor()(None, "debug", event) is event
        finally:
            context_api.detach(token)


class TestWithTheSdk:
    def test_a_sampled_out_request_and_its_child_spans(self) -> None:
        """A real SDK: a traceparent with flags 00 makes the server span and its children drop."""
        provider = TracerProvider(sampler=ParentBased(ALWAYS_ON), shutdown_on_exit=False)
        tracer = provider.get_tracer("t")
        logger = chain(LogSamplingProcessor(ratio=0.0))
        for sampled in (False, True):
            token = in_trace(DROPPED_AT_HALF, sampled=sampled)
            try:
                with tracer.start_as_current_span("GET /"), tracer.start_as_current_span("db"):
                    logger.info("inside")
            finally:
                context_api.detach(token)
        assert written(logger) == ["info"]


class TestFilter:
    @pytest.fixture
    def records(self) -> Iterator[tuple[logging.Logger, list[logging.LogRecord]]]:
        seen: list[logging.LogRecord] = []
        handler = logging.Handler()
        handler.emit = seen.append  # type: ignore[method-assign]
        handler.addFilter(LogSamplingFilter(ratio=0.0))
        logger = logging.getLogger("tests.log_sampling")
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
        logger.propagate = False
        yield logger, seen
        logger.removeHandler(handler)

    def test_records_follow_the_trace(
        self, records: tuple[logging.Logger, list[logging.LogRecord]]
    ) -> None:
        """Below WARNING dropped in a sampled-out trace, kept in a sampled one and outside."""
        logger, seen = records
        for sampled in (False, True, None):
            token = None if sampled is None else in_trace(DROPPED_AT_HALF, sampled=sampled)
            try:
                logger.info("i %s", sampled)
                logger.warning("w %s", sampled)
            finally:
                if token is not None:
                    context_api.detach(token)
        assert [r.getMessage() for r in seen] == ["w False", "i True", "w True", "i None", "w None"]

    def test_a_name_limits_what_it_samples(self) -> None:
        """LogSamplingFilter("app") keeps other loggers' records."""
        record = logging.LogRecord("other", logging.INFO, __file__, 1, "x", None, None)
        token = in_trace(DROPPED_AT_HALF, sampled=False)
        try:
            assert LogSamplingFilter("app", ratio=0.0).filter(record)
            assert not LogSamplingFilter(ratio=0.0).filter(record)
        finally:
            context_api.detach(token)


def test_line_kept_is_cheap_when_off() -> None:
    """Ratio 1 (off) answers before reading the context."""
    assert line_kept(logging.DEBUG, logging.WARNING, 1.0)


def test_the_decision_follows_each_line_s_own_span_and_ratio() -> None:
    """The decision is cached for the last span context: alternating spans and ratios never
    reuse another's (a sampled trace, then a sampled-out one, then the first again)."""
    cases = [
        (KEPT_AT_HALF, True, 0.0, True),
        (DROPPED_AT_HALF, False, 0.5, False),
        (DROPPED_AT_HALF, False, 1.0, True),  # the ratio 1: off
        (KEPT_AT_HALF, False, 0.5, True),
        (KEPT_AT_HALF, False, 0.0, False),
        (KEPT_AT_HALF, True, 0.0, True),
    ]
    for trace_id, sampled, ratio, expected in cases:
        token = in_trace(trace_id, sampled=sampled)
        try:
            assert line_kept(logging.INFO, logging.WARNING, ratio) is expected
            assert line_kept(logging.INFO, logging.WARNING, ratio) is expected  # cached
        finally:
            context_api.detach(token)
