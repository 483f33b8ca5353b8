"""Stdlib records exported by an OTel ``LoggingHandler`` carry the request's identifiers."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor

from otel_context.log_records import _handler_ids
from otel_context.scope import RequestScope, scoped
from tests._packages import require

log_export: Any = require("opentelemetry-sdk", "opentelemetry.sdk._logs.export")
instrumentation: Any = require(
    "opentelemetry-instrumentation-logging", "opentelemetry.instrumentation.logging.handler"
)
IDS = {"user.id": 42, "correlation.id": "c-1"}


class Seen(logging.Handler):
    """A handler after the OTel one: what the record holds when it gets there."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(dict(record.__dict__))


def _sdk_handler(provider: LoggerProvider) -> logging.Handler:
    from opentelemetry.sdk._logs import LoggingHandler

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated since 1.40, still shipped
        return LoggingHandler(logger_provider=provider)


@pytest.fixture(params=["instrumentation", "sdk"])
def exported(request: pytest.FixtureRequest) -> Iterator[tuple[logging.Logger, Any, Seen]]:
    """A logger with an OTel LoggingHandler (either kind) exporting in memory, then ``Seen``."""
    kind = getattr(log_export, "InMemoryLogRecordExporter", None)
    exporter = (kind or log_export.InMemoryLogExporter)()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    if request.param == "sdk":
        handler = _sdk_handler(provider)
    else:
        handler = instrumentation.LoggingHandler(logger_provider=provider)
    logger = logging.getLogger(f"tests.handler_ids.{request.param}")
    seen = Seen()
    logger.handlers[:] = [handler, seen]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    yield logger, exporter, seen
    logger.handlers[:] = []
    provider.shutdown()


def _attributes(exporter: Any) -> list[dict[str, Any]]:
    items = exporter.get_finished_logs()
    return [dict(getattr(item, "log_record", item).attributes or {}) for item in items]


class TestInstall:
    def test_records_carry_the_request_s_ids_as_strings(
        self, exported: tuple[logging.Logger, Any, Seen], tracer: trace.Tracer
    ) -> None:
        """Inside a request: user.id and correlation.id, strings; no trace keys as attributes."""
        logger, exporter, seen = exported
        _handler_ids.install()
        with tracer.start_as_current_span("req") as span, scoped(RequestScope(span)) as scope:
            scope.bind(IDS)
            logger.info("hello %s", "there")
        (attributes,) = _attributes(exporter)
        assert attributes["user.id"] == "42"
        assert attributes["correlation.id"] == "c-1"
        assert "trace_id" not in attributes
        assert "user.id" not in seen.records[0]  # the record is given back as it was

    def test_the_call_site_extra_wins_and_is_a_string(
        self, exported: tuple[logging.Logger, Any, Seen], tracer: trace.Tracer
    ) -> None:
        """extra={'user.id': 7} becomes '7'; a string extra is kept; both restored after."""
        logger, exporter, seen = exported
        _handler_ids.install()
        with tracer.start_as_current_span("req") as span, scoped(RequestScope(span)) as scope:
            scope.bind(IDS)
            logger.info("a", extra={"user.id": 7})
            logger.info("b", extra={"correlation.id": "mine"})
        first, second = _attributes(exporter)
        assert first["user.id"] == "7"
        assert second["correlation.id"] == "mine"
        assert [record["user.id"] for record in seen.records[:1]] == [7]

    def test_outside_a_request_no_ids_and_wrapped_once(
        self, exported: tuple[logging.Logger, Any, Seen]
    ) -> None:
        """No scope: nothing added. A second install() wraps nothing and hooks nothing again."""
        logger, exporter, _ = exported
        _handler_ids.install()
        emit = type(logger.handlers[0]).__dict__["emit"]
        hook = logging.Handler.__dict__["__init_subclass__"]
        assert _handler_ids.install() == 0
        assert type(logger.handlers[0]).__dict__["emit"] is emit
        assert getattr(emit, _handler_ids.WRAPPED)
        assert logging.Handler.__dict__["__init_subclass__"] is hook
        logger.info("outside")
        (attributes,) = _attributes(exporter)
        assert "user.id" not in attributes
        assert "correlation.id" not in attributes

    def test_a_failure_never_loses_the_record(
        self,
        exported: tuple[logging.Logger, Any, Seen],
        monkeypatch: pytest.MonkeyPatch,
        tracer: trace.Tracer,
    ) -> None:
        """If reading the ids fails, the record is exported without them."""
        logger, exporter, _ = exported
        _handler_ids.install()

        def fail(record: object) -> None:
            raise RuntimeError

        monkeypatch.setattr(_handler_ids, "current_fields", fail)
        with tracer.start_as_current_span("req") as span, scoped(RequestScope(span)) as scope:
            scope.bind(IDS)
            logger.info("still here")
        (attributes,) = _attributes(exporter)
        assert "user.id" not in attributes


