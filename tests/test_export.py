"""StructlogOTelLogProcessor: structlog events as OTel log records and span events."""

from __future__ import annotations

import logging
import warnings
from typing import TYPE_CHECKING, Any, NoReturn

import pytest
import structlog
from opentelemetry import _logs, trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.sdk import _logs as sdk_logs
from opentelemetry.sdk._logs import LoggerProvider, ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import SpanLimits, TracerProvider, sampling

from otel_context.log_records import StructlogOTelLogProcessor, coerce_value, event_attributes
from otel_context.log_records import processor as export
from otel_context.scope import RequestScope, scoped
from tests.otlp_receiver import fresh_global_providers

if TYPE_CHECKING:
    from collections.abc import Iterator

IDS = {"correlation.id": "c-1", "user.id": "42", "organisation.id": "7"}


class LogSink:
    """A private LoggerProvider exporting synchronously to memory."""

    def __init__(self) -> None:
        self.exporter = InMemoryLogRecordExporter()
        self.provider = LoggerProvider(shutdown_on_exit=False)
        self.provider.add_log_record_processor(SimpleLogRecordProcessor(self.exporter))

    @property
    def records(self) -> list[ReadableLogRecord]:
        return list(self.exporter.get_finished_logs())

    def only(self) -> ReadableLogRecord:
        (record,) = self.records
        return record


@pytest.fixture
def sink() -> Iterator[LogSink]:
    result = LogSink()
    yield result
    result.provider.shutdown()


def emit(sink: LogSink, event: dict[str, Any], method: str = "info", logger: Any = None) -> Any:
    return StructlogOTelLogProcessor(sink.provider)(logger, method, event)


class BoomError(Exception):
    """A project exception: its type is reported with its module."""


def fail(exc: BaseException) -> NoReturn:
    raise exc


