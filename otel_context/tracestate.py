"""Inbound ``tracestate`` handled as W3C Trace Context prescribes.

The SDK's ``TraceContextTextMapPropagator`` parses ``tracestate`` with the Level 1 key grammar,
discards the whole header for a duplicated key, and logs a rejected member verbatim. The
W3C Trace Context validation harness fails it on three cases (duplicated keys, keys such as
``foo@bar@baz``, a 242-character tenant before the ``@``). :class:`SafeTraceContextPropagator`
keeps the SDK's ``traceparent`` handling and replaces only the ``tracestate`` part:

- Key and value grammar of Trace Context Level 2 (https://www.w3.org/TR/trace-context-2/#key):
  ``key = ( lcalpha / DIGIT ) 0*255 keychar`` with ``@`` a key character like any other.
- One invalid member (bad key, bad value, no ``=``), or more than 32 members, discards the
  whole header: what the harness expects (``@foo=1,bar=2`` keeps neither).
- A duplicated key keeps its first (leftmost, most recent) entry and drops the others
  ("Only one entry per key is allowed"; the harness accepts either choice).
- Empty members and the optional whitespace around members are ignored.
- Over 512 characters, whole entries are dropped: first those over 128 characters, then from
  the end (the spec's "tracestate Limits"). 512 is the spec's minimum to propagate.
- Nothing is parsed when ``traceparent`` was not valid (the spec forbids it).

Nothing here raises into the request, and no client-supplied value is ever logged.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Final

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.propagators import textmap
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.trace.span import TraceState

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

__all__ = ["MAX_LENGTH", "MAX_MEMBERS", "SafeTraceContextPropagator", "parse_tracestate"]

_logger = logging.getLogger(__name__)

_KEY: Final = re.compile(r"[a-z0-9][a-z0-9_\-*/@]{0,255}")
_VALUE: Final = re.compile(r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]")
_OWS: Final = " \t"
#: At most this many list members (spec: "a maximum of 32 list-members").
MAX_MEMBERS: Final = 32
#: Longest combined header propagated; longer ones lose whole entries.
MAX_LENGTH: Final = 512
#: Entries longer than this go first when truncating.
LONG_ENTRY: Final = 128
#: A combined inbound header longer than this is not parsed at all (32 maximal members,
#: with room for optional whitespace and empty members, fit in it).
MAX_INBOUND_LENGTH: Final = 32 * 1024

Entries = list[tuple[str, str]]


def parse_tracestate(headers: Iterable[str]) -> Entries | None:
    """Parse inbound ``tracestate`` header fields, combined in order.

    Args:
        headers: The field values, as received (several fields are joined with ``,``).

    Returns:
        The entries to propagate, in order (maybe truncated to :data:`MAX_LENGTH`), or
        ``None`` when the header must be discarded as a whole.
    """
    combined = ",".join(headers)
    if len(combined) > MAX_INBOUND_LENGTH:
        return _discard("too long")
    entries: dict[str, str] = {}
    members = 0
    for raw in combined.split(","):
        member = raw.strip(_OWS)
        if not member:
            continue  # empty and whitespace-only members are allowed
        members += 1
        if members > MAX_MEMBERS:
            return _discard("more than 32 members")
        key, sep, value = member.partition("=")
        if not sep or _KEY.fullmatch(key) is None or _VALUE.fullmatch(value) is None:
            return _discard("an invalid member")
        entries.setdefault(key, value)  # a duplicated key: the leftmost entry wins
    return _truncate(list(entries.items()))


def _discard(reason: str) -> Entries | None:
    """``None``: the header is discarded; say why, never with its content."""
    _logger.debug("inbound tracestate discarded: %s", reason)
    return None


def _header_length(entries: Sequence[tuple[str, str]]) -> int:
    """Length of *entries* written as a header (``key=value`` joined by commas)."""
    return sum(len(key) + len(value) + 2 for key, value in entries) - 1 if entries else 0


def _truncate(entries: Entries, limit: int = MAX_LENGTH) -> Entries:
    """*entries* cut to *limit* characters, whole entries only, as the spec orders.

    Entries over :data:`LONG_ENTRY` characters go first (from the end), then entries from the
    end, until the header fits.
    """
    if _header_length(entries) <= limit:
        return entries
    kept = list(entries)
    for index in range(len(kept) - 1, -1, -1):
        key, value = kept[index]
        if len(key) + len(value) + 1 > LONG_ENTRY:
            del kept[index]
            if _header_length(kept) <= limit:
                return kept
    while _header_length(kept) > limit:
        kept.pop()
    return kept


def _trace_state(entries: Entries) -> TraceState:
    """A ``TraceState`` holding *entries*, which :func:`parse_tracestate` validated.

    The SDK's constructor would check them again with the Level 1 key grammar, drop the Level 2
    keys (``foo@bar@baz``) and log each one verbatim; so the entries are set directly.
    """
    state = TraceState()
    state._dict.update(entries)  # noqa: SLF001 - see above; tests/test_tracestate.py guards it
    return state


class _WithoutTracestate(textmap.Getter[textmap.CarrierT]):
    """Reads the carrier through *getter*, but never its ``tracestate``."""

    __slots__ = ("_getter",)

    def __init__(self, getter: textmap.Getter[textmap.CarrierT]) -> None:
        self._getter = getter

    def get(self, carrier: textmap.CarrierT, key: str) -> list[str] | None:
        return None if key == _TRACESTATE else self._getter.get(carrier, key)

    def keys(self, carrier: textmap.CarrierT) -> list[str]:
        return self._getter.keys(carrier)


_TRACESTATE: Final = "tracestate"
_TRACEPARENT: Final = TraceContextTextMapPropagator._TRACEPARENT_HEADER_NAME  # noqa: SLF001


class SafeTraceContextPropagator(TraceContextTextMapPropagator):
    """The SDK's W3C Trace Context propagator with ``tracestate`` parsed as the spec says.

    ``traceparent`` is extracted by the SDK, unchanged; injection is the SDK's. otel_context
    installs it in place of the SDK's propagator in the global composite propagator.

    .. versionadded:: 0.1.0
    """

    def extract(
        self,
        carrier: textmap.CarrierT,
        context: Context | None = None,
        getter: textmap.Getter[textmap.CarrierT] = textmap.default_getter,
    ) -> Context:
        """Extract ``traceparent`` as the SDK does, then the valid ``tracestate`` entries."""
        base = Context() if context is None else context
        if not getter.get(carrier, _TRACEPARENT):
            return base  # as the SDK answers a carrier without one (most requests): one read
        extracted = super().extract(carrier, base, _WithoutTracestate(getter))
        if extracted is base:
            return extracted  # no valid traceparent (most requests): no span to read either
        span = trace.get_current_span(extracted)
        if span is trace.get_current_span(base):
            return extracted  # no valid traceparent: tracestate must not be parsed
        try:
            entries = parse_tracestate(getter.get(carrier, _TRACESTATE) or ())
        except Exception as exc:  # a carrier with odd values: propagate no tracestate
            _logger.debug("inbound tracestate discarded: unreadable (%s)", type(exc).__name__)
            entries = None
        if not entries:
            return extracted
        parent = span.get_span_context()
        remote = trace.SpanContext(
            parent.trace_id,
            parent.span_id,
            is_remote=True,
            trace_flags=parent.trace_flags,
            trace_state=_trace_state(entries),
        )
        return trace.set_span_in_context(trace.NonRecordingSpan(remote), base)
