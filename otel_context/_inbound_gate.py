"""Inbound baggage held back at extract, before any span starts in the extracted context.

A server span starts in the context the instrumentation extracted from the request headers,
and span processors see that context as the span's parent (``BaggageSpanProcessor`` copies
its baggage onto the span in ``on_start``). otel_context's full inbound policy
(:func:`otel_context.baggage.filter_inbound`) runs later, in the request hook, because it
needs the peer's address for ``TRUSTED_NETWORKS``; the propagator cannot know the peer
(Celery's carrier has none, and ``REMOTE_ADDR`` may still be rewritten by a proxy
middleware). So :func:`gate` applies the same rule at extract, for the safe case: as if
every peer were untrusted. The context keeps only what an untrusted client may set
(allowlisted, non-server-owned keys); server-owned keys never reach a span processor or a
log-record processor.

The entries as extracted are kept aside under a private context key, not as baggage, so the
request hook (:func:`otel_context.request.begin`) still decides with the peer, counts what
it drops, and accepts a trusted hop's identifiers exactly as before.
"""

from __future__ import annotations

import logging
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

from opentelemetry import baggage
from opentelemetry.context import create_key, get_current, set_value

from otel_context import _private
from otel_context.baggage import filter_inbound
from otel_context.conf import get_config

if TYPE_CHECKING:
    from collections.abc import Mapping

    from opentelemetry.context import Context

    from otel_context.conf import Config

_logger = logging.getLogger(__name__)
_INBOUND_KEY: Final = create_key("otel_context.baggage.inbound")
#: The context key of the entries :func:`gate` held back (read directly by ``request.begin``).
INBOUND_KEY: Final = _INBOUND_KEY
_ABSENT: Final = object()
#: The context key of the OTel baggage: the per-request reads without ``baggage``'s calls.
BAGGAGE_KEY: Final[str] = _private.resolve(_private.BAGGAGE_KEY)
_NO_ENTRIES: Final[Mapping[str, object]] = MappingProxyType({})


def gate(before: Context, extracted: Context, config: Config | None = None) -> Context:
    """*extracted* with only the inbound baggage an untrusted client may set; never raises.

    Args:
        before: The context extraction started from (its baggage is not inbound).
        extracted: What the wrapped propagator extracted into *before*.
        config: The configuration whose inbound rule applies; default: the current one.

    Returns:
        The context to start spans in; the extracted entries kept aside for the request hook.
    """
    if extracted is before:
        return extracted  # the headers brought nothing the propagators use
    entries = baggage.get_all(extracted)
    if not entries:
        return extracted  # most requests bring no baggage: one lookup
    try:
        prior = baggage.get_all(before)
        inbound = {k: v for k, v in entries.items() if prior.get(k, _ABSENT) != v}
        if not inbound:
            return extracted
        config = get_config() if config is None else config
        kept = filter_inbound(inbound, config, trusted_peer=False).kept
        if len(kept) == len(inbound):
            return set_value(_INBOUND_KEY, inbound, extracted)  # nothing to hold back
        context = set_value(_INBOUND_KEY, inbound, baggage.clear(extracted))
        for key, value in (dict(prior) | kept).items():
            context = baggage.set_baggage(key, value, context)
    except Exception:
        _logger.exception("otel_context: filtering inbound baggage failed; none is kept")
        return baggage.clear(extracted)
    return context


def inbound_entries(context: Context | None = None) -> Mapping[str, object]:
    """The baggage as extracted (before :func:`gate`), or the context's baggage if not gated."""
    if context is None:
        context = get_current()
    held = context.get(_INBOUND_KEY)  # get_value() without its call
    entries = context.get(BAGGAGE_KEY)  # baggage.get_all() without its 3 calls
    current = MappingProxyType(entries) if isinstance(entries, dict) else _NO_ENTRIES
    if not isinstance(held, dict):
        return current  # a propagator other than ours extracted it (or none did)
    return {**current, **held}


def forget(context: Context) -> Context:
    """*context* without the held-back entries (the request hook has judged them)."""
    return set_value(_INBOUND_KEY, None, context)