class TestLogRecord:
    def test_body_severity_and_event_name(self, sink: LogSink) -> None:
        """body = event, severity from the level, event name "{logger}.{event}"."""
        emit(sink, {"event": "user.login", "logger": "app.auth"}, "warning")
        record = sink.only().log_record
        assert record.body == "user.login"
        assert (record.severity_number, record.severity_text) == (SeverityNumber.WARN, "WARN")
        assert record.event_name == "app.auth.user.login"
        assert sink.only().instrumentation_scope.name == "app.auth"

    def test_in_the_current_span(self, sink: LogSink, tracer: trace.Tracer) -> None:
        """The record's trace and span ids are the current span's, a child's inside a child."""
        with tracer.start_as_current_span("parent"), tracer.start_as_current_span("child") as child:
            emit(sink, {"event": "hi"})
        record = sink.only().log_record
        ctx = child.get_span_context()
        assert (record.trace_id, record.span_id) == (ctx.trace_id, ctx.span_id)

    def test_trace_flags_say_whether_the_trace_was_sampled(
        self, sink: LogSink, tracer: trace.Tracer
    ) -> None:
        """The record's trace flags are the span's: the sampled bit set when kept, not when dropped.

        ``trace_sampled`` of the rendered line is not repeated as an attribute.
        """
        dropped = TracerProvider(sampler=sampling.ALWAYS_OFF, shutdown_on_exit=False)
        dropped_tracer = dropped.get_tracer("tests")
        for source, sampled in ((tracer, True), (dropped_tracer, False)):
            with source.start_as_current_span("req") as span, scoped(RequestScope(span), **IDS):
                emit(sink, {"event": "hi"})
            record = sink.records[-1].log_record
            assert record.trace_id == span.get_span_context().trace_id != 0
            assert record.trace_flags == span.get_span_context().trace_flags
            assert trace.TraceFlags(record.trace_flags or 0).sampled is sampled
            assert "trace_sampled" not in (record.attributes or {})

    def test_outside_a_span(self, sink: LogSink) -> None:
        """No span: a record without trace ids, no error."""
        emit(sink, {"event": "boot"})
        assert sink.only().log_record.trace_id == 0

    def test_identifiers_are_attributes_and_call_site_wins(
        self, sink: LogSink, tracer: trace.Tracer
    ) -> None:
        """Scope identifiers become attributes; what the call site passed wins; __ is a dot."""
        with tracer.start_as_current_span("req") as span, scoped(RequestScope(span), **IDS):
            emit(sink, {"event": "hi", "user.id": "override", "order__id": 17})
        attrs = dict(sink.only().log_record.attributes or {})
        assert attrs == {
            "correlation.id": "c-1",
            "user.id": "override",
            "organisation.id": "7",
            "order.id": 17,
        }

    def test_call_site_identifier_values_are_strings(
        self, sink: LogSink, tracer: trace.Tracer
    ) -> None:
        """An int passed for an identifier key is a string attribute, as on span and lines."""
        with tracer.start_as_current_span("req") as span, scoped(RequestScope(span), **IDS):
            emit(sink, {"event": "hi", "organisation__id": 9, "project.id": None, "n": 3})
        attrs = dict(sink.only().log_record.attributes or {})
        assert attrs["organisation.id"] == "9"
        assert "project.id" not in attrs
        assert attrs["n"] == 3

    def test_record_fields_are_not_attributes(self, sink: LogSink, tracer: trace.Tracer) -> None:
        """event, level, logger, timestamp, trace ids and flags live in the record itself."""
        event = {
            "event": "hi",
            "level": "info",
            "logger": "app",
            "timestamp": "2025-01-01T00:00:00Z",
            "trace_id": "x",
            "span_id": "y",
            "trace_sampled": True,
            "_record": object(),
            "kept": True,
        }
        with tracer.start_as_current_span("req"):
            emit(sink, event)
        assert dict(sink.only().log_record.attributes or {}) == {"kept": True}

    def test_none_values_are_dropped(self, sink: LogSink) -> None:
        """A None value has no OTel form: the attribute is left out."""
        emit(sink, {"event": "hi", "maybe": None, "there": 0})
        assert dict(sink.only().log_record.attributes or {}) == {"there": 0}

    def test_logger_name_from_the_wrapped_logger(self, sink: LogSink) -> None:
        """Without a "logger" key the wrapped logger's name is used."""
        emit(sink, {"event": "hi"}, logger=logging.getLogger("app.views"))
        assert sink.only().log_record.event_name == "app.views.hi"

    def test_without_a_logger_name(self, sink: LogSink) -> None:
        """No logger name anywhere: event name = event, scope otel_context."""
        emit(sink, {"event": "hi"})
        assert sink.only().log_record.event_name == "hi"
        assert sink.only().instrumentation_scope.name == "otel_context"

    def test_non_string_event_becomes_its_text(self, sink: LogSink) -> None:
        """structlog allows any event object; the body is its str()."""
        emit(sink, {"event": 42})
        assert sink.only().log_record.body == "42"

    def test_event_dict_passes_through_unchanged(self, sink: LogSink, tracer: trace.Tracer) -> None:
        """The same dict, with the same content, goes on to the renderer."""
        event = {"event": "hi", "organisation__id": 7, "exc_info": False}
        before = dict(event)
        with tracer.start_as_current_span("req") as span, scoped(RequestScope(span), **IDS):
            assert emit(sink, event) is event
        assert event == before

    def test_log_records_off(self, sink: LogSink) -> None:
        """log_records=False: nothing is emitted."""
        StructlogOTelLogProcessor(sink.provider, log_records=False)(None, "info", {"event": "x"})
        assert sink.records == []


class TestSeverity:
    @pytest.mark.parametrize(
        ("method", "number", "text"),
        [
            ("debug", SeverityNumber.DEBUG, "DEBUG"),
            ("info", SeverityNumber.INFO, "INFO"),
            ("warning", SeverityNumber.WARN, "WARN"),
            ("warn", SeverityNumber.WARN, "WARN"),
            ("error", SeverityNumber.ERROR, "ERROR"),
            ("exception", SeverityNumber.ERROR, "ERROR"),
            ("critical", SeverityNumber.FATAL, "FATAL"),
            ("fatal", SeverityNumber.FATAL, "FATAL"),
            ("trace", SeverityNumber.UNSPECIFIED, "TRACE"),
        ],
    )
    def test_method_name(
        self, sink: LogSink, method: str, number: SeverityNumber, text: str
    ) -> None:
        """Each structlog method maps to its OTel severity (the SDK's WARN and FATAL texts)."""
        emit(sink, {"event": "x"}, method)
        record = sink.only().log_record
        assert (record.severity_number, record.severity_text) == (number, text)

    def test_level_key_beats_method_name(self, sink: LogSink) -> None:
        """add_log_level's "level" (stdlib records in ProcessorFormatter too) is read first."""
        emit(sink, {"event": "x", "level": "ERROR"}, "info")
        assert sink.only().log_record.severity_number == SeverityNumber.ERROR


