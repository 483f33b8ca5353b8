"""Inbound baggage policy: what a request's ``baggage`` header may put into the context.

Inbound baggage is client input. Server-owned identifiers (``user.id``, ``organisation.id``,
..., and every key the application derives) are dropped at the edge unless the peer is a
trusted hop; other keys pass only if allowlisted, within caps on count and value length.
Dropped entries are counted, never logged verbatim.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from otel_context import correlation
from otel_context.attributes import CORRELATION_ID
from otel_context.scope import MAX_VALUE_LENGTH

if TYPE_CHECKING:
    from collections.abc import Mapping

    from otel_context.conf import Config, IpNetwork
from otel_context.patterns import key_allowed


@dataclass(slots=True)
class InboundBaggage:
    """The result of filtering a request's inbound baggage."""

    #: Allowlisted, non-server-owned entries, kept as baggage.
    kept: dict[str, str] = field(default_factory=dict)
    #: Server-owned identifiers accepted from a trusted upstream hop.
    identifiers: dict[str, str] = field(default_factory=dict)
    #: How many entries were dropped.
    dropped: int = 0


def peer_is_trusted(peer: str | None, networks: tuple[IpNetwork, ...]) -> bool:
    """Whether *peer* (an IP address) lies in *networks*; any peer when *networks* is empty."""
    if not networks:
        return True
    try:
        address = ipaddress.ip_address((peer or "").strip())
    except ValueError:
        return False
    return any(address in network for network in networks)


def accept_identifier(key: str, value: str, *, trusted_correlation: bool = False) -> str | None:
    """*value* if it may be used as identifier *key* coming from a trusted hop, else ``None``.

    Even trusted values are printable and bounded; a correlation id must have a safe shape
    (any header-safe one with *trusted_correlation*, as from a trusted proxy).
    """
    if key == CORRELATION_ID:
        return correlation.accept(value, trusted=trusted_correlation)
    return value if value.isprintable() and len(value) <= MAX_VALUE_LENGTH else None


def filter_inbound(
    entries: Mapping[str, object], config: Config, *, trusted_peer: bool
) -> InboundBaggage:
    """Split inbound baggage *entries* into what is kept, accepted as ids, and dropped."""
    result = InboundBaggage()
    trust_ids = config.trust_upstream_identifiers and trusted_peer
    for key, raw in entries.items():
        value = raw if isinstance(raw, str) else None
        if value is None or len(value) > config.inbound_baggage_max_value_length:
            result.dropped += 1
        elif key in config.server_owned:
            accepted = accept_identifier(key, value) if trust_ids else None
            if accepted is None:
                result.dropped += 1
            else:
                result.identifiers[key] = accepted
        elif key_allowed(key, config.inbound_baggage_allow) and value.isprintable():
            if len(result.kept) < config.inbound_baggage_max_entries:
                result.kept[key] = value
            else:
                result.dropped += 1
        else:
            result.dropped += 1
    return result
