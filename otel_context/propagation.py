"""Outgoing and incoming ``baggage``: the propagator wrapper and a safer W3C baggage codec.

Late identifiers (bound after authentication or inside the view) live in the request scope,
not in the OTel baggage object, so whatever injects outgoing ``baggage`` must read the scope.
:class:`IdentifierPropagator` wraps the global propagator to do that for every
instrumentation that injects headers (requests, httpx, urllib3), and applies the outbound
policy there: baggage goes only to our own hosts; ``traceparent`` always goes.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Final
from urllib.parse import quote, unquote, urlsplit

from opentelemetry import baggage, propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.context import Context, get_current
from opentelemetry.propagators import textmap
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from otel_context._baggage_limits import (
    MAX_BYTES,
    MAX_MEMBERS,
    OUTBOUND_OVER_LIMIT_ATTRIBUTE,
    cut_header,
    fit_entries,
    note_cut,
)
from otel_context._inbound_gate import gate
from otel_context.attributes import CORRELATION_ID
from otel_context.conf import Config, configure, get_config
from otel_context.patterns import host_allowed, key_allowed
from otel_context.processors import _current_context as current_context  # get_current(), 1 call
from otel_context.scope import current_scope
from otel_context.tracestate import SafeTraceContextPropagator

if TYPE_CHECKING:
    from collections.abc import Mapping

_logger = logging.getLogger(__name__)

_TOKEN: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VALUE: Final = re.compile(r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*")


class SafeBaggagePropagator(W3CBaggagePropagator):
    """W3C baggage with two fixes over the SDK's propagator.

    - Values are percent-decoded, not form-decoded: a ``+`` stays a ``+``
      (opentelemetry-python #5566), and encoding uses ``%20`` for spaces.
    - The W3C Baggage CR's limits, 64 list-members and 8,192 bytes, in and out: a longer
      header keeps its first whole members and the cut is counted (``_baggage_limits``),
      never logged (the SDK drops the whole header and logs it verbatim at WARNING). Trace
      context is extracted separately and is unaffected.
    """

    def extract(
        self,
        carrier: textmap.CarrierT,
        context: Context | None = None,
        getter: textmap.Getter[textmap.CarrierT] = textmap.default_getter,
    ) -> Context:
        """Add the carrier's valid baggage entries to *context*."""
        context = get_current() if context is None else context
        values = getter.get(carrier, self._BAGGAGE_HEADER_NAME)
        header = values[0] if values else None
        if not header:
            return context
        header, cut = cut_header(header)
        for name, value in parse_baggage(header, MAX_MEMBERS, MAX_BYTES).items():
            context = baggage.set_baggage(name, value, context)
        return note_cut(cut, context)

    def inject(
        self,
        carrier: textmap.CarrierT,
        context: Context | None = None,
        setter: textmap.Setter[textmap.CarrierT] = textmap.default_setter,
    ) -> None:
        """Write the context's baggage, percent-encoded, within the W3C limits."""
        header = encode_baggage(baggage.get_all(context), MAX_MEMBERS, MAX_BYTES)
        if header:
            setter.set(carrier, self._BAGGAGE_HEADER_NAME, header)


def parse_baggage(header: str, max_pairs: int = 180, max_pair_length: int = 4096) -> dict[str, str]:
    """Parse a W3C ``baggage`` header; invalid members are skipped, properties ignored."""
    entries: dict[str, str] = {}
    for member in header.split(",")[: max_pairs * 2]:
        if len(entries) >= max_pairs:
            break
        if len(member) > max_pair_length:
            continue
        name, sep, rest = member.partition("=")
        name, value = name.strip(" \t"), rest.split(";", 1)[0].strip(" \t")
        if sep and _TOKEN.fullmatch(name) and _VALUE.fullmatch(value):
            entries[name] = unquote(value, errors="replace")
    return entries


def encode_baggage(
    entries: Mapping[str, object], max_pairs: int = 180, max_length: int = 8192
) -> str:
    """Encode baggage entries as a W3C header value, leaving out whole entries that do not fit.

    One pass: each entry is encoded once, and one that does not fit is skipped, not the rest.
    """
    parts: list[str] = []
    length = -1  # the first member has no comma before it
    for name, value in entries.items():
        part = f"{quote(str(name), safe='')}={quote(str(value), safe='')}"  # encoded_member
        if len(parts) < max_pairs and length + len(part) + 1 <= max_length:
            parts.append(part)
            length += len(part) + 1
    return ",".join(parts)


def destination_host(context: Context | None = None) -> str | None:
    """The host an outgoing call goes to, from the client span the instrumentation started."""
    attributes = getattr(trace.get_current_span(context), "attributes", None)
    if not attributes:
        return None
    for key in ("server.address", "net.peer.name"):
        if attributes.get(key):
            return str(attributes[key])
    for key in ("url.full", "http.url"):
        if attributes.get(key):
            return urlsplit(str(attributes[key])).hostname
    return None


def outbound_context(context: Context | None, config: Config) -> tuple[Context, int]:
    """*context* with the baggage the outbound policy lets go to the destination.

    Every key that leaves must match ``OUTBOUND_BAGGAGE_KEYS``; identifiers (the scope's and
    server-owned baggage entries such as ``correlation.id``) also need
    ``PROPAGATE_IDENTIFIERS``. Other hosts get no baggage at all. Within the W3C limits
    (64 members, 8,192 bytes encoded) the identifiers go first, then the application's keys.

    Returns:
        The context to inject, and how many allowed entries the limits left out.
    """
    host = destination_host(context)
    allowed = (
        config.outbound_baggage_to_unknown
        if host is None
        else host_allowed(host, config.outbound_baggage_hosts)
    )
    if not allowed:
        return baggage.clear(context), 0  # third parties get trace context, never our baggage
    owned, keys, propagate = config.server_owned, config.outbound_baggage_keys, False
    identifiers: dict[str, object] = {}  # first, then the application's keys
    others: dict[str, object] = {}
    for key, value in baggage.get_all(context).items():
        if key in owned:
            identifiers[key] = value
        elif key_allowed(key, keys):
            others[key] = value
    if config.propagate_identifiers:
        scope = current_scope(context)
        identifiers.update(scope.identifiers() if scope is not None else {})
        propagate = True
    ordered = {k: v for k, v in identifiers.items() if key_allowed(k, keys)} if propagate else {}
    kept, over_limit = fit_entries(ordered | others)
    merged = baggage.clear(context)
    for key, value in kept.items():
        merged = baggage.set_baggage(key, value, merged)
    return merged, over_limit


def count_outbound_cut(over_limit: int, context: Context | None) -> None:
    """Count entries the limits left out on the span current in *context* (the client span)."""
    if not over_limit:
        return
    span = trace.get_current_span(context)
    if span.is_recording():
        span.set_attribute(OUTBOUND_OVER_LIMIT_ATTRIBUTE, over_limit)


class IdentifierPropagator(textmap.TextMapPropagator):
    """Delegates to *inner*, injecting the baggage the outbound policy allows.

    Args:
        inner: The propagator to wrap (usually the global composite one).
    """

    def __init__(self, inner: textmap.TextMapPropagator) -> None:
        self.inner = inner

    def extract(
        self,
        carrier: textmap.CarrierT,
        context: Context | None = None,
        getter: textmap.Getter[textmap.CarrierT] = textmap.default_getter,
    ) -> Context:
        """Extract through *inner*, keeping only the baggage an untrusted client may set.

        Server-owned and unlisted keys are held back before any span starts in the context
        (``BaggageSpanProcessor`` copies the parent's baggage at span start); the request
        hook judges them with the peer's address (:mod:`otel_context._inbound_gate`).
        """
        base = current_context() if context is None else context
        extracted = self.inner.extract(carrier, base, getter)
        return extracted if extracted is base else gate(base, extracted)  # gate()'s first test

    def inject(
        self,
        carrier: textmap.CarrierT,
        context: Context | None = None,
        setter: textmap.Setter[textmap.CarrierT] = textmap.default_setter,
    ) -> None:
        """Inject through *inner*; if the policy fails, inject no baggage rather than all.

        Where the policy lets ``correlation.id`` go, it also goes as the correlation header
        (the first of ``CORRELATION_ID_HEADERS``): a service that does not trust us as a hop
        drops server-owned baggage, but accepts a valid correlation header from anyone, so
        both services' lines still share the correlation id.
        """
        try:
            config = get_config()
            context, over_limit = outbound_context(context, config)
            count_outbound_cut(over_limit, context)
            correlation_id = baggage.get_baggage(CORRELATION_ID, context)
            if isinstance(correlation_id, str):
                setter.set(carrier, config.correlation_id_headers[0], correlation_id)
        except Exception:
            _logger.exception("otel_context: applying the outbound baggage policy failed")
            context = baggage.clear(context)
        self.inner.inject(carrier, context, setter)

    @property
    def fields(self) -> set[str]:
        """The header names *inner* sets."""
        return self.inner.fields


def _with_safe_codecs(propagator: textmap.TextMapPropagator) -> textmap.TextMapPropagator:
    """*propagator* with the SDK's W3C baggage and trace context propagators swapped for ours."""
    if type(propagator) is W3CBaggagePropagator:
        return SafeBaggagePropagator()
    if type(propagator) is TraceContextTextMapPropagator:
        return SafeTraceContextPropagator()
    inner = getattr(propagator, "_propagators", None)  # CompositePropagator keeps its list here
    if isinstance(propagator, CompositePropagator) and isinstance(inner, list):
        return CompositePropagator([_with_safe_codecs(p) for p in inner])
    return propagator


def prepare(options: dict[str, object]) -> None:
    """What every adapter does first: apply *options*, then wrap the global propagator.

    Without options the configuration is resolved anyway, so an error surfaces at start-up.
    """
    if options:
        configure(**options)
    else:
        get_config()
    install_propagator()


def install_propagator() -> IdentifierPropagator:
    """Wrap the global propagator once (with the safe W3C codecs); return the wrapper."""
    current = propagate.get_global_textmap()
    if isinstance(current, IdentifierPropagator):
        return current
    wrapper = IdentifierPropagator(_with_safe_codecs(current))
    propagate.set_global_textmap(wrapper)
    return wrapper
