"""The framework-agnostic request lifecycle: begin when the server span starts, end with it.

Framework adapters (``otel_context.django``, ``otel_context.flask``) call :func:`begin` from
their instrumentation's request hook and :func:`end` from its response hook; everything
between the two knows nothing of the framework.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Final, NamedTuple, TypeVar

from opentelemetry import baggage
from opentelemetry import context as otel_context

from otel_context import correlation
from otel_context._baggage_limits import CUT_KEY, MAX_MEMBERS, OVER_LIMIT_ATTRIBUTE, cut_count
from otel_context._inbound_gate import BAGGAGE_KEY, INBOUND_KEY, forget, inbound_entries
from otel_context.attributes import CORRELATION_ID, CORRELATION_RESPONSE_ID
from otel_context.baggage import InboundBaggage, filter_inbound, peer_is_trusted
from otel_context.processors import _current_context as current_context  # get_current(), 1 call
from otel_context.scope import (
    MAX_VALUE_LENGTH,
    SCOPE_KEY,
    UPSTREAM,
    RequestScope,
    as_text,
    detach_scope,
)

if TYPE_CHECKING:
    from contextvars import Token

    from opentelemetry.context import Context
    from opentelemetry.trace import Span

    from otel_context.conf import Config

_logger = logging.getLogger(__name__)
DROPPED_ATTRIBUTE = "otel_context.baggage.dropped"
_NONE = InboundBaggage()  # read-only: what a request without inbound baggage brings
HeaderGetter = Callable[[str], "str | None"]
_R = TypeVar("_R")


class Request(NamedTuple):
    """One request's scope, its context token and its correlation id.

    A named tuple: :func:`begin` makes one without running Python code (:data:`_new_request`),
    where a dataclass's ``__init__`` is a Python call, once a request.
    """

    scope: RequestScope
    token: Token[Context]
    correlation_id: str
    #: The request header the correlation id came in, ``None`` if generated.
    correlation_header: str | None

    def echo(
        self, config: Config, read_header: Callable[[_R, str], str | None], response: _R
    ) -> tuple[str, str] | None:
        """The correlation header to add to the response, or ``None``: the application set it.

        A header the application (or another middleware) already set is left exactly as it is:
        otel_context must not change what the application answers (issue 22). An id of the
        application's that differs from ``correlation.id`` is recorded on the server span as
        ``correlation.response_id``, only if it passes the inbound validation (an unsafe value
        is never recorded). ``correlation.id`` stays the inbound (or generated) id: the
        request's earlier lines already carry it.

        Args:
            config: The resolved configuration.
            read_header: ``read_header(response, name)``: a header the response already has
                (``None`` if absent). With the response beside it, so that no closure is made
                per request.
            response: The framework's response (or its headers).
        """
        name = (  # the header the id is echoed in
            config.correlation_id_response_header
            or self.correlation_header
            or config.correlation_id_headers[0]
        )
        value = self.correlation_id
        present = read_header(response, name)
        if present is None:
            return name, value
        span = self.scope.span
        if present != value and span is not None and self.scope.span_attributes:
            accepted = correlation.accept(present)
            if accepted is not None and span.is_recording():
                span.set_attribute(CORRELATION_RESPONSE_ID, accepted)
        return None


def begin(
    span: Span,
    get_header: HeaderGetter,
    peer: str | None,
    config: Config,
    correlation_id: tuple[str, str | None] | None = None,
) -> Request:
    """Filter inbound baggage, derive the correlation id, and attach the request scope.

    Args:
        span: The server span the instrumentation just made current.
        get_header: Reads a request header by name (``None`` if absent).
        peer: The client's IP address, for ``TRUSTED_NETWORKS``.
        config: The resolved configuration.
        correlation_id: ``(id, header it came in)`` if an adapter already derived it with
            :func:`correlation_from_headers` (before anything could reject the request).

    Returns:
        What :func:`end` needs; the adapter keeps it on its request object.
    """
    current = current_context()  # read once: each API call below would read it again
    if (
        current.get(BAGGAGE_KEY) or current.get(INBOUND_KEY) is not None or current.get(CUT_KEY)
    ):  # inbound baggage: filtered, cleared, counted
        return _begin_inbound(span, get_header, peer, config, correlation_id)
    # Most requests bring no baggage: nothing to filter, clear or count (measured: ~4 % of a
    # traced request's cost; see benchmarks/RESULTS.md, figure C).
    if correlation_id is None:
        trusted_peer = config.trust_correlation_id and peer_is_trusted(
            peer, config.trusted_networks
        )
        correlation_id = correlation_from_headers(get_header, config, trusted_peer=trusted_peer)
    cid, header = correlation_id
    scope = request_scope(span, config, cid)
    values = dict(current)  # request_context() with no baggage to keep: one call less
    values[BAGGAGE_KEY] = {CORRELATION_ID: cid}
    values[SCOPE_KEY] = scope
    token = otel_context.attach(otel_context.Context(values))
    return _new_request((scope, token, cid, header))  # Request(scope, token, cid, header)


def request_scope(span: Span, config: Config, correlation_id: str) -> RequestScope:
    """A request's scope: its correlation id bound as the application's from the start."""
    return RequestScope(
        span,
        span_attributes=config.span_attributes,
        keys=config.server_owned,
        settle_at_end=True,
        # what bind() would store, without its lock and loop
        first=(CORRELATION_ID, correlation_id[:MAX_VALUE_LENGTH]) if correlation_id else None,
    )


def _begin_inbound(
    span: Span,
    get_header: HeaderGetter,
    peer: str | None,
    config: Config,
    correlation_id: tuple[str, str | None] | None,
) -> Request:
    """:func:`begin` for a request whose context holds baggage (or what the gate held back)."""
    current = current_context()
    entries = inbound_entries(current)  # as extracted, with what the propagator held back
    over_limit = cut_count(current)
    if len(entries) > MAX_MEMBERS:  # extracted by another codec than ours (see propagation)
        over_limit += len(entries) - MAX_MEMBERS
        entries = dict(list(entries.items())[:MAX_MEMBERS])
    trusting = config.trust_upstream_identifiers or config.trust_correlation_id
    trusted_peer = trusting and peer_is_trusted(peer, config.trusted_networks)
    # A context with only a cut count brings no entries: no filter, no clearing then.
    inbound = filter_inbound(entries, config, trusted_peer=trusted_peer) if entries else _NONE
    cid, header = correlation_id or correlation_from_headers(
        get_header, config, trusted_peer=trusted_peer
    )
    if header is None and CORRELATION_ID in inbound.identifiers:
        cid = inbound.identifiers[CORRELATION_ID]  # a trusted upstream hop's id
    scope = request_scope(span, config, cid)
    if inbound.identifiers:  # the lowest rank: the correlation id above replaces theirs
        scope.bind(inbound.identifiers, UPSTREAM)
    context = forget(baggage.clear(current)) if entries else current
    for key, value in inbound.kept.items():
        context = baggage.set_baggage(key, value, context)
    if (inbound.dropped or over_limit) and span.is_recording():
        count_inbound_cut(span, inbound.dropped, over_limit)
    token = otel_context.attach(request_context(context, cid, scope))
    return _new_request((scope, token, cid, header))  # Request(scope, token, cid, header)


#: ``Request(*fields)`` from a tuple of its fields, without the named tuple's Python ``__new__``.
_new_request: Final = functools.partial(tuple.__new__, Request)


def request_context(context: Context, correlation_id: str, scope: RequestScope) -> Context:
    """*context* with ``correlation.id`` in its baggage and *scope* current, copied once.

    What ``baggage.set_baggage()`` and then :func:`~otel_context.scope.attach_scope` give,
    without the context copy in between and their 6 Python calls (this runs per request).
    """
    entries = context.get(BAGGAGE_KEY)
    values = dict(context)
    values[BAGGAGE_KEY] = {
        **(entries if isinstance(entries, dict) else {}),
        CORRELATION_ID: correlation_id,
    }
    values[SCOPE_KEY] = scope
    return otel_context.Context(values)


def correlation_from_headers(
    get_header: HeaderGetter, config: Config, *, trusted_peer: bool
) -> tuple[str, str | None]:
    """The request's correlation id and the header it came in (``None``: generated)."""
    return correlation.from_headers(
        get_header,
        config.correlation_id_headers,
        trusted=config.trust_correlation_id and trusted_peer,
        generator=config.correlation_id_generator,
    )


