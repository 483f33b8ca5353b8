"""``StructlogOTelProcessor``: trace ids and the request's identifiers on every structlog event.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import functools
import logging
import threading
from typing import TYPE_CHECKING, Any, Final, Self

from opentelemetry import context as otel_context

from otel_context import _private, attributes
from otel_context.ended import record_fields
from otel_context.scope import SCOPE_KEY, STANDARD_ALIASES, RequestScope, as_text
from otel_context.trace_fields import Fields, span_fields

if TYPE_CHECKING:
    from collections.abc import Callable, MutableMapping

_logger = logging.getLogger(__name__)
#: The context key of the current span: public get_current_span() costs 2 calls.
_SPAN_KEY: Final[str] = _private.resolve(_private.SPAN_KEY)
_reentry = threading.local()
#: The standard identifiers in both spellings (outside a request only these are renamed).
_STANDARD_KEYS: Final = STANDARD_ALIASES | attributes.SERVER_OWNED


def _context_getter() -> Callable[[], otel_context.Context]:
    """The cheapest way to read the current OTel context: the ContextVar's own ``get``.

    Falls back to the public API if the SDK runs with another runtime context.
    """
    runtime = getattr(otel_context, "_RUNTIME_CONTEXT", None)
    var = getattr(runtime, "_current_context", None)
    get = getattr(var, "get", None)
    return get if callable(get) else otel_context.get_current


_current_context = _context_getter()


def current_fields(record: object = None) -> tuple[Fields, frozenset[str]]:
    """What a log event gets now: trace fields and identifiers, and their ``__`` aliases.

    Outside a request scope: the fields of the ended request a stdlib *record* is about
    (:func:`otel_context.ended.record_fields`), else the trace fields of a valid current span
    (or nothing).
    """
    ctx = _current_context()
    span = ctx.get(_SPAN_KEY)
    scope = ctx.get(SCOPE_KEY)
    if isinstance(scope, RequestScope) and not scope.closed:
        return scope.fields(span)
    ended = record_fields(record) if record is not None else None
    if ended is not None:
        return ended, _aliases_of(ended)
    return span_fields(span), STANDARD_ALIASES


def _aliases_of(fields: Fields) -> frozenset[str]:
    return STANDARD_ALIASES.union([key.replace(".", "__") for key in fields])


def _ecs_names(fields: Fields) -> Fields:
    """Elastic Common Schema names: ``trace.id``, ``span.id``, ``http.request.id``, ``labels.*``."""
    mapped: Fields = {}
    for key, value in fields.items():
        name = _ECS.get(key)
        mapped[name or "labels." + key.replace(".", "_")] = value
    return mapped


_ECS: Final = {
    attributes.TRACE_ID: "trace.id",
    attributes.SPAN_ID: "span.id",
    # ECS has no sampled flag; next to trace.id is where a reader looks (see the README)
    attributes.TRACE_SAMPLED: "trace.sampled",
    attributes.CORRELATION_ID: "http.request.id",
    attributes.USER_ID: "user.id",
}
#: ``field_names=`` choices. "default" and "otel" are the same: snake_case trace fields as in
#: the OTel log data model, identifiers as OTel attribute names.
FIELD_NAMES: Final[dict[str, Callable[[Fields], Fields] | None]] = {
    "default": None,
    "otel": None,
    "ecs": _ecs_names,
}


def field_mapper(field_names: str) -> Callable[[Fields], Fields] | None:
    """The renaming for a ``field_names`` choice (``None``: keep the default names).

    Raises:
        ValueError: an unknown choice.
    """
    if field_names not in FIELD_NAMES:
        msg = f"field_names must be one of {sorted(FIELD_NAMES)}, got {field_names!r}"
        raise ValueError(msg)
    return FIELD_NAMES[field_names]


class StructlogOTelProcessor:
    """A structlog processor adding ``trace_id``, ``span_id`` and the request's identifiers.

    Identifiers use dotted keys (``user.id``, ``organisation.id``, ``correlation.id``). What the
    call site passed wins (``setdefault`` semantics, like ``merge_contextvars``), and a call-site
    key spelled with ``__`` (``organisation__id``) is the dotted key. Outside a request only
    the ids of a valid current span are added, or nothing. It never raises: on an internal
    error the event goes on without the fields.

    Place it before the renderer; it also works in ``ProcessorFormatter(foreign_pre_chain=...)``.

    Args:
        field_names: ``"default"`` (or ``"otel"``): ``trace_id``, ``span_id``, ``trace_sampled``
            and the dotted identifiers. ``"ecs"``: Elastic Common Schema names for log backends
            such as ELK (``trace.id``, ``span.id``, ``trace.sampled``, ``http.request.id``,
            ``user.id``, ``labels.<name>``).

    .. versionadded:: 0.1.0
    """

    __slots__ = ("_last_span", "_mapped", "_mapper")

    def __init__(self, *, field_names: str = "default") -> None:
        # Outside a scope: the last span seen and its fields (a tuple, swapped atomically).
        self._last_span: tuple[object, Fields] = (None, {})
        self._mapper = field_mapper(field_names)
        # The last fields renamed and their renaming: renamed once per span / scope version.
        self._mapped: tuple[object, Fields] = (None, {})

    def __new__(cls, *, field_names: str = "default") -> Self:
        """A renaming processor is a :class:`_RenamingProcessor`: no mapper check per event."""
        if cls is StructlogOTelProcessor and field_mapper(field_names) is not None:
            return object.__new__(_RenamingProcessor)  # type: ignore[return-value]
        return object.__new__(cls)

    def __call__(
        self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        """Add the fields to *event_dict* (call-site keys win) and return it."""
        try:
            ctx = _current_context()
            scope = ctx.get(SCOPE_KEY)
            span = ctx.get(_SPAN_KEY)
            if type(scope) is RequestScope:
                refresh = scope.refresh  # a framework's lazy ids (e.g. the user); None once closed
                if refresh is not None:
                    try:
                        refresh()
                    except Exception:
                        scope.refresh_failed()
                cache = scope._cache  # noqa: SLF001 - None after a bind and once closed
                if cache is None or cache[0] is not span:  # the span's first event (or a bind's)
                    cache = None if scope.closed else scope.cache_for(span)  # refreshed above
                if cache is not None and cache[4].isdisjoint(event_dict):
                    event_dict.update(cache[2])  # the common event: nothing to reconcile
                    return event_dict
            self._add(event_dict, scope, span)
        except Exception:
            _report_failure()
        return event_dict

    def _add(self, event_dict: MutableMapping[str, Any], scope: object, span: object) -> None:
        """Every case but the common event in an open scope (whose refresh already ran)."""
        if type(scope) is RequestScope and not scope.closed:
            cache = scope.cache_for(span)
            fields, aliases = cache[2], cache[3]
        elif (ended := _ended_request(event_dict)) is not None:
            fields, aliases = ended, _aliases_of(ended)  # Django's late 4xx record
        elif span is None:
            if not _STANDARD_KEYS.isdisjoint(event_dict):
                _rename_aliases(event_dict, STANDARD_ALIASES)
            return  # outside any request: only call-site identifiers are renamed
        else:
            fields, aliases = self._span_fields(span), STANDARD_ALIASES
        self._merge(event_dict, fields, aliases)

    def _merge(
        self, event_dict: MutableMapping[str, Any], fields: Fields, aliases: frozenset[str]
    ) -> None:
        """The general case: rename call-site aliases, rename fields, call-site keys win."""
        _rename_aliases(event_dict, aliases)
        if self._mapper is not None:
            fields = self._renamed(fields)
        if fields.keys().isdisjoint(event_dict):
            event_dict.update(fields)
        else:
            for key, value in fields.items():
                event_dict.setdefault(key, value)

    def _renamed(self, fields: Fields) -> Fields:
        source, renamed = self._mapped
        if source is not fields and self._mapper is not None:
            renamed = self._mapper(fields)
            self._mapped = (fields, renamed)
        return renamed

    def _span_fields(self, span: object) -> Fields:
        last_span, fields = self._last_span
        if last_span is not span:
            fields = span_fields(span)
            self._last_span = (span, fields)
        return fields


class _RenamingProcessor(StructlogOTelProcessor):
    """``StructlogOTelProcessor(field_names=...)`` with a renaming: always the general case."""

    __slots__ = ()

    def __call__(
        self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        """Add the renamed fields to *event_dict* (call-site keys win) and return it."""
        try:
            ctx = _current_context()
            scope = ctx.get(SCOPE_KEY)
            if type(scope) is RequestScope:
                scope._refresh()  # noqa: SLF001 - a no-op once the scope is closed
            self._add(event_dict, scope, ctx.get(_SPAN_KEY))
        except Exception:
            _report_failure()
        return event_dict


def _ended_request(event_dict: MutableMapping[str, Any]) -> Fields | None:
    """The ended request's fields, for a stdlib record (``ProcessorFormatter``) about one."""
    record = event_dict.get("_record")
    return None if record is None else record_fields(record)


