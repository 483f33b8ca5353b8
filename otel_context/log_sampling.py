"""Log lines that follow the trace's sampling: drop, or sample, the chatter of sampled-out traces.

With head sampling at 10 %, nine lines in ten name a trace that is never stored. This module
keeps a line when

- its level is at or above ``UNSAMPLED_LOG_LEVEL`` (default ``WARNING``): always;
- there is no valid current span (start-up, a management command): nothing to follow;
- the current trace is sampled (the W3C ``sampled`` flag of the current span context);
- or the trace is one of the ``UNSAMPLED_LOG_RATIO`` share of sampled-out traces chosen by
  :func:`trace_keeps`, a function of the trace id alone, so every service of one trace (and
  its Celery tasks and ``django.tasks``, which continue the request's trace) makes the same
  choice. ``0`` drops them all; ``1`` (the default) keeps every line: the feature is off.

:class:`LogSamplingProcessor` applies it to structlog events (raising ``structlog.DropEvent``),
:class:`LogSamplingFilter` to stdlib records (on a handler). Put the processor first in the
chain, before :class:`~otel_context.StructlogOTelProcessor` and
:class:`~otel_context.log_records.StructlogOTelLogProcessor`, so a dropped event costs least and is
exported nowhere. Neither reads anything when the feature is off beyond one comparison.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, Final

from otel_context import conf
from otel_context.processors import _SPAN_KEY, _current_context
from otel_context.scope import SCOPE_KEY

if TYPE_CHECKING:
    from collections.abc import MutableMapping

    from opentelemetry.trace import Span

__all__ = ["LogSamplingFilter", "LogSamplingProcessor", "line_kept", "trace_keeps"]

#: W3C Trace Context level 2: the rightmost 7 bytes of a trace id are random.
_RANDOM_BITS: Final = 56
_MASK: Final = (1 << _RANDOM_BITS) - 1
#: An odd 56-bit multiplier (the golden ratio's bits): a bijection on the random bits that
#: spreads them, so this choice is independent of ``TraceIdRatioBased``'s (which compares the
#: low 64 bits with a bound: used as is, a log ratio below the trace ratio would keep nothing).
_MIX: Final = 0x9E3779B97F4A7D
_ALWAYS: Final = 1 << _RANDOM_BITS
#: ``active`` while the flight recorder writes held lines (the filter must not drop them).
WRITING_HELD: Final = threading.local()
#: How many FlightRecorders exist: none, and nothing is left to one (it would be written as is).
RECORDERS: Final = [0]
#: On an event left to the :class:`~otel_context.flight_recorder.FlightRecorder` to hold.
HOLD_MARK: Final = "_otel_context_hold"
#: The field a written held line (and its OTel log record) carries.
HELD: Final = "log.held"
#: Why it was written (``error``, ``slow``, ``unfinished``, ``exit``): on the line, its record
#: and the request span (where :mod:`otel_context.trace_keeping` reads it).
HELD_WHY: Final = "log.held.written"
#: structlog method names -> levels (``exception`` logs at ERROR); others are kept.
METHOD_LEVELS: Final = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "msg": logging.INFO,
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "exception": logging.ERROR,
    "critical": logging.CRITICAL,
    "fatal": logging.CRITICAL,
}


def trace_keeps(trace_id: int, ratio: float) -> bool:
    """Whether the sampled-out trace *trace_id* keeps its lines at *ratio*: same in every service.

    Keyed on the 56 random bits of the trace id, mixed (see ``_MIX``), against ``ratio * 2**56``.
    """
    if ratio >= 1.0:
        return True
    return ((trace_id & _MASK) * _MIX) & _MASK < int(ratio * _ALWAYS)


#: The last span context decided, the ratio, and whether its lines are kept (one slot: a
#: request's lines share their span; swapping a tuple is atomic). A span context is
#: immutable, and holding it keeps no span alive.
_last_decision: tuple[object, float, bool] = (None, 1.0, True)


def line_kept(levelno: int, level: int, ratio: float) -> bool:
    """Whether a line at *levelno* is written now, with the policy *level* and *ratio*."""
    global _last_decision  # noqa: PLW0603 - the one-slot cache above
    if levelno >= level or ratio >= 1.0:
        return True
    span: Span | None = _current_context().get(_SPAN_KEY)  # type: ignore[assignment]
    if span is None:
        return True
    span_context = span.get_span_context()
    last, last_ratio, kept = _last_decision
    if last is span_context and last_ratio == ratio:
        return kept
    kept = (
        not span_context.is_valid
        or bool(span_context.trace_flags & 1)
        or trace_keeps(span_context.trace_id, ratio)
    )
    _last_decision = (span_context, ratio, kept)
    return kept


def _policy(level: int | None, ratio: float | None) -> tuple[int, float]:
    """The explicit *level* / *ratio*, else the configured ones (read per line: cheap)."""
    if level is None or ratio is None:
        config = conf.get_config()
        level = config.unsampled_log_level if level is None else level
        ratio = config.unsampled_log_ratio if ratio is None else ratio
    return level, ratio


def _held(event_dict: MutableMapping[str, Any]) -> bool:
    """Whether the request holds its lines (``HOLD_LINES``): the recorder decides, not us.

    A request that already turned out to matter (an error line) writes its lines as they come.
    """
    held = getattr(_current_context().get(SCOPE_KEY), "held", None)
    if held is None or not RECORDERS[0]:
        return False
    if not held.due:
        event_dict[HOLD_MARK] = True
    return True


def _write_held() -> None:
    """An error record: the request matters, its held lines (``HOLD_LINES``) go out first."""
    held = getattr(_current_context().get(SCOPE_KEY), "held", None)
    if held is not None and not held.due:
        held.write("error")


class LogSamplingProcessor:
    """A structlog processor dropping the lines of sampled-out traces below a level.

    Put it first in structlog's processors. An event built from a stdlib record by
    ``ProcessorFormatter`` is never dropped here (``DropEvent`` would crash the formatter):
    put :class:`LogSamplingFilter` on that handler instead. It never raises anything else:
    on an internal error the line is kept.

    Args:
        level: Lines at or above it are always kept; default ``UNSAMPLED_LOG_LEVEL``.
        ratio: Share of sampled-out traces that keep their lines; default
            ``UNSAMPLED_LOG_RATIO`` (``1.0``: keep all, the feature is off).

    .. versionadded:: 0.1.0
    """

    __slots__ = ("level", "ratio")

    def __init__(self, *, level: int | None = None, ratio: float | None = None) -> None:
        self.level = level
        self.ratio = ratio

    def __call__(
        self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        """Return *event_dict*, or raise ``structlog.DropEvent`` to drop the line."""
        try:
            # The common cases first, inline: off (ratio 1), and a line at or above the level.
            config = conf._cached or conf.get_config()  # noqa: SLF001 - the per-event fast path
            ratio = config.unsampled_log_ratio if self.ratio is None else self.ratio
            if ratio >= 1.0:
                return event_dict
            level = config.unsampled_log_level if self.level is None else self.level
            levelno = METHOD_LEVELS.get(method_name, logging.CRITICAL)
            if levelno >= logging.ERROR and RECORDERS[0]:
                _write_held()  # held lines (and their OTel records) go before this one
            if line_kept(levelno, level, ratio) or "_record" in event_dict or _held(event_dict):
                return event_dict
        except Exception:  # keep the line; a broken policy must not lose logs
            return event_dict
        import structlog  # noqa: PLC0415 - only when dropping; the core works without it

        raise structlog.DropEvent


class LogSamplingFilter(logging.Filter):
    """A ``logging.Filter`` dropping the records of sampled-out traces below a level.

    Put it on the handlers (a logger's filters do not see records propagated from child
    loggers), including an OTel ``LoggingHandler`` and a ``ProcessorFormatter``'s handler.

    Args:
        name: Sample only the records of this logger and its children (default: all).
        level: As for :class:`LogSamplingProcessor`.
        ratio: As for :class:`LogSamplingProcessor`.

    .. versionadded:: 0.1.0
    """

    def __init__(
        self, name: str = "", *, level: int | None = None, ratio: float | None = None
    ) -> None:
        super().__init__(name)
        self.level = level
        self.ratio = ratio

    def filter(self, record: logging.LogRecord) -> bool:
        """Whether *record* is written (never raises: on an internal error it is)."""
        if not super().filter(record):
            return True  # outside the *name* subtree: not this filter's to sample
        try:
            if record.levelno >= logging.ERROR:
                _write_held()  # before this record, as the FlightRecorder does for events
            level, ratio = _policy(self.level, self.ratio)
            return line_kept(record.levelno, level, ratio) or getattr(WRITING_HELD, "active", False)
        except Exception:
            return True
