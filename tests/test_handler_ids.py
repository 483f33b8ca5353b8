"""Stdlib records exported by an OTel ``LoggingHandler`` carry the request's identifiers."""

from __future__ import annotations

import logging
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


class TestAttach:
    def test_records_carry_the_request_s_ids_as_strings(
        self, exported: tuple[logging.Logger, Any, Seen], tracer: trace.Tracer
    ) -> None:
        """Inside a request: user.id and correlation.id, strings; no trace keys as attributes."""
        logger, exporter, seen = exported
        assert _handler_ids.attach() >= 1
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
        _handler_ids.attach()
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
        """No scope: nothing added. A second attach() wraps nothing again."""
        logger, exporter, _ = exported
        _handler_ids.attach()
        assert _handler_ids.attach() == 0
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
        _handler_ids.attach()

        def fail(record: object) -> None:
            raise RuntimeError

        monkeypatch.setattr(_handler_ids, "current_fields", fail)
        with tracer.start_as_current_span("req") as span, scoped(RequestScope(span)) as scope:
            scope.bind(IDS)
            logger.info("still here")
        (attributes,) = _attributes(exporter)
        assert "user.id" not in attributes
