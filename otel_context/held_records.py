"""Stdlib records held too: the flight recorder for ``logging``, as a handler that wraps another.

:class:`~otel_context.LogSamplingFilter` decides when a record is logged: a stdlib ``INFO``
record of a sampled-out request is dropped or written, never held. :class:`HeldHandler` wraps
the handler that writes records (as ``logging.handlers.MemoryHandler`` wraps its target) and
makes the same decision, but a record the policy would drop, logged in a request that holds its
lines (``HOLD_LINES``), is held in that request's
:class:`~otel_context.flight_recorder.HeldLines` beside its structlog lines, under the same
bounds, and handed to the target (``target.handle(record)``) if the request turns out to
matter, in the order logged, in the context it was logged in, with the attributes ``log.held``
and ``log.held.written``; otherwise it is dropped, never formatted. An ``ERROR`` record writes
the request's held lines and records before it is handled.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import logging
import logging.handlers
from typing import TYPE_CHECKING, Final

from opentelemetry import context as context_api

from otel_context.log_sampling import (
    HELD,
    HELD_WHY,
    WRITING_HELD,
    _policy,
    _write_held,
    line_kept,
)
from otel_context.processors import _current_context
from otel_context.scope import SCOPE_KEY

if TYPE_CHECKING:
    from otel_context.flight_recorder import HeldLines

__all__ = ["HeldHandler", "HeldLogRecord", "record_size"]

_logger = logging.getLogger(__name__)
#: What a record counts for beyond its message and arguments (its name, level, time, place).
RECORD_OVERHEAD: Final = 100


class HeldLogRecord:
    """A held stdlib record: handed to its target, in its context, if written."""

    __slots__ = ("context", "record", "size", "target")

    def __init__(self, target: logging.Handler, record: logging.LogRecord, size: int) -> None:
        self.target = target
        self.record = record
        self.size = size
        self.context = context_api.get_current()

    @property
    def exports(self) -> bool:
        """Whether the target is an OTel ``LoggingHandler`` (it has a logger provider)."""
        return getattr(self.target, "_logger_provider", None) is not None

    def write_out(self, why: str) -> bool:
        """``target.handle(record)``, marked held and *why*. Never raises."""
        token = context_api.attach(self.context)
        try:
            setattr(self.record, HELD, True)
            setattr(self.record, HELD_WHY, why)
            self.target.handle(self.record)
        except Exception:
            _logger.debug("otel_context: writing a held record failed", exc_info=True)
            return False
        finally:
            context_api.detach(token)
        return True


def record_size(record: logging.LogRecord, held: HeldLines) -> int:
    """What the bounds count *record* at: its message, arguments and exception, estimated."""
    fields = {"msg": record.msg, "args": record.args, "exc_info": record.exc_info}
    return RECORD_OVERHEAD + held.measure(fields)


class HeldHandler(logging.handlers.MemoryHandler):
    """Wraps *target*: the records of sampled-out requests below a level, held or dropped.

    ``HeldHandler(logging.StreamHandler())`` where the plain handler was; in ``LOGGING``,
    ``"class": "otel_context.held_records.HeldHandler"`` and ``"target"``, the name of the
    handler it wraps (a ``MemoryHandler`` subclass, so ``dictConfig`` resolves the name; it
    buffers nothing itself: the request's held lines do). A record is handed to
    *target* at once when :class:`~otel_context.LogSamplingFilter` would keep it; otherwise it
    is held in its request (``HOLD_LINES``) and handed over if the request matters, or dropped.
    The target's own level, filters and formatter apply when it handles the record.

    Args:
        target: The handler that writes (or exports) the records.
        level: As for :class:`~otel_context.LogSamplingFilter`.
        ratio: As for :class:`~otel_context.LogSamplingFilter`.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self, target: logging.Handler, *, level: int | None = None, ratio: float | None = None
    ) -> None:
        super().__init__(0, target=target, flushOnClose=False)
        self.keep_level = level
        self.ratio = ratio

    def handle(self, record: logging.LogRecord) -> bool:
        """Apply this handler's filters, then hand *record* over, hold it, or drop it.

        Without this handler's lock: the target takes its own.
        """
        kept = self.filter(record)
        if kept:
            self.emit(kept if isinstance(kept, logging.LogRecord) else record)
        return bool(kept)

    def emit(self, record: logging.LogRecord) -> None:
        """Hand *record* to the target now, or hold it (never raises: on an error, hand it)."""
        target = self.target
        if target is None:  # closed
            return
        try:
            now, held = self._decide(record)
            if not now and held is not None:
                held.hold(HeldLogRecord(target, record, record_size(record, held)))
        except Exception:
            _logger.debug("otel_context: deciding on a record failed", exc_info=True)
            now = True
        if now:
            target.handle(record)

    def _decide(self, record: logging.LogRecord) -> tuple[bool, HeldLines | None]:
        """Whether to hand *record* over now; if not, the request that holds it (or none)."""
        if record.levelno >= logging.ERROR:
            _write_held()  # the request's held lines go before this record
        level, ratio = _policy(self.keep_level, self.ratio)
        if line_kept(record.levelno, level, ratio) or getattr(WRITING_HELD, "active", False):
            return True, None
        held: HeldLines | None = getattr(_current_context().get(SCOPE_KEY), "held", None)
        if held is None:
            return False, None  # not a holding request: dropped, as LogSamplingFilter drops it
        return bool(held.due), held  # decided already: written as it comes

    def flush(self) -> None:
        """Flush the target (this handler buffers nothing)."""
        target = self.target
        if target is not None:
            target.flush()

    def shouldFlush(self, record: logging.LogRecord) -> bool:  # noqa: N802 - logging's name
        """Never: nothing is buffered here."""
        del record
        return False