class TestCoerceValue:
    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            (None, None),
            ("s", "s"),
            (True, True),
            (7, 7),
            (1.5, 1.5),
            (2**63, str(2**63)),
            (-(2**63), -(2**63)),
            ([1, 2], (1, 2)),
            (("a", "b"), ("a", "b")),
            ([True, False], (True, False)),
            ([], ()),
            ([1, "a"], "[1, 'a']"),
            ([True, 1], "[True, 1]"),
            ([1, None], "[1, None]"),
            ([[1]], "[[1]]"),
            ([2**64], f"[{2**64}]"),
            ({"a": 1}, "{'a': 1}"),
            (b"x", "b'x'"),
        ],
    )
    def test_values(self, value: object, expected: object) -> None:
        """Primitives and homogeneous sequences stay; everything else becomes its str()."""
        assert coerce_value(value) == expected

    def test_unprintable_value(self) -> None:
        """A value whose __str__ raises still gives an attribute, not an exception."""

        class Broken:
            def __str__(self) -> str:
                raise RuntimeError

        assert coerce_value(Broken()) == "<unprintable Broken>"


class TestExceptions:
    def test_exc_info_true(self, sink: LogSink) -> None:
        """exc_info=True inside an except block: type, message and stacktrace."""
        try:
            fail(ValueError("bad value"))
        except ValueError:
            emit(sink, {"event": "failed", "exc_info": True}, "exception")
        attrs = dict(sink.only().log_record.attributes or {})
        assert attrs["exception.type"] == "ValueError"
        assert attrs["exception.message"] == "bad value"
        assert "Traceback" in str(attrs["exception.stacktrace"])
        assert "exc_info" not in attrs

    def test_exception_instance_and_tuple(self) -> None:
        """An exception object or an exc_info tuple works outside the except block too."""
        try:
            fail(BoomError("it broke"))
        except BoomError as caught:
            exc = caught
        for exc_info in (exc, (BoomError, exc, exc.__traceback__)):
            attrs = event_attributes({"event": "x", "exc_info": exc_info})
            assert attrs["exception.type"] == "tests.test_export.BoomError"
            assert attrs["exception.message"] == "it broke"

    def test_exc_info_true_without_an_exception(self) -> None:
        """exc_info=True with nothing being handled adds nothing."""
        assert event_attributes({"event": "x", "exc_info": True}) == {}

    def test_rendered_exception_string(self) -> None:
        """After format_exc_info: the string is the stacktrace, its last line type and message."""
        try:
            fail(KeyError("k"))
        except KeyError:
            event = structlog.processors.format_exc_info(None, "error", {"exc_info": True})
        attrs = event_attributes(event)
        assert attrs["exception.type"] == "KeyError"
        assert attrs["exception.message"] == "'k'"
        assert attrs["exception.stacktrace"] == event["exception"]

    def test_dict_tracebacks(self) -> None:
        """After dict_tracebacks: type and message from the logged exception."""
        try:
            fail(BoomError("structured"))
        except BoomError:
            event = structlog.processors.dict_tracebacks(None, "error", {"exc_info": True})
        attrs = event_attributes(event)
        assert attrs["exception.type"] == "BoomError"
        assert attrs["exception.message"] == "structured"
        assert "structured" in str(attrs["exception.stacktrace"])


class TestNeverRaises:
    def test_broken_provider(self, caplog: pytest.LogCaptureFixture) -> None:
        """A provider that raises: the event goes on unchanged and the failure is logged."""

        class BrokenProvider(LoggerProvider):
            def get_logger(self, *args: Any, **kwargs: Any) -> Any:
                fail(RuntimeError("broken"))

        provider = BrokenProvider(shutdown_on_exit=False)
        event = {"event": "hi"}
        with caplog.at_level(logging.ERROR, logger="otel_context.export"):
            assert StructlogOTelLogProcessor(provider)(None, "info", event) == {"event": "hi"}
        assert "emitting a log event" in caplog.text

    def test_failure_report_does_not_reenter(self, caplog: pytest.LogCaptureFixture) -> None:
        """A failure while reporting a failure (stdlib routed back to us) is not reported again."""
        from otel_context.log_records import processor as export

        export._reentry.active = True
        try:
            with caplog.at_level(logging.ERROR, logger="otel_context.export"):
                export._report_failure(RuntimeError("inner"))
        finally:
            export._reentry.active = False
        assert caplog.records == []

    def test_no_provider_anywhere(self) -> None:
        """No global provider set: the API's proxy takes the event, nothing happens."""
        with fresh_global_providers():
            assert StructlogOTelLogProcessor()(None, "info", {"event": "hi"}) == {"event": "hi"}

    def test_global_provider_is_looked_up_per_event(self) -> None:
        """The global provider set after the processor was made is the one used."""
        with fresh_global_providers():
            processor = StructlogOTelLogProcessor()
            processor(None, "info", {"event": "before"})
            sink = LogSink()
            _logs.set_logger_provider(sink.provider)
            processor(None, "info", {"event": "after"})
            assert [r.log_record.body for r in sink.records] == ["after"]
            sink.provider.shutdown()


