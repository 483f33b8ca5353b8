"""Span processors that copy baggage onto spans as they start, before the inbound filter ran.

``opentelemetry-processor-baggage``'s ``BaggageSpanProcessor`` copies the parent context's
baggage onto each span in ``on_start``. The parent context of a request's server span is what
the instrumentation extracted from the request headers: the client's baggage, as sent, since
otel_context filters it in ``request_hook``, after the span started. With a predicate that
accepts ``user.id`` (``ALLOW_ALL_BAGGAGE_KEYS``), ``curl -H 'baggage: user.id=42'`` puts
``user.id=42`` on the server span. Child spans and ``BaggageLogProcessor``'s records read the
filtered baggage and are not affected.

There is no public API listing a provider's span processors, so :func:`copied_keys` asks the
provider itself: it starts (and never ends, so never exports) one span whose parent context
carries a probe value under each key, and reads which keys the span got.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from opentelemetry import baggage, trace
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

if TYPE_CHECKING:
    from collections.abc import Iterable

PROBE: Final = "otel_context-probe"
#: A sampled remote parent: parent-based samplers record the probe span.
_PARENT: Final = SpanContext(
    trace_id=0x0AF7651916CD43DD8448EB211C80319C,
    span_id=0xB7AD6B7169203331,
    is_remote=True,
    trace_flags=TraceFlags(TraceFlags.SAMPLED),
)


def copied_keys(keys: Iterable[str], provider: trace.TracerProvider | None = None) -> list[str]:
    """Which of *keys* a span processor copies from the parent's baggage onto a starting span.

    Args:
        keys: Baggage keys to probe (otel_context's server-owned identifiers).
        provider: The tracer provider to ask; default the global one.

    Returns:
        The keys the probe span got from baggage, sorted; empty when nothing copies them.
    """
    provider = provider or trace.get_tracer_provider()
    context = trace.set_span_in_context(NonRecordingSpan(_PARENT), Context())
    keys = sorted(set(keys))
    for key in keys:
        context = baggage.set_baggage(key, PROBE, context)
    span = provider.get_tracer("otel_context.checks").start_span("probe", context=context)
    attributes = getattr(span, "attributes", None) or {}  # never ended: never exported
    return [key for key in keys if attributes.get(key) == PROBE]
