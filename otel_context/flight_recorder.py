"""A flight recorder: the chatter of a sampled-out request, held until its outcome is known.

With ``HOLD_LINES`` on, the structlog lines below ``UNSAMPLED_LOG_LEVEL`` of a Django request
whose trace is sampled out (and not kept by ``UNSAMPLED_LOG_RATIO``) are held in the request's
scope as event dicts, unrendered, and rendered and written only if the request turns out to
matter:

- it ends in a 5xx (an unhandled exception is one), or is abandoned (a client disconnect);
- it logs a line at ``ERROR`` or above: the held lines are written then, before that line;
- it ran longer than ``HOLD_SLOW_MS``;
- or the process exits with it in flight (``atexit``: SIGTERM under gunicorn, a worker timeout).

Otherwise they are dropped, never rendered. A written held line keeps its own timestamp (set
when logged) and order, and carries ``"log.held": true`` and why it was written,
``"log.held.written"`` (as on the span). Each request holds at most ``HOLD_MAX_LINES`` lines
and ``HOLD_MAX_BYTES`` bytes (estimated, :mod:`otel_context._held_size`; the oldest go first,
counted on the span as ``log.held.dropped`` and in one warning when written), and the process
at most ``HOLD_MAX_PROCESS_BYTES`` (beyond, lines are dropped and counted). A line that fails to
render when written is counted (``log.held.failed``). A process killed by SIGKILL loses what it
held, and only that.

:class:`FlightRecorder` wraps the renderer, the last processor: it is where a line becomes the
string the logger writes, so a held line is rendered and written later by the same renderer
and logger method.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import atexit
import logging
import sys
import threading
import time
import weakref
from collections import deque
from typing import TYPE_CHECKING, Any

from otel_context._held_size import estimate
from otel_context.held_export import HOLD_EXPORT, Held, HeldLine, HeldRecord
from otel_context.log_sampling import (
    HELD,
    HELD_WHY,
    HOLD_MARK,
    METHOD_LEVELS,
    RECORDERS,
    WRITING_HELD,
    trace_keeps,
)
from otel_context.processors import _current_context
from otel_context.scope import SCOPE_KEY

if TYPE_CHECKING:
    from collections.abc import Callable, MutableMapping

    from otel_context import conf

__all__ = [
    "HELD",
    "FlightRecorder",
    "HeldLines",
    "held_lines",
    "held_now",
    "hold_for",
    "note_status",
]

_logger = logging.getLogger(__name__)
_process_lock = threading.Lock()
_process_bytes = [0]
#: Every request holding lines now, for the flush at exit.
_live: weakref.WeakSet[HeldLines] = weakref.WeakSet()


class HeldLines:
    """The held lines of one request (in its scope), and what decides their fate."""

    __slots__ = (
        "__weakref__",
        "_config",
        "bytes",
        "dropped",
        "due",
        "failed",
        "lines",
        "started",
        "status",
    )

    def __init__(self, config: conf.Config) -> None:
        self._config = config
        self.lines: deque[Held] = deque()
        self.bytes = 0
        self.dropped = 0
        #: Held lines that could not be rendered or written when written.
        self.failed = 0
        #: Why the held lines are written ("error", "slow", ...); empty while undecided.
        self.due = ""
        self.status = 0
        self.started = time.monotonic()
        _live.add(self)

    def measure(self, event: MutableMapping[str, Any]) -> int:
        """The size the bounds count *event* at, rendered or not (:mod:`~._held_size`)."""
        return estimate(event, self._config.hold_max_bytes)

    def hold(self, line: Held) -> None:
        """Hold *line*; the oldest go beyond the bounds, a line above them alone is dropped."""
        size = line.size
        config = self._config
        if size > config.hold_max_bytes:
            self.dropped += 1
            return
        with _process_lock:
            if _process_bytes[0] + size > config.hold_max_process_bytes:
                self.dropped += 1
                return
            _process_bytes[0] += size
        if not _exit_order[0] and line.exports:
            _flush_before_providers_shut_down()
        self.lines.append(line)
        self.bytes += size
        while len(self.lines) > config.hold_max_lines or self.bytes > config.hold_max_bytes:
            self._forget(self.lines.popleft().size)
            self.dropped += 1

    def write(self, why: str) -> None:
        """Render and write every held line, oldest first, and from now on hold nothing."""
        self.due = why = self.due or why
        WRITING_HELD.active = True  # a LogSamplingFilter downstream lets these through
        try:
            while self.lines:
                held = self.lines.popleft()
                self._forget(held.size)
                if not held.write_out(why):  # then its OTel record, if any; never raises
                    self.failed += 1
        finally:
            WRITING_HELD.active = False
        if self.dropped:
            _logger.warning(
                "otel_context: %d held log lines of this request were dropped (HOLD_MAX_*)",
                self.dropped,
            )
            self.dropped = 0

    def finish(self, span: object) -> None:
        """The request ended: write what is due, drop the rest, mark the span."""
        why = self.due or self._outcome()
        dropped = self.dropped
        if why:
            self.write(why)
        else:
            while self.lines:
                self._forget(self.lines.popleft().size)
        _live.discard(self)
        _mark(span, why, dropped, self.failed)

    def _outcome(self) -> str:
        if self.status == 0 or self.status >= 500:
            return "error" if self.status else "unfinished"
        slow = self._config.hold_slow_ms
        if slow and (time.monotonic() - self.started) * 1000 > slow:
            return "slow"
        return ""

    def _forget(self, size: int) -> None:
        self.bytes -= size
        with _process_lock:
            _process_bytes[0] -= size


def _mark(span: object, why: str, dropped: int, failed: int) -> None:
    """The decision on the span (if it records): why the lines were kept, and what was lost."""
    set_attribute = getattr(span, "set_attribute", None)
    if set_attribute is None or not getattr(span, "is_recording", lambda: False)():
        return
    if why:
        set_attribute(HELD_WHY, why)
    if dropped:
        set_attribute("log.held.dropped", dropped)
    if failed:
        set_attribute("log.held.failed", failed)


def held_lines(span: object, config: conf.Config) -> HeldLines | None:
    """A request's recorder: only if its lines could be dropped (a sampled-out, unkept trace)."""
    get_span_context = getattr(span, "get_span_context", None)
    if get_span_context is None or config.unsampled_log_ratio >= 1.0:
        return None
    span_context = get_span_context()
    if not span_context.is_valid or span_context.trace_flags & 1:
        return None
    if trace_keeps(span_context.trace_id, config.unsampled_log_ratio):
        return None
    return HeldLines(config)