class CurrentSpanFilter(logging.Filter):
    """Notes, for each record, whether a valid span was current when it was logged."""

    def __init__(self, seen: list[bool]) -> None:
        super().__init__()
        self.seen = seen

    def filter(self, record: logging.LogRecord) -> bool:
        self.seen.append(trace.get_current_span().get_span_context().is_valid)
        return True


class TestSpanEvents:
    def test_event_on_the_current_span(self, sink: LogSink, tracer: trace.Tracer) -> None:
        """span_events: the event lands on the current span with level, logger and ids."""
        processor = StructlogOTelLogProcessor(sink.provider, span_events=True)
        with tracer.start_as_current_span("req") as span, scoped(RequestScope(span), **IDS):
            with tracer.start_as_current_span("child") as child:
                processor(None, "info", {"event": "inside", "logger": "app", "n": 1})
            processor(None, "warning", {"event": "outside"})
        assert [e.name for e in child.events] == ["inside"]  # type: ignore[attr-defined]
        assert dict(child.events[0].attributes) == {  # type: ignore[attr-defined]
            **IDS,
            "n": 1,
            "level": "info",
            "logger": "app",
        }
        assert [e.name for e in span.events] == ["outside"]  # type: ignore[attr-defined]
        assert len(sink.records) == 2

    def test_span_events_only(self, sink: LogSink, tracer: trace.Tracer) -> None:
        """log_records=False, span_events=True: the span event alone."""
        processor = StructlogOTelLogProcessor(sink.provider, span_events=True, log_records=False)
        with tracer.start_as_current_span("req") as span:
            processor(None, "info", {"event": "only-span"})
        assert [e.name for e in span.events] == ["only-span"]  # type: ignore[attr-defined]
        assert sink.records == []

    def test_off_by_default(self, sink: LogSink, tracer: trace.Tracer) -> None:
        """Without span_events the span gets nothing."""
        with tracer.start_as_current_span("req") as span:
            emit(sink, {"event": "hi"})
        assert list(span.events) == []  # type: ignore[attr-defined]

    def test_never_for_non_recording_spans(self, sink: LogSink) -> None:
        """A sampled-out span, or no span: no span event, the record still goes out."""
        provider = TracerProvider(sampler=sampling.ALWAYS_OFF, shutdown_on_exit=False)
        processor = StructlogOTelLogProcessor(sink.provider, span_events=True)
        with provider.get_tracer("t").start_as_current_span("dropped") as span:
            assert not span.is_recording()
            processor(None, "info", {"event": "hi"})
        with trace.use_span(trace.INVALID_SPAN):
            processor(None, "info", {"event": "hi"})
        assert len(sink.records) == 2

    def test_bounded_by_span_limits(self, sink: LogSink) -> None:
        """200 events on a span limited to 128: 128 kept (the newest), the rest counted dropped."""
        provider = TracerProvider(span_limits=SpanLimits(max_events=128), shutdown_on_exit=False)
        processor = StructlogOTelLogProcessor(sink.provider, span_events=True, log_records=False)
        with provider.get_tracer("t").start_as_current_span("busy") as span:
            for index in range(200):
                processor(None, "info", {"event": f"e{index}"})
        assert len(span.events) == 128  # type: ignore[attr-defined]
        assert span.dropped_events == 72  # type: ignore[attr-defined]
        assert span.events[-1].name == "e199"  # type: ignore[attr-defined]

    def test_the_first_span_event_says_it_is_the_compatibility_path(
        self,
        sink: LogSink,
        tracer: trace.Tracer,
        caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """span_events=True keeps working: one DEBUG line per process names the deprecation
        upstream (OTEP 4430), logged outside the request's span, no warning of any kind, and
        every event is still a record."""
        monkeypatch.setattr(export, "_span_events_noted", False)
        processor = StructlogOTelLogProcessor(sink.provider, span_events=True)
        spans_at_the_note: list[bool] = []
        note_logger = logging.getLogger(export._logger.name)
        note_filter = CurrentSpanFilter(spans_at_the_note)
        note_logger.addFilter(note_filter)
        try:
            with (
                caplog.at_level(logging.DEBUG, logger=export._logger.name),
                warnings.catch_warnings(),
            ):
                warnings.simplefilter("error")
                with tracer.start_as_current_span("req") as span:
                    processor(None, "info", {"event": "one"})
                    processor(None, "info", {"event": "two"})
        finally:
            note_logger.removeFilter(note_filter)
        lines = [record for record in caplog.records if record.name == export._logger.name]
        assert [(line.levelno, "OTEP 4430" in line.getMessage()) for line in lines] == [
            (logging.DEBUG, True)
        ]
        assert spans_at_the_note == [False]  # not a line of the request, not a span event
        assert [e.name for e in span.events] == ["one", "two"]  # type: ignore[attr-defined]
        assert [record.log_record.body for record in sink.records] == ["one", "two"]

    def test_no_line_without_span_events(
        self,
        sink: LogSink,
        tracer: trace.Tracer,
        caplog: pytest.LogCaptureFixture,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """The default, log records only, says nothing."""
        monkeypatch.setattr(export, "_span_events_noted", False)
        with (
            caplog.at_level(logging.DEBUG, logger=export._logger.name),
            tracer.start_as_current_span("r"),
        ):
            emit(sink, {"event": "hi"})
        assert [record for record in caplog.records if record.name == export._logger.name] == []
        assert len(sink.records) == 1


@pytest.fixture
def stdlib_structlog() -> Iterator[logging.Logger]:
    """structlog routed through stdlib logging to a logger named tests.routed."""
    stdlib_logger = logging.getLogger("tests.routed")
    stdlib_logger.setLevel(logging.INFO)
    yield stdlib_logger
    stdlib_logger.setLevel(logging.NOTSET)
    stdlib_logger.propagate = True
    structlog.reset_defaults()


@pytest.fixture
def root_handler(sink: LogSink) -> Iterator[logging.Handler]:
    """opentelemetry-instrumentation-logging's handler on the root logger, exporting to sink."""
    module = pytest.importorskip("opentelemetry.instrumentation.logging.handler")
    handler = module.LoggingHandler(logger_provider=sink.provider)
    logging.getLogger().addHandler(handler)
    yield handler
    logging.getLogger().removeHandler(handler)


def configure_structlog(processor: StructlogOTelLogProcessor, *, stdlib: bool) -> None:
    structlog.configure(
        processors=[
            structlog.stdlib.add_log_level,
            processor,
            structlog.processors.KeyValueRenderer(),
        ],
        logger_factory=structlog.stdlib.LoggerFactory()
        if stdlib
        else structlog.ReturnLoggerFactory(),
        cache_logger_on_first_use=False,
    )


class TestDoubleExport:
    """With instrumentation-logging's root handler, an event routed through stdlib is exported
    once, by the handler; this processor still adds the span event."""

    def test_handler_wins_for_stdlib_routed_events(
        self,
        sink: LogSink,
        root_handler: logging.Handler,
        stdlib_structlog: logging.Logger,
        tracer: trace.Tracer,
    ) -> None:
        """One record, the handler's (no event name of ours); the span event is ours."""
        configure_structlog(StructlogOTelLogProcessor(sink.provider, span_events=True), stdlib=True)
        with tracer.start_as_current_span("req") as span:
            structlog.get_logger("tests.routed").info("hello", n=1)
        record = sink.only()
        assert record.instrumentation_scope.name == "tests.routed"
        assert record.log_record.event_name is None
        assert "hello" in str(record.log_record.body)
        assert [e.name for e in span.events] == ["hello"]  # type: ignore[attr-defined]

    def test_switch_off_deferring_exports_twice(
        self, sink: LogSink, root_handler: logging.Handler, stdlib_structlog: logging.Logger
    ) -> None:
        """defer_to_logging_handler=False: both export (remove the handler if you want ours)."""
        processor = StructlogOTelLogProcessor(sink.provider, defer_to_logging_handler=False)
        configure_structlog(processor, stdlib=True)
        structlog.get_logger("tests.routed").info("hello")
        names = sorted(str(r.log_record.event_name) for r in sink.records)
        assert names == ["None", "tests.routed.hello"]

    def test_ours_when_structlog_does_not_use_stdlib(
        self, sink: LogSink, root_handler: logging.Handler, stdlib_structlog: logging.Logger
    ) -> None:
        """structlog's own loggers never reach the handler: the record is ours."""
        configure_structlog(StructlogOTelLogProcessor(sink.provider), stdlib=False)
        structlog.get_logger().info("direct")
        assert sink.only().log_record.event_name == "direct"

    def test_ours_when_the_record_does_not_propagate_to_root(
        self, sink: LogSink, root_handler: logging.Handler, stdlib_structlog: logging.Logger
    ) -> None:
        """propagate=False keeps the record from the root handler: ours is exported."""
        stdlib_structlog.propagate = False
        configure_structlog(StructlogOTelLogProcessor(sink.provider), stdlib=True)
        structlog.get_logger("tests.routed").info("kept")
        assert sink.only().log_record.event_name == "tests.routed.kept"

    def test_ours_below_the_handler_level(
        self, sink: LogSink, root_handler: logging.Handler, stdlib_structlog: logging.Logger
    ) -> None:
        """A handler at WARNING does not export an info event: ours does."""
        root_handler.setLevel(logging.WARNING)
        configure_structlog(StructlogOTelLogProcessor(sink.provider), stdlib=True)
        structlog.get_logger("tests.routed").info("quiet")
        assert sink.only().log_record.event_name == "tests.routed.quiet"

    def test_foreign_records_in_processor_formatter(
        self, sink: LogSink, root_handler: logging.Handler, stdlib_structlog: logging.Logger
    ) -> None:
        """In foreign_pre_chain a plain stdlib record that reaches the handler is not re-emitted."""
        formatter = structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[StructlogOTelLogProcessor(sink.provider)],
            processor=structlog.processors.KeyValueRenderer(),
        )
        record = stdlib_structlog.makeRecord(
            "tests.routed", logging.INFO, "f", 1, "plain", (), None
        )
        formatter.format(record)
        assert sink.records == []

    def test_a_foreign_record_is_named_by_its_template(self, sink: LogSink) -> None:
        """A stdlib record exported from foreign_pre_chain: body = the message, event name = the
        logger and the template, so one call site is one event name."""
        formatter = structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.add_log_level,
                StructlogOTelLogProcessor(sink.provider),
            ],
            processor=structlog.processors.KeyValueRenderer(),
        )
        for path in ("/a/1/", "/b/2/"):
            record = logging.getLogger("django.request").makeRecord(
                "django.request", logging.WARNING, "f", 1, "Not Found: %s", (path,), None
            )
            formatter.format(record)
        assert [r.log_record.body for r in sink.records] == ["Not Found: /a/1/", "Not Found: /b/2/"]
        assert {r.log_record.event_name for r in sink.records} == {"django.request.Not Found: %s"}

    def test_sdk_handler_is_detected_too(
        self, sink: LogSink, stdlib_structlog: logging.Logger
    ) -> None:
        """The SDK's deprecated LoggingHandler counts as well."""
        with pytest.warns(DeprecationWarning, match="LoggingHandler"):
            handler = sdk_logs.LoggingHandler(logger_provider=sink.provider)
        stdlib_structlog.addHandler(handler)
        try:
            configure_structlog(StructlogOTelLogProcessor(sink.provider), stdlib=True)
            structlog.get_logger("tests.routed").info("once")
        finally:
            stdlib_structlog.removeHandler(handler)
        assert sink.only().log_record.event_name is None


class TestIsOTelHandler:
    def test_otel_handlers_and_their_subclasses_only(self) -> None:
        """The SDK's LoggingHandler and a subclass of it count; a plain handler does not."""
        subclass = type("Mine", (sdk_logs.LoggingHandler,), {})
        assert export.is_otel_handler(sdk_logs.LoggingHandler)
        assert export.is_otel_handler(subclass)
        assert not export.is_otel_handler(logging.StreamHandler)
