"""The request's identifiers on the stdlib records an OTel ``LoggingHandler`` exports.

``opentelemetry-instrumentation-logging``'s handler (and the SDK's deprecated one) turns a
record's extra attributes into log-record attributes, and takes the trace from the current
context. otel_context's structlog exporter defers to it for stdlib records
(``processor._handled_by_otel``), so without this those records would carry the trace and none
of the request's identifiers.

:func:`install` wraps the ``emit`` of every such handler *class*, once: the record gets
the identifiers of the request it was logged in (``user.id``, ``correlation.id``, ...; the
scope's, never a client's), as strings, for the time of that one ``emit``, and then exactly
its old attributes back. A handler filter would do the same, but it would leave the keys on
the record for every handler after it (Python 3.11 has no per-handler copy of a record).
Wrapping the class, not the handlers on loggers today, covers a handler added after
start-up (a ``LOGGING`` applied later, ``LoggingInstrumentor().instrument()`` run late), and a
class defined later is wrapped when it is defined (a ``logging.Handler.__init_subclass__``
hook), so importing ``opentelemetry-instrumentation-logging`` is never otel_context's cost.
A key the call site passed in ``extra=`` wins; a non-string value there becomes a string
(one type per identifier). :class:`~otel_context.stdlib.OTelContextFilter`'s defaults
(:class:`~otel_context.stdlib.Placeholder`, ``"-"``) are taken off the record for that
``emit`` too: a placeholder claims no id, so it is never exported as one. So are the filter's
copies for format strings: an identifier's ``_`` spelling (``user_id`` beside ``user.id``)
and the trace fields (``trace_id``, ``span_id``, ``trace_sampled``: the exported record
carries its trace context itself). Each id is exported once, under its dotted name.
"""

from __future__ import annotations

import functools
import logging
import threading
from typing import TYPE_CHECKING, Any, Final

from otel_context import attributes, stdlib
from otel_context.log_records.processor import is_otel_handler
from otel_context.processors import current_fields
from otel_context.scope import as_text
from otel_context.stdlib import Placeholder

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from otel_context.trace_fields import Fields

_logger = logging.getLogger(__name__)
#: Set on a wrapped ``emit`` (and on the subclass hook), so each is wrapped once.
WRAPPED: Final = "_otel_context_ids"
_lock = threading.Lock()
_TRACE_KEYS: Final = frozenset({attributes.TRACE_ID, attributes.SPAN_ID, attributes.TRACE_SAMPLED})
_ABSENT: Final = object()
Undo = list[tuple[str, object]]
#: (dotted key, value as a string, the key's ``_`` spelling or ``None``) of each identifier.
Items = tuple[tuple[str, str, str | None], ...]
_last: tuple[object, Items] = (None, ())


def install() -> int:
    """Wrap every OTel ``LoggingHandler`` class, now and when defined; how many were new.

    Idempotent and thread-safe; never raises (a failure is logged at DEBUG).
    """
    try:
        with _lock:
            _hook_subclasses()
            return sum(_wrap_class(kind) for kind in _subclasses(logging.Handler))
    except Exception:  # start-up goes on: records are exported without the ids
        _logger.debug("otel_context: wrapping OTel LoggingHandlers failed", exc_info=True)
        return 0


def _subclasses(kind: type) -> Iterator[type]:
    """Every class defined so far below *kind*."""
    sub: type
    for sub in kind.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _hook_subclasses() -> None:
    """Have ``logging.Handler`` wrap each OTel handler class defined from now on."""
    previous = logging.Handler.__dict__.get("__init_subclass__")
    if getattr(getattr(previous, "__func__", None), WRAPPED, False):
        return  # ours (a classmethod: the mark is on its function)

    def init_subclass(cls: type[logging.Handler], /, **kwargs: Any) -> None:
        if previous is None:
            super(logging.Handler, cls).__init_subclass__(**kwargs)
        else:
            previous.__get__(None, cls)(**kwargs)
        try:
            _wrap_class(cls)
        except Exception:  # defining a class must never fail for our sake
            _logger.debug("otel_context: wrapping %r failed", cls, exc_info=True)

    setattr(init_subclass, WRAPPED, True)
    logging.Handler.__init_subclass__ = classmethod(init_subclass)  # type: ignore[assignment]