class TestLateHandlers:
    def test_a_handler_added_after_start_up(self, tracer: trace.Tracer) -> None:
        """A LoggingHandler made and added after install() (a later LOGGING) exports the ids."""
        _handler_ids.install()
        exporter = log_export.InMemoryLogRecordExporter()
        provider = LoggerProvider()
        provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
        logger = logging.getLogger("tests.handler_ids.late")
        logger.handlers[:] = [instrumentation.LoggingHandler(logger_provider=provider)]
        logger.propagate = False
        try:
            with tracer.start_as_current_span("req") as span, scoped(RequestScope(span)) as scope:
                scope.bind(IDS)
                logger.warning("late")
        finally:
            logger.handlers[:] = []
            provider.shutdown()
        (attributes,) = _attributes(exporter)
        assert attributes["user.id"] == "42"

    def test_a_class_defined_after_start_up(self) -> None:
        """A handler class defined after install() is wrapped when it is defined."""
        _handler_ids.install()
        late = type("LoggingHandler", (logging.Handler,), {"emit": lambda self, record: None})
        late.__module__ = "opentelemetry.late"  # set after the class statement: not yet known
        assert not getattr(late.__dict__["emit"], _handler_ids.WRAPPED, False)
        later: type = type(
            "LoggingHandler",
            (logging.Handler,),
            {"emit": lambda self, record: None, "__module__": "opentelemetry.later"},
        )
        assert getattr(later.__dict__["emit"], _handler_ids.WRAPPED)

    def test_instrumentation_imported_after_the_filter(self) -> None:
        """A process that imports opentelemetry-instrumentation-logging after start-up (here: a
        LOGGING with OTelContextFilter) exports the request's ids and no placeholder."""
        result = subprocess.run(
            [sys.executable, "-c", LATE_IMPORT],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, "OTEL_CONTEXT_LOG_FILE": ""},
        )
        assert result.returncode == 0, result.stderr
        attributes = json.loads(result.stdout.strip().splitlines()[-1])
        assert attributes["correlation.id"] == "c-1"
        assert "-" not in attributes.values()


LATE_IMPORT = """
import json, logging, sys
from otel_context import OTelContextFilter
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.trace import TracerProvider
from otel_context.scope import RequestScope, scoped

log_filter = OTelContextFilter()
assert "opentelemetry.instrumentation.logging.handler" not in sys.modules
from opentelemetry.instrumentation.logging.handler import LoggingHandler

exporter = InMemoryLogRecordExporter()
provider = LoggerProvider()
provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
logger = logging.getLogger("late")
logger.addFilter(log_filter)
logger.addHandler(LoggingHandler(logger_provider=provider))
with TracerProvider().get_tracer("t").start_as_current_span("req") as span:
    with scoped(RequestScope(span), **{"correlation.id": "c-1"}):
        logger.warning("late")
(item,) = exporter.get_finished_logs()
print(json.dumps(dict(item.log_record.attributes)))
"""
