"""Held lines written later as they were logged: same time, trace context and OTel log record.

The flight recorder (:mod:`otel_context.flight_recorder`) holds a line's event and writes it
when the request turns out to matter, or drops it. What the line would have produced at log
time is captured with it, so that writing it later produces the same thing:

- :class:`HeldRecord`: the OTel log record that
  :class:`~otel_context.log_records.StructlogOTelLogProcessor` would have emitted (body,
  severity, attributes with the request's identifiers, time), and the OTel context it was
  logged in. It is emitted with that context when the line is written
  (``log.held: true`` and ``log.held.written``, the reason, among its attributes), never if the
  line is dropped: exactly once or not at all. The context is passed explicitly because the
  SDK's batch processor reads nothing from the context at export time (1.44+ clears it).
- :class:`HeldLine`: the event dict (a shallow copy, everything but the renderer applied), the
  renderer, the logger and its method, the record and context. It is rendered only when
  written, so a dropped line costs no rendering; the values are rendered as they are then
  (as ``logging.MemoryHandler`` formats its records when it flushes). Written through a
  stdlib ``logging.Logger``, the ``LogRecord`` is made with the line's own creation time and
  handled inside its own context, so a file handler's ``asctime``, an OTel ``LoggingHandler``'s
  timestamp and trace ids, and ``OTelContextFilter``'s identifiers are the logging moment's.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Final, Protocol

from opentelemetry import context as context_api

from otel_context.log_sampling import HELD, HELD_WHY, METHOD_LEVELS

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, MutableMapping

    from opentelemetry._logs import Logger, SeverityNumber
    from opentelemetry.trace import Span
    from opentelemetry.util.types import AttributeValue

__all__ = ["HOLD_EXPORT", "Held", "HeldLine", "HeldRecord"]

_logger = logging.getLogger(__name__)
#: The event dict key on which the export processor leaves a held line's record for the recorder.
HOLD_EXPORT: Final = "_otel_context_held_record"


class Held(Protocol):
    """What a request holds: a structlog :class:`HeldLine`, or a stdlib record (held_records)."""

    #: What the bounds count it at (:func:`otel_context._held_size.estimate`).
    size: int

    @property
    def exports(self) -> bool:
        """Whether writing it may emit to an OTel ``LoggerProvider`` (which shuts down at exit)."""

    def write_out(self, why: str) -> bool:
        """Write it, marked held and *why*; whether it was written. Never raises."""


class HeldRecord:
    """An OTel log record (and, opt-in, span event) prepared at log time, emitted later."""

    __slots__ = (
        "attributes",
        "body",
        "context",
        "event_name",
        "logger",
        "severity",
        "span",
        "span_extra",
        "timestamp",
    )

    def __init__(  # noqa: PLR0913, PLR0917 - the record's fields, all captured at log time
        self,
        logger: Logger | None,
        span: Span | None,
        timestamp: int,
        severity: tuple[SeverityNumber, str],
        body: str,
        attributes: dict[str, AttributeValue],
        event_name: str,
        span_extra: Mapping[str, AttributeValue],
    ) -> None:
        self.logger = logger
        self.span = span
        self.timestamp = timestamp
        self.severity = severity
        self.body = body
        self.attributes = attributes
        self.event_name = event_name
        self.span_extra = span_extra
        self.context = context_api.get_current()

    def emit(self, why: str = "") -> None:
        """Emit the record with its own time and context; held and *why*, if written held."""
        attrs = {**self.attributes, HELD: True, HELD_WHY: why} if why else self.attributes
        if self.logger is not None:
            self.logger.emit(
                timestamp=self.timestamp,
                context=self.context,
                severity_number=self.severity[0],
                severity_text=self.severity[1],
                body=self.body,
                attributes=attrs,
                event_name=self.event_name,
            )
        span = self.span
        if span is not None and span.is_recording():  # not once the span has ended
            span.add_event(self.body, {**attrs, **self.span_extra}, timestamp=self.timestamp)


class HeldLine:
    """One held line: rendered and written by its logger method, in its context, if written."""

    __slots__ = ("context", "created", "event", "logger", "method", "record", "render", "size")

    def __init__(  # noqa: PLR0913, PLR0917 - what the renderer and the logger call are given
        self,
        render: Callable[[Any, str, MutableMapping[str, Any]], Any],
        logger: Any,
        method: str,
        event: MutableMapping[str, Any],
        size: int,
        record: HeldRecord | None,
    ) -> None:
        self.render = render
        self.logger = logger
        self.method = method
        self.event = event
        #: What the bounds count it at (:func:`otel_context._held_size.estimate`).
        self.size = size
        self.record = record
        self.context = context_api.get_current()
        self.created = time.time_ns()

    @property
    def exports(self) -> bool:
        """Whether it has an OTel record to emit when written."""
        return self.record is not None

    def write_out(self, why: str) -> bool:
        """Render the line marked held and *why*, write it, then emit its record.

        Never raises (a broken renderer or stream must not): returns whether the line was
        written; a line that was not is logged at ``DEBUG``. Its record is emitted either way.
        """
        token = context_api.attach(self.context)
        try:
            written = self._write(why)
            if self.record is not None:
                try:
                    self.record.emit(why)
                except Exception:
                    _logger.debug("otel_context: emitting a held record failed", exc_info=True)
            return written
        finally:
            context_api.detach(token)

    def _write(self, why: str) -> bool:
        event = self.event
        event[HELD] = True
        event[HELD_WHY] = why
        try:
            args, kwargs = call_arguments(self.render(self.logger, self.method, event))
            if isinstance(self.logger, logging.Logger):
                _handle(self.logger, self.method, args, kwargs, self.created)
            else:
                getattr(self.logger, self.method)(*args, **kwargs)
        except Exception:
            _logger.debug("otel_context: writing a held line failed", exc_info=True)
            return False
        return True


def call_arguments(rendered: object) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The logger call's arguments for what the last processor returned, as structlog's.

    A line (``str``, ``bytes``), ``(args, kwargs)`` (``ProcessorFormatter.wrap_for_formatter``)
    or ``kwargs`` (a ``dict``); anything else is a ``TypeError``.
    """
    if isinstance(rendered, str | bytes | bytearray):
        return (rendered,), {}
    if isinstance(rendered, tuple) and len(rendered) == 2:
        args, kwargs = rendered
        if isinstance(args, tuple) and isinstance(kwargs, dict):
            return args, kwargs
    if isinstance(rendered, dict):
        return (), rendered
    msg = f"the last processor returned {type(rendered).__name__}: nothing a logger takes"
    raise TypeError(msg)


def _handle(
    logger: logging.Logger,
    method_name: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    created_ns: int,
) -> None:
    """What ``logger.<method_name>(*args, **kwargs)`` does, the record created at *created_ns*."""
    level = METHOD_LEVELS.get(method_name, logging.INFO)
    if not logger.isEnabledFor(level):
        return
    msg, rest = (args[0], args[1:]) if args else ("", ())
    record = logger.makeRecord(
        logger.name,
        level,
        "(unknown file)",
        0,
        msg,
        rest,
        kwargs.get("exc_info"),
        extra=kwargs.get("extra"),
    )
    created = created_ns / 1e9
    record.relativeCreated -= (record.created - created) * 1000
    record.created = created
    record.msecs = (created_ns % 1_000_000_000) // 1_000_000 + 0.0
    logger.handle(record)