def _rename_aliases(
    event_dict: MutableMapping[str, Any], aliases: frozenset[str]
) -> MutableMapping[str, Any]:
    """Rename call-site ``organisation__id`` to ``organisation.id`` (the call site wins).

    Call-site values of identifier keys become strings, as bound ones are (:func:`stringify`).
    """
    if not aliases.isdisjoint(event_dict):
        for alias in aliases.intersection(event_dict):
            event_dict[alias.replace("__", ".")] = event_dict.pop(alias)
    names = identifier_names(aliases)
    if not names.isdisjoint(event_dict):
        stringify(event_dict, names)
    return event_dict


@functools.lru_cache(maxsize=64)
def identifier_names(aliases: frozenset[str]) -> frozenset[str]:
    """The dotted identifier keys whose call-site ``__`` spellings are *aliases* (cached)."""
    return frozenset(alias.replace("__", ".") for alias in aliases)


def stringify(values: MutableMapping[str, Any], names: frozenset[str]) -> None:
    """Make the call-site values of identifier keys *names* strings, as bound ids are.

    One JSON type per identifier field on every line, whatever the source (issue 14): a
    call-site ``organisation__id=7`` logs ``"7"``. A ``None`` is dropped (the bound id, if any,
    then fills the key).
    """
    for name in names.intersection(values):
        value = values[name]
        if type(value) is str:
            continue
        if value is None:
            del values[name]
        else:
            values[name] = as_text(value)


def _report_failure() -> None:
    # Logging from a log processor can re-enter it (stdlib records routed through structlog).
    if getattr(_reentry, "active", False):
        return
    _reentry.active = True
    try:
        _logger.error("otel_context: adding trace ids and identifiers to a log event failed")
    finally:
        _reentry.active = False


def is_renderer(processor: object) -> bool:
    """Whether *processor* is one of structlog's renderers (the end of a chain), or wraps one."""
    import structlog  # noqa: PLC0415 - only checks and test helpers ask

    from otel_context.flight_recorder import FlightRecorder  # noqa: PLC0415

    if isinstance(processor, FlightRecorder):
        return True

    renderers = (
        structlog.processors.JSONRenderer,
        structlog.processors.KeyValueRenderer,
        structlog.processors.LogfmtRenderer,
        structlog.dev.ConsoleRenderer,
    )
    wrap = structlog.stdlib.ProcessorFormatter.wrap_for_formatter
    return isinstance(processor, renderers) or processor is wrap
