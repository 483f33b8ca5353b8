"""The fields of a request whose scope has ended (or that was rejected before it began).

Django logs a 4xx response a view *returned* after the middleware chain, and a request it
rejected before the instrumentation's hooks ran (``DisallowedHost``); the record carries the
request (``record.request``). The request object keeps what its lines need for that.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from otel_context import attributes
from otel_context.scope import RequestScope

if TYPE_CHECKING:
    from otel_context.trace_fields import Fields

#: Where a framework's request object keeps ``(scope, trace fields)`` once its scope ended.
ENDED_ATTR: Final = "_otel_context_ended"


def mark_ended(request: object, scope: RequestScope, span: object) -> None:
    """Remember on *request* the scope it ended with and *span*'s trace fields.

    Not the span: Django's request is a reference cycle, freed by the garbage collector, and a
    span kept on it would wait for that with all it holds (18 objects a request more for the
    collector, counted with ``gc.DEBUG_SAVEALL``), where the middleware's last reference frees
    it at once. The fields are usually the ones the request's first log event built.
    """
    request.__dict__[ENDED_ATTR] = (scope, scope.trace_fields(span))


#: Where a framework's request object keeps the correlation id of a request rejected before
#: its scope began (Django's ``DisallowedHost``, raised inside the instrumentation).
REJECTED_ATTR: Final = "_otel_context_rejected"


def mark_rejected(request: object, correlation_id: str) -> None:
    """Remember on *request* the correlation id it had when it was rejected early."""
    request.__dict__[REJECTED_ATTR] = correlation_id


def ended_fields(request: object) -> Fields | None:
    """The fields of a request whose scope has ended, read from the request object itself.

    Django logs a 4xx response a view *returned* after the middleware chain, so after the span
    and the scope have ended; the record carries the request (``record.request``). Its ids
    are read from that request, never from the context: nothing can leak from one request to
    the next this way. A request rejected before its scope began (:func:`mark_rejected`) has
    its correlation id. ``None`` if *request* is neither.
    """
    values = getattr(request, "__dict__", {})
    ended = values.get(ENDED_ATTR)
    if (
        not isinstance(ended, tuple)
        or len(ended) != 2
        or type(ended[0]) is not RequestScope
        or type(ended[1]) is not dict
    ):
        rejected = values.get(REJECTED_ATTR)
        return {attributes.CORRELATION_ID: rejected} if type(rejected) is str else None
    scope, trace_fields = ended
    return {**trace_fields, **scope.bound()}  # a closed scope keeps its ids


def record_fields(record: object) -> Fields | None:
    """:func:`ended_fields` of the request a log record (``record.request``) is about."""
    return ended_fields(getattr(record, "request", None))
