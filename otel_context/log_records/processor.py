"""``StructlogOTelLogProcessor``: structlog events as OTel log records (and, opt-in, span events).

Each event becomes one OTel log record, an event in today's OpenTelemetry sense (a record with an
``event_name``; the SDK's separate Events API is gone since 1.44): its trace and span ids are the
current span's, taken when the event is logged, with the request's identifiers as string
attributes. Everything the record needs is captured at that moment, so a record exported later,
by a batch processor after its request ended, still carries the request's ids. The attributes
are made in :mod:`otel_context.log_records.event_attributes`.

Span events are an explicit compatibility option (``span_events=True``) for back ends that store
traces only, such as Jaeger, which shows them as the span's "Logs". OpenTelemetry is deprecating
the Span Event API (OTEP 4430) and keeps this very conversion, log-based events sent as span
events, as the opt-in for such back ends; the first span event logs one line saying so.

Double export: ``opentelemetry-instrumentation-logging`` (and the SDK's deprecated
``LoggingHandler``) put a handler on the root logger that exports every stdlib record. When an
event is routed through stdlib logging to such a handler, the handler's record is the one kept
and this processor emits none (span events are still added); see
``defer_to_logging_handler``. :func:`is_otel_handler` tells such a handler class from others;
:mod:`otel_context.log_records._handler_ids` uses it too.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any, Final

from opentelemetry import context as otel_context_api
from opentelemetry import trace
from opentelemetry._logs import SeverityNumber, get_logger_provider

from otel_context.held_export import HOLD_EXPORT, HeldRecord
from otel_context.log_records.event_attributes import event_attributes
from otel_context.log_sampling import HOLD_MARK

if TYPE_CHECKING:
    from collections.abc import Mapping, MutableMapping

    from opentelemetry._logs import Logger, LoggerProvider

# The logger keeps the name it had before the code moved here: filters on it still apply.
_logger = logging.getLogger("otel_context.export")
_reentry = threading.local()
_span_events_noted = False  # the one line the first span event logs, once per process

#: structlog level (method) name -> OTel severity, text as the SDK's logging handler writes it.
_SEVERITY: Final = {
    "debug": (SeverityNumber.DEBUG, "DEBUG", logging.DEBUG),
    "info": (SeverityNumber.INFO, "INFO", logging.INFO),
    "warning": (SeverityNumber.WARN, "WARN", logging.WARNING),
    "warn": (SeverityNumber.WARN, "WARN", logging.WARNING),
    "error": (SeverityNumber.ERROR, "ERROR", logging.ERROR),
    "exception": (SeverityNumber.ERROR, "ERROR", logging.ERROR),
    "critical": (SeverityNumber.FATAL, "FATAL", logging.CRITICAL),
    "fatal": (SeverityNumber.FATAL, "FATAL", logging.CRITICAL),
}
_DEFAULT_SCOPE: Final = "otel_context"
_OTEL_HANDLER_TYPES: dict[type, bool] = {}


class StructlogOTelLogProcessor:
    """A structlog processor emitting each event as an OTel log record (and, opt-in, span event).

    The record: severity from the level, body = the event, event name ``"{logger}.{event}"``,
    attributes = the event's keys (``__`` read as ``.``) over the request's identifiers, and
    ``exception.type`` / ``.message`` / ``.stacktrace`` for ``exc_info`` or a rendered
    ``exception``. Values are coerced to OTel types; ``None`` is dropped. The event dict is
    returned unchanged for the renderer, and nothing raises into the log call.

    Place it after :class:`~otel_context.StructlogOTelProcessor` and ``add_log_level``, before
    ``format_exc_info`` and the renderer, in the structlog chain (not in a ``ProcessorFormatter``'s
    ``processors``, which run once per handler).

    Args:
        logger_provider: Where records go; default the global provider, looked up per event.
        span_events: Also add each event to the current recording span, for back ends that
            store traces only (Jaeger). A compatibility option: the Span Event API is being
            deprecated upstream (OTEP 4430); the first span event logs one line saying so.
        log_records: Emit log records (off: span events only).
        defer_to_logging_handler: Emit no record for an event that stdlib logging hands to an
            OTel ``LoggingHandler``, which exports it already.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_defer", "_log_records", "_loggers", "_provider", "_span_events")

    def __init__(
        self,
        logger_provider: LoggerProvider | None = None,
        *,
        span_events: bool = False,
        log_records: bool = True,
        defer_to_logging_handler: bool = True,
    ) -> None:
        self._provider = logger_provider
        self._span_events = span_events
        self._log_records = log_records
        self._defer = defer_to_logging_handler
        self._loggers: tuple[object, dict[str, Logger]] = (None, {})

    def __call__(
        self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        """Emit *event_dict* to OTel and return it unchanged."""
        try:
            if HOLD_MARK in event_dict:  # held: its record waits with the line (held_export)
                event_dict[HOLD_EXPORT] = self._emit(logger, method_name, event_dict, held=True)
            else:
                self._emit(logger, method_name, event_dict)
        except Exception as exc:
            _report_failure(exc)
        return event_dict

    def _emit(
        self, logger: Any, method_name: str, event_dict: Mapping[str, Any], *, held: bool = False
    ) -> HeldRecord | None:
        level = str(event_dict.get("level") or method_name).lower()
        severity, severity_text, levelno = _SEVERITY.get(
            level, (SeverityNumber.UNSPECIFIED, level.upper(), logging.NOTSET)
        )
        name = _logger_name(logger, event_dict)
        otel_logger = self._record_logger(logger, event_dict, name, severity, levelno)
        span = _recording_span() if self._span_events else None
        if otel_logger is None and span is None:
            return None
        event = event_dict.get("event")
        body = event if isinstance(event, str) else str(event)
        attrs = event_attributes(event_dict)
        now = time.time_ns()
        event_name = (
            _event_name(name, body, event_dict["_record"])
            if "_record" in event_dict  # a stdlib record, from foreign_pre_chain
            else (f"{name}.{body}" if name else body)
        )
        extra = ({"level": level} | ({"logger": name} if name else {})) if span is not None else {}
        if held:  # emitted when the flight recorder writes the line, if it does
            severities = (severity, severity_text)
            return HeldRecord(otel_logger, span, now, severities, body, attrs, event_name, extra)
        if otel_logger is not None:
            otel_logger.emit(
                timestamp=now,
                severity_number=severity,
                severity_text=severity_text,
                body=body,
                attributes=attrs,
                event_name=event_name,
            )
        if span is not None:  # the SDK bounds events per span (OTEL_SPAN_EVENT_COUNT_LIMIT)
            if not _span_events_noted:
                _note_span_events()
            span.add_event(body, attrs | extra, timestamp=now)
        return None

    def _record_logger(
        self,
        logger: Any,
        event_dict: Mapping[str, Any],
        name: str | None,
        severity: SeverityNumber,
        levelno: int,
    ) -> Logger | None:
        """The OTel logger to emit a record with, or ``None`` when no record is due."""
        if not self._log_records or (self._defer and _handled_by_otel(logger, event_dict, levelno)):
            return None
        otel_logger = self._otel_logger(name or _DEFAULT_SCOPE)
        # Logger.enabled() is new in opentelemetry-api 1.41; before it, every logger is on.
        enabled = getattr(otel_logger, "enabled", None)
        return otel_logger if enabled is None or enabled(severity_number=severity) else None

    def _otel_logger(self, name: str) -> Logger:
        provider = self._provider or get_logger_provider()
        cached_provider, loggers = self._loggers
        if cached_provider is not provider:
            loggers = {}
            self._loggers = (provider, loggers)
        otel_logger = loggers.get(name)
        if otel_logger is None:
            otel_logger = loggers[name] = provider.get_logger(name)
        return otel_logger


def _event_name(name: str | None, body: str, record: object) -> str:
    """``"{logger}.{event}"``; for a stdlib record, its message template, not the text.

    An event name names a kind of event: ``"Not Found: %s"``, not each path that was not found.
    """
    if isinstance(record, logging.LogRecord) and isinstance(record.msg, str):
        body = record.msg
    return f"{name}.{body}" if name else body


def _recording_span() -> trace.Span | None:
    span = trace.get_current_span()
    return span if span.is_recording() else None  # never for sampled-out or invalid spans


def _logger_name(logger: Any, event_dict: Mapping[str, Any]) -> str | None:
    name = event_dict.get("logger")
    if name is None:
        record = event_dict.get("_record")  # a stdlib record in ProcessorFormatter
        name = getattr(record if record is not None else logger, "name", None)
    return name if isinstance(name, str) and name else None


def _handled_by_otel(logger: Any, event_dict: Mapping[str, Any], levelno: int) -> bool:
    """Whether stdlib logging hands this event to an OTel ``LoggingHandler``."""
    record = event_dict.get("_record")
    if isinstance(record, logging.LogRecord):
        stdlib_logger: logging.Logger | None = logging.getLogger(record.name)
        levelno = record.levelno
    elif isinstance(logger, logging.Logger):
        stdlib_logger = logger
    else:
        return False
    while stdlib_logger is not None:  # the walk Logger.callHandlers makes
        for handler in stdlib_logger.handlers:
            if levelno >= handler.level and is_otel_handler(type(handler)):
                return True
        if not stdlib_logger.propagate:
            break
        stdlib_logger = stdlib_logger.parent
    return False


def is_otel_handler(kind: type) -> bool:
    """Whether handler class *kind* is (or derives from) an OTel ``LoggingHandler``.

    ``opentelemetry-instrumentation-logging``'s handler or the SDK's deprecated one: both are
    named ``LoggingHandler``; matched by name and module so neither package is imported.
    Cached per class.

    Args:
        kind: A ``logging.Handler`` subclass.

    Returns:
        True for an OTel handler class or a subclass of one.
    """
    known = _OTEL_HANDLER_TYPES.get(kind)
    if known is None:
        known = _OTEL_HANDLER_TYPES[kind] = any(
            cls.__name__ == "LoggingHandler" and cls.__module__.startswith("opentelemetry.")
            for cls in kind.__mro__
        )
    return known


def _note_span_events() -> None:
    """Say once per process that span events are the compatibility path (never a warning).

    Logged outside the request's context, so the note is neither a span event of the user's
    trace nor a line carrying the request's ids.
    """
    global _span_events_noted  # noqa: PLW0603 - one flag per process, set before logging
    _span_events_noted = True
    token = otel_context_api.attach(otel_context_api.Context())
    try:
        _logger.debug(
            "otel_context: StructlogOTelLogProcessor(span_events=True) adds each event to its"
            " span as a span event: the compatibility path for back ends that store traces only"
            " (Jaeger). OpenTelemetry is deprecating the Span Event API (OTEP 4430); every event"
            " is exported as a log record by default (see docs/export.md)"
        )
    finally:
        otel_context_api.detach(token)


def _report_failure(exc: Exception) -> None:
    # Logging from a log processor can re-enter it (stdlib records routed through structlog).
    if getattr(_reentry, "active", False):
        return
    _reentry.active = True
    try:
        _logger.error("otel_context: emitting a log event to OpenTelemetry failed", exc_info=exc)
    finally:
        _reentry.active = False
