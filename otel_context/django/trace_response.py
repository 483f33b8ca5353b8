"""The trace id on the response, so a user reporting an error can hand it to support.

``traceresponse`` is the W3C Trace Context Level 2 response header:
``00-<trace-id>-<span-id of the server span>-<flags>``
(https://www.w3.org/TR/trace-context-2/#traceresponse-header). Any other header name gets the
bare 32-hex trace id, which is what a person reads out to support.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from django.http import HttpResponseBase
    from opentelemetry.trace import Span

TRACERESPONSE: Final = "traceresponse"
_EXPOSE: Final = "Access-Control-Expose-Headers"


def trace_response_value(span: Span, header: str = TRACERESPONSE) -> str | None:
    """The value of *header* for *span*, or ``None`` for a span without a valid context.

    Args:
        span: The request's server span.
        header: ``traceresponse`` for the W3C format; any other name for the bare trace id.

    Returns:
        The header value, or ``None``.

    .. versionadded:: 0.1.0
    """
    ctx = span.get_span_context()
    if not ctx.is_valid:
        return None
    if header.lower() != TRACERESPONSE:
        return f"{ctx.trace_id:032x}"
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{ctx.trace_flags:02x}"


def add_trace_response_header(
    span: Span, response: HttpResponseBase, header: str = TRACERESPONSE
) -> bool:
    """Set *header* on *response* from *span* and expose it to browsers (CORS).

    Meant for the Django instrumentation's ``response_hook``, where the server span is still
    current. A span without a valid context (tracing off, excluded URL) adds nothing, and a
    response that already has *header* (set by the application) is left as it is.

    Args:
        span: The request's server span.
        response: The Django response.
        header: ``traceresponse`` (W3C Trace Context Level 2) or a name for the bare trace id.

    Returns:
        Whether the header was set (``False`` if the response had it already).

    .. versionadded:: 0.1.0
    """
    if header in response:
        return False  # the application's (or another middleware's) header is left as it is
    value = trace_response_value(span, header)
    if value is None:
        return False
    response[header] = value
    exposed = response.get(_EXPOSE)
    names = [name.strip() for name in exposed.split(",")] if exposed else []
    if header.lower() not in {name.lower() for name in names}:
        response[_EXPOSE] = ", ".join([*names, header])
    return True
