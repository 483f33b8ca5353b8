"""The trace fields of a log line: ``trace_id``, ``span_id`` and ``trace_sampled`` of a span.

Computed once per span (the processors and the request scope cache them). A span this
service records for no exporter (:func:`set_unexported`) says ``trace_sampled`` false.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import cast

from opentelemetry import trace

from otel_context import attributes

#: What a log line gets: string ids, and ``trace_sampled`` as a bool.
Fields = dict[str, str | bool]

#: Span classes already seen to be ``trace.Span``s -> whether they are ``NonRecordingSpan``s
#: (two ABC checks cost more than the rest, so each class is checked once).
_SPAN_TYPES: dict[type, bool] = {}
#: The resource of a tracer provider with no span processor: its spans are exported nowhere.
_unexported: list[object] = []


def set_unexported(resource: object | None) -> None:
    """Mark spans with *resource* (that very object) as exported nowhere; ``None``: none."""
    _unexported[:] = [] if resource is None else [resource]


def span_fields(span: object) -> Fields:
    """``trace_id`` and ``span_id`` of *span* as lower-case hex, and ``trace_sampled``.

    ``trace_sampled`` is the sampled flag of the span context: ``False`` means the trace is not
    exported (the log line is all there is of it). Nothing for an invalid span.

    A span this service does not record (a ``NonRecordingSpan``: no SDK provider, or the
    sampler dropped it), or records for no exporter (:func:`set_unexported`), has
    ``trace_sampled`` ``False``: this service stored nothing of the trace, whatever the
    flag it passes on says. If it is the caller's span (remote: no provider
    started one here), its ``span_id`` is the caller's, so it is left out; the ``trace_id``
    still joins the caller's lines (issue 21). Computed once per span: processors cache it.
    """
    kind = type(span)
    non_recording = _SPAN_TYPES.get(kind)
    if non_recording is None:
        if not isinstance(span, trace.Span):
            return {}
        non_recording = _SPAN_TYPES[kind] = isinstance(span, trace.NonRecordingSpan)
    ctx = cast("trace.Span", span).get_span_context()
    if not ctx.is_valid:
        return {}
    if non_recording:
        fields: Fields = {attributes.TRACE_ID: f"{ctx.trace_id:032x}"}
        if not ctx.is_remote:
            fields[attributes.SPAN_ID] = f"{ctx.span_id:016x}"
        fields[attributes.TRACE_SAMPLED] = False
        return fields
    sampled = ctx.trace_flags.sampled
    if sampled and _unexported and getattr(span, "resource", None) is _unexported[0]:
        sampled = False
    return {
        attributes.TRACE_ID: f"{ctx.trace_id:032x}",
        attributes.SPAN_ID: f"{ctx.span_id:016x}",
        attributes.TRACE_SAMPLED: sampled,
    }