def count_inbound_cut(span: Span, dropped: int, over_limit: int) -> None:
    """Count on the server span what inbound baggage lost: to the policy, to the W3C limits."""
    if dropped:
        span.set_attribute(DROPPED_ATTRIBUTE, dropped)
    if over_limit:
        span.set_attribute(OVER_LIMIT_ATTRIBUTE, over_limit)


def settle_span(scope: RequestScope, ids: dict[str, str] | None = None) -> None:
    """At the response: the span's identifier attributes say what the log lines said.

    The request's identifiers are written on its span here, once (the scope of
    :func:`begin` is ``settle_at_end``: its binds before this wrote nothing there). The
    application may set a span attribute named like an identifier itself; a bound id is
    written over it, so span and lines never disagree (the application changes an id with
    ``otel_context.bind()``), and one for a key not bound here is kept, as a string (one type
    per identifier, issue 14). A bind after this (a streamed body's) writes its own.

    *ids* are the scope's identifiers if the caller just read them with
    ``scope.identifiers(settling=True)``; by default they are read here that way.
    """
    ids = scope.identifiers(settling=True) if ids is None else ids
    span = scope.span
    if span is None or not scope.span_attributes or not span.is_recording():
        return
    # The SDK span's own dict (_private.ATTRIBUTES_DICT): its public ``attributes`` cost 8 k
    # CPU instructions a request more (a mappingproxy, a Python-level __iter__ under a lock).
    # Read while the GIL is held, without the span's lock, as the SDK's __getitem__ reads it.
    attrs = getattr(getattr(span, "_attributes", None), "_dict", None)
    if type(attrs) is not dict:
        attrs = _public_attributes(span)
        if attrs is None:
            return
    try:
        # The span's keys iterated once (the SDK's attributes answer a missing key's get()
        # with a KeyError raised and caught in Python), and only the application's read back.
        for key in scope.keys.intersection(attrs):
            if key not in ids:
                try:
                    have = attrs[key]
                except KeyError:
                    continue  # the SDK evicted it meanwhile
                if type(have) is not str:
                    span.set_attribute(key, as_text(have))
        if ids:
            span.set_attributes(ids)
    except Exception:  # a strange span must not cost the response its correlation header
        _logger.exception("otel_context: settling the span's identifier attributes failed")


def _public_attributes(span: Span) -> Mapping[str, object] | None:
    """The span's attributes through its public API (another SDK's spans; the API's have none)."""
    attrs = getattr(span, "attributes", None)
    # The SDK's mappingproxy first: registered with Mapping directly, it never enters the ABC
    # cache, so isinstance() costs 3 Python calls on every request.
    if type(attrs) is MappingProxyType or isinstance(attrs, Mapping):
        return attrs
    return None


def end(request: Request) -> None:
    """Close the request scope and detach it (last in, first out)."""
    detach_scope(request.scope, request.token)
