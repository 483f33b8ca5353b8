"""Span processors that copy baggage onto spans as they start, and propagators that let it in.

``opentelemetry-processor-baggage``'s ``BaggageSpanProcessor`` copies the parent context's
baggage onto each span in ``on_start``. The parent context of a request's server span is what
the instrumentation extracted from the request headers. otel_context's propagator filters
inbound baggage at extract (:mod:`otel_context._inbound_gate`), so that context holds no
server-owned key. A global propagator that is not otel_context's (set after
``instrument()``) extracts the client's baggage as sent: with a predicate that accepts
``user.id`` (``ALLOW_ALL_BAGGAGE_KEYS``), ``curl -H 'baggage: user.id=42'`` then puts
``user.id=42`` on the server span.

There is no public API listing a provider's span processors, so :func:`copied_keys` asks the
provider itself: it starts (and never ends, so never exports) one span whose parent context
carries a probe value under each key, and reads which keys the span got. :func:`extracted_keys`
asks the global propagator which keys a client's ``baggage`` header gets into the context.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from opentelemetry import baggage, propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

if TYPE_CHECKING:
    from collections.abc import Iterable

    from opentelemetry.propagators.textmap import TextMapPropagator

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


def extracted_keys(keys: Iterable[str], propagator: TextMapPropagator | None = None) -> list[str]:
    """Which of *keys*, sent by a client as ``baggage``, the propagator lets into the context.

    Args:
        keys: Baggage keys to probe (otel_context's server-owned identifiers).
        propagator: The propagator to ask; default the global one.

    Returns:
        The keys found in the extracted context's baggage, sorted.
    """
    propagator = propagator or propagate.get_global_textmap()
    keys = sorted(set(keys))
    carrier = {"baggage": ",".join(f"{key}={PROBE}" for key in keys)}
    found = baggage.get_all(propagator.extract(carrier, Context()))
    return [key for key in keys if found.get(key) == PROBE]
