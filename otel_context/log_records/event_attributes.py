"""The attributes of an OTel log record made from a structlog event, coerced to OTel types.

The request's identifiers first, then the event's own keys (``__`` read as ``.``), then its
exception as ``exception.type`` / ``.message`` / ``.stacktrace``; every value an OTel attribute
value. :class:`~otel_context.StructlogOTelLogProcessor` writes them on each record and span event.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import json
import sys
import traceback
from typing import TYPE_CHECKING, Any, Final

from opentelemetry.semconv.attributes import exception_attributes

from otel_context import attributes
from otel_context.processors import current_fields, identifier_names
from otel_context.scope import as_text
from otel_context.stdlib import Placeholder

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from opentelemetry.util.types import AttributeValue

__all__ = ["coerce_value", "event_attributes", "exception_attributes_of"]

#: Keys that are the record itself (body, severity, name, time, trace ids), not attributes.
_RECORD_KEYS: Final = frozenset(
    {
        "event",
        "level",
        "logger",
        "timestamp",
        "exc_info",
        "exception",
        attributes.TRACE_ID,
        attributes.SPAN_ID,
        attributes.TRACE_SAMPLED,  # the record's trace flags
    }
)
_TRACE_KEYS: Final = frozenset({attributes.TRACE_ID, attributes.SPAN_ID, attributes.TRACE_SAMPLED})
_INT64: Final = 2**63


def event_attributes(event_dict: Mapping[str, Any]) -> dict[str, AttributeValue]:
    """The attributes of an event: identifiers, then the event's keys, then its exception.

    Keys spelled with ``__`` are read with dots; what the call site passed wins over the
    request's identifiers. Values are coerced with :func:`coerce_value`; ``None`` and
    :class:`~otel_context.stdlib.OTelContextFilter`'s placeholders (a stdlib record's fields
    added by ``ExtraAdder``) are dropped.
    Values of identifier keys are strings, as on the span and the log lines.

    Args:
        event_dict: A structlog event dict.

    Returns:
        OTel-legal attributes.

    .. versionadded:: 0.1.0
    """
    fields, aliases = current_fields(event_dict.get("_record"))
    names = identifier_names(aliases)
    attrs: dict[str, AttributeValue] = {
        key: value for key, value in fields.items() if key not in _TRACE_KEYS
    }
    for key, value in event_dict.items():
        name = key if isinstance(key, str) else str(key)
        if name in _RECORD_KEYS or name.startswith("_") or type(value) is Placeholder:
            continue  # "_record": ProcessorFormatter's; a placeholder claims no id
        name = attributes.dotted(name)
        if name in names:  # an identifier: a string, as on the span and the lines (issue 14)
            if value is not None:
                attrs[name] = value if type(value) is str else as_text(value)
            continue
        coerced = coerce_value(value)
        if coerced is not None:
            attrs[name] = coerced
    attrs.update(exception_attributes_of(event_dict))
    return attrs


def coerce_value(value: object) -> AttributeValue | None:
    """*value* as an OTel attribute value: a primitive or a homogeneous sequence of one.

    Args:
        value: Any value from an event dict.

    Returns:
        ``None`` for ``None``; the value if legal; otherwise its ``str()``.

    .. versionadded:: 0.1.0
    """
    if value is None or isinstance(value, str | bool | float):
        return value
    if isinstance(value, int):
        return value if -_INT64 <= value < _INT64 else str(value)  # OTLP ints are int64
    if isinstance(value, list | tuple) and _homogeneous(value):
        return tuple(value)
    try:
        return str(value)
    except Exception:
        return f"<unprintable {type(value).__name__}>"


def _homogeneous(items: Sequence[object]) -> bool:
    kinds = {type(item) for item in items}
    return len(kinds) <= 1 and kinds <= {str, bool, int, float} and _int64s(items)


def _int64s(items: Sequence[object]) -> bool:
    return all(-_INT64 <= item < _INT64 for item in items if type(item) is int)


def exception_attributes_of(event_dict: Mapping[str, Any]) -> dict[str, AttributeValue]:
    """``exception.type`` / ``.message`` / ``.stacktrace`` of an event, if it carries one.

    Reads ``exc_info`` (``True``, an exception or an ``exc_info`` tuple) as structlog does, else a
    rendered ``exception`` (a traceback string, or ``dict_tracebacks``' list).

    Args:
        event_dict: A structlog event dict.

    Returns:
        The exception attributes, or an empty dict.

    .. versionadded:: 0.1.0
    """
    exc = _exception(event_dict.get("exc_info"))
    if exc is not None:
        kind = type(exc)
        module = kind.__module__
        return {
            exception_attributes.EXCEPTION_TYPE: kind.__qualname__
            if module == "builtins"
            else f"{module}.{kind.__qualname__}",
            exception_attributes.EXCEPTION_MESSAGE: str(exc),
            exception_attributes.EXCEPTION_STACKTRACE: "".join(traceback.format_exception(exc)),
        }
    return _rendered_exception(event_dict.get("exception"))


def _exception(exc_info: object) -> BaseException | None:
    if isinstance(exc_info, BaseException):
        return exc_info
    if isinstance(exc_info, tuple) and len(exc_info) == 3:
        return exc_info[1] if isinstance(exc_info[1], BaseException) else None
    return sys.exception() if exc_info else None


def _rendered_exception(rendered: object) -> dict[str, AttributeValue]:
    if isinstance(rendered, str) and rendered.strip():
        # The last line of a formatted traceback is "module.Type: message".
        kind, _, message = rendered.strip().splitlines()[-1].partition(": ")
        return {
            exception_attributes.EXCEPTION_TYPE: kind,
            exception_attributes.EXCEPTION_MESSAGE: message,
            exception_attributes.EXCEPTION_STACKTRACE: rendered,
        }
    if isinstance(rendered, list) and rendered and isinstance(rendered[0], dict):
        first = rendered[0]  # dict_tracebacks: the logged exception first, then its causes
        return {
            exception_attributes.EXCEPTION_TYPE: str(first.get("exc_type", "")),
            exception_attributes.EXCEPTION_MESSAGE: str(first.get("exc_value", "")),
            exception_attributes.EXCEPTION_STACKTRACE: json.dumps(rendered, default=str),
        }
    return {}
