"""OTelContextFilter's defaults ("-") render in lines and are never exported as identifiers."""

from __future__ import annotations

import logging
import pickle
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from opentelemetry import trace
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

from otel_context import OTelContextFilter, StructlogOTelLogProcessor
from otel_context.scope import RequestScope, scoped
from otel_context.stdlib import Placeholder
from tests._packages import require

instrumentation: Any = require(
    "opentelemetry-instrumentation-logging", "opentelemetry.instrumentation.logging.handler"
)
FORMAT = "%(trace_id)s %(correlation_id)s %(user_id)s %(message)s"


class Lines(logging.Handler):
    """A console-like handler after the OTel one: the formatted lines."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(logging.Formatter(FORMAT))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


def _otel_handler(kind: str, provider: LoggerProvider) -> logging.Handler:
    if kind == "sdk":
        from opentelemetry.sdk._logs import LoggingHandler

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecated since 1.40, still shipped
            return LoggingHandler(logger_provider=provider)
    handler: logging.Handler = instrumentation.LoggingHandler(logger_provider=provider)
    return handler


@pytest.fixture
def exporter() -> Iterator[InMemoryLogRecordExporter]:
    result = InMemoryLogRecordExporter()
    yield result
    result.shutdown()


@pytest.fixture
def log_provider(exporter: InMemoryLogRecordExporter) -> Iterator[LoggerProvider]:
    result = LoggerProvider(shutdown_on_exit=False)
    result.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    yield result
    result.shutdown()


@pytest.fixture(params=["instrumentation", "sdk"])
def logged(
    request: pytest.FixtureRequest, log_provider: LoggerProvider
) -> Iterator[tuple[logging.Logger, Lines]]:
    """A logger with the filter, an OTel LoggingHandler (either kind), then a line handler."""
    logger = logging.getLogger(f"tests.placeholders.{request.param}")
    lines = Lines()
    logger.addFilter(OTelContextFilter())  # on the logger; it wraps the OTel handler classes
    logger.handlers[:] = [_otel_handler(request.param, log_provider), lines]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    yield logger, lines
    logger.handlers[:] = []
    logger.filters[:] = []


def _exported(exporter: InMemoryLogRecordExporter) -> list[dict[str, Any]]:
    return [dict(item.log_record.attributes or {}) for item in exporter.get_finished_logs()]


class TestLoggingHandler:
    def test_no_placeholder_is_exported_outside_a_request(
        self, logged: tuple[logging.Logger, Lines], exporter: InMemoryLogRecordExporter
    ) -> None:
        """No request: the line shows "-", the record has no id and no "-" at all."""
        logger, lines = logged
        logger.info("outside")
        (attributes,) = _exported(exporter)
        assert "-" not in attributes.values()
        assert not {"user.id", "user_id", "trace_id", "correlation.id"} & attributes.keys()
        assert lines.lines == ["- - - outside"]

    def test_only_the_ids_the_request_has_are_exported(
        self,
        logged: tuple[logging.Logger, Lines],
        exporter: InMemoryLogRecordExporter,
        tracer: trace.Tracer,
    ) -> None:
        """A request with a correlation id and no user: correlation.id exported, user.id not."""
        logger, lines = logged
        with tracer.start_as_current_span("req") as span, scoped(RequestScope(span)) as scope:
            scope.bind({"correlation.id": "c-1"})
            logger.info("inside")
        (attributes,) = _exported(exporter)
        assert attributes["correlation.id"] == "c-1"
        assert "user.id" not in attributes
        assert "user_id" not in attributes
        assert "-" not in attributes.values()
        assert lines.lines[0].endswith(" c-1 - inside")  # the record was given back

    def test_each_id_is_exported_once_and_the_trace_as_the_record_s_context(
        self,
        logged: tuple[logging.Logger, Lines],
        exporter: InMemoryLogRecordExporter,
        tracer: trace.Tracer,
    ) -> None:
        """The filter's ``user_id`` copy and trace fields are for format strings, not exports."""
        logger, lines = logged
        with tracer.start_as_current_span("req") as span, scoped(RequestScope(span)) as scope:
            scope.bind({"correlation.id": "c-1", "user.id": "7"})
            logger.info("inside")
            logger.info("mine", extra={"user_id": "someone"})
        first, second = _exported(exporter)
        assert first["user.id"] == "7"
        assert first["correlation.id"] == "c-1"
        spelt = {"user_id", "correlation_id", "trace_id", "span_id", "trace_sampled"}
        assert not spelt & first.keys()
        (record,) = exporter.get_finished_logs()[:1]
        assert record.log_record.trace_id == span.get_span_context().trace_id
        assert second["user.id"] == "someone"  # the call site's value, in one spelling
        assert "user_id" not in second
        trace_id = f"{span.get_span_context().trace_id:032x}"
        assert lines.lines[0] == f"{trace_id} c-1 7 inside"  # the record was given back

    def test_a_call_site_dash_is_the_call_site_s(
        self, logged: tuple[logging.Logger, Lines], exporter: InMemoryLogRecordExporter
    ) -> None:
        """extra={'user.id': '-'} is what the caller said: exported as it is."""
        logger, _ = logged
        logger.info("mine", extra={"user.id": "-"})
        (attributes,) = _exported(exporter)
        assert attributes["user.id"] == "-"


class TestStructlogExport:
    def test_extra_adder_copies_no_placeholder_into_a_record(
        self, log_provider: LoggerProvider, exporter: InMemoryLogRecordExporter
    ) -> None:
        """A stdlib record's defaults, copied by ExtraAdder, are not exported by ours."""
        formatter = structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[
                structlog.stdlib.ExtraAdder(),
                StructlogOTelLogProcessor(log_provider),
            ],
            processor=structlog.processors.KeyValueRenderer(),
        )
        record = logging.getLogger("tests.placeholders").makeRecord(
            "tests.placeholders", logging.INFO, "f", 1, "plain", (), None
        )
        OTelContextFilter().filter(record)
        assert "user_id='-'" in formatter.format(record)
        (attributes,) = _exported(exporter)
        assert "-" not in attributes.values()


class TestPlaceholder:
    def test_renders_and_pickles_as_its_text(self) -> None:
        """A placeholder is its text for formats, and a plain str once pickled."""
        record = logging.makeLogRecord({"msg": "m"})
        OTelContextFilter(default="n/a").filter(record)
        value = record.__dict__["user_id"]
        assert type(value) is Placeholder
        assert f"{value}" == "n/a"
        assert type(pickle.loads(pickle.dumps(value))) is str  # noqa: S301 - our own bytes

    def test_a_second_filter_sets_its_own_default(self) -> None:
        """Another filter's placeholder is no value: the second filter's default wins."""
        record = logging.makeLogRecord({"msg": "m"})
        OTelContextFilter().filter(record)
        OTelContextFilter(default="?").filter(record)
        assert record.__dict__["user.id"] == "?"
        assert record.__dict__["user_id"] == "?"