def note_status(scope: object, status: int) -> None:
    """The response's status code, for the request's held lines (if it holds any)."""
    held = getattr(scope, "held", None)
    if held is not None:
        held.status = status


def hold_for(scope: object) -> HeldLines | None:
    """The lines *scope* holds, if it holds any and has not decided to write them."""
    held = getattr(scope, "held", None)
    return held if held is not None and not held.due else None


def held_now() -> tuple[int, int]:
    """Lines and bytes (estimated, as the bounds count them) held in this process now."""
    lines = sum(len(held.lines) for held in list(_live))
    return lines, _process_bytes[0]


def flush_at_exit() -> None:
    """Write the held lines of every request still in flight (the process is going away)."""
    for held in list(_live):
        held.write("exit")


atexit.register(flush_at_exit)
#: Whether flush_at_exit was registered again after the first held OTel record (see below).
_exit_order = [False]


def _flush_before_providers_shut_down() -> None:
    """Register the exit flush again, now, so that it runs before the providers' shutdown.

    ``atexit`` runs last in, first out, and the SDK's ``LoggerProvider`` (created after this
    module was imported) shuts down at exit too: held records emitted after it are lost.
    """
    _exit_order[0] = True
    atexit.unregister(flush_at_exit)
    atexit.register(flush_at_exit)


class FlightRecorder:
    """Wraps the renderer (the last processor): holds the lines the request may not need.

    ``structlog.configure(processors=[..., FlightRecorder(JSONRenderer())])``. A held line is
    the event dict (a shallow copy), rendered only when written, with its values as they are
    then, and handed to the logger as structlog hands it a line: a string, or
    ``ProcessorFormatter.wrap_for_formatter``'s arguments (the handler's ``ProcessorFormatter``
    renders it then). A held line written through a stdlib ``logging.Logger`` passes
    :class:`~otel_context.LogSamplingFilter`.

    Args:
        renderer: The processor that renders the event.

    .. versionadded:: 0.1.0
    """

    __slots__ = ("renderer",)

    def __init__(self, renderer: Callable[[Any, str, MutableMapping[str, Any]], Any]) -> None:
        self.renderer = renderer
        RECORDERS[0] += 1

    def __call__(self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> Any:
        """Render *event_dict*; return the line, or hold the event and drop it for now."""
        if event_dict.pop(HOLD_MARK, None) is None:
            self._error_due(method_name)
            return self.renderer(logger, method_name, event_dict)
        record: HeldRecord | None = event_dict.pop(HOLD_EXPORT, None)
        held = hold_for(_current_context().get(SCOPE_KEY))
        if held is None:  # decided meanwhile (an error line in another thread)
            if record is not None:
                record.emit()
            return self.renderer(logger, method_name, event_dict)
        if hasattr(logger, method_name):
            if event_dict.get("exc_info") is True:  # the exception being handled now
                event_dict["exc_info"] = sys.exc_info()
            # structlog made this dict for this call (a copy of the bound context): it is ours
            size = held.measure(event_dict)
            held.hold(HeldLine(self.renderer, logger, method_name, event_dict, size, record))
        # else: no logger method to write it with later: dropped, as without the recorder
        import structlog  # noqa: PLC0415

        raise structlog.DropEvent

    @staticmethod
    def _error_due(method_name: str) -> None:
        """A line at ERROR or above: the request matters; its held lines go first."""
        if METHOD_LEVELS.get(method_name, 0) < logging.ERROR:
            return
        try:
            held = hold_for(_current_context().get(SCOPE_KEY))
            if held is not None:
                held.write("error")
        except Exception:
            _logger.debug("otel_context: writing held lines failed", exc_info=True)