def _wrap_class(kind: type) -> bool:
    """Wrap *kind*'s own ``emit`` if it is an OTel handler's, once; whether it was new."""
    emit = kind.__dict__.get("emit")
    if emit is None or getattr(emit, WRAPPED, False) or not is_otel_handler(kind):
        return False
    kind.emit = _wrapped(emit)  # type: ignore[attr-defined]
    return True


def _wrapped(emit: Callable[[logging.Handler, logging.LogRecord], None]) -> Callable[..., None]:
    """*emit*, exporting each record with the request's identifiers (see the module)."""

    @functools.wraps(emit)
    def emit_with_identifiers(self: logging.Handler, record: logging.LogRecord) -> None:
        undo = add_identifiers(record)
        try:
            emit(self, record)
        finally:
            if undo:
                restore(record, undo)

    setattr(emit_with_identifiers, WRAPPED, True)
    return emit_with_identifiers


def add_identifiers(record: logging.LogRecord) -> Undo:
    """Put the identifiers of *record*'s request on it, as strings; what to undo. Never raises.

    The filter's placeholders are replaced by the request's value, or taken off.
    """
    undo: Undo = []
    try:
        values = record.__dict__
        fields = current_fields(record)[0]
        items = _identifiers(fields)
        for key, value, _ in items:
            old = values.get(key, _ABSENT)
            if old is _ABSENT or old is None or type(old) is Placeholder:
                new = value
            elif type(old) is str:
                continue  # the call site's extra= wins
            else:
                new = as_text(old)
            undo.append((key, old))
            values[key] = new
        if _may_hold_placeholders(values):  # the filter's defaults: no ids
            _drop_placeholders(values, undo)
        _drop_copies(values, items, fields, undo)
    except Exception:  # a record must never be lost for its identifiers
        _logger.debug("otel_context: adding identifiers to a record failed", exc_info=True)
    return undo


def _may_hold_placeholders(values: dict[str, object]) -> bool:
    """Whether a value of a record equals a placeholder's text (a cheap test, in C)."""
    held = values.values()
    return any(text in held for text in stdlib.PLACEHOLDER_TEXTS)


def _drop_placeholders(values: dict[str, object], undo: Undo) -> None:
    """Take every :class:`Placeholder` off a record's *values*, noting each in *undo*."""
    for key, value in list(values.items()):
        if type(value) is Placeholder:
            undo.append((key, value))
            del values[key]


def _drop_copies(values: dict[str, object], items: Items, fields: Fields, undo: Undo) -> None:
    """Take the filter's format-string copies off a record's *values*, noting each in *undo*.

    An identifier's ``_`` spelling is the filter's copy when it holds the very object its
    dotted key holds (the filter sets both at once, a call site's ``extra=`` value included);
    a trace field is, when it equals the line's own (the record is exported with its trace).
    """
    for key, _, alias in items:
        if alias is not None and values.get(alias, _ABSENT) is values.get(key):
            undo.append((alias, values.pop(alias)))
    for key in _TRACE_KEYS:
        found = values.get(key, _ABSENT)
        if found is not _ABSENT and found == fields.get(key, _ABSENT):
            undo.append((key, values.pop(key)))


def _identifiers(fields: Fields) -> Items:
    """The identifiers among a line's *fields*, as strings (the trace is the context's).

    Cached for the last fields seen: a request's records share its scope's cached fields.
    """
    global _last  # noqa: PLW0603 - one slot; swapping a tuple is atomic
    last_fields, items = _last
    if last_fields is not fields:
        items = tuple(
            (key, value if type(value) is str else as_text(value), _spelt(key))
            for key, value in fields.items()
            if key not in _TRACE_KEYS
        )
        _last = (fields, items)
    return items


def _spelt(key: str) -> str | None:
    """The ``_`` spelling the filter gives dotted *key* (``user_id``), or ``None``."""
    names = stdlib.spellings(key)
    return names[1] if len(names) > 1 else None


def restore(record: logging.LogRecord, undo: Undo) -> None:
    """Give *record* back the attributes :func:`add_identifiers` replaced."""
    values = record.__dict__
    for key, old in undo:
        if old is _ABSENT:
            values.pop(key, None)
        else:
            values[key] = old
