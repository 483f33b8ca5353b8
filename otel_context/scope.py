"""The request scope: the single source of truth for a request's identifiers.

One :class:`RequestScope` is attached to the OTel context when the request span starts and
detached when it ends. Identifiers known later (after authentication, routing or
:func:`bind` inside the view) *mutate* the scope instead of attaching a new context: under
ASGI the view, the middleware and the hooks run in copies of the ``contextvars`` context,
and a token attached in one copy cannot be reset from another. Every copy refers to the
same scope object, so a late bind is visible everywhere and nothing needs detaching.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Final

from opentelemetry import context as otel_context
from opentelemetry import trace

from otel_context import attributes
from otel_context.trace_fields import Fields, span_fields

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from contextvars import Token

    from otel_context.flight_recorder import HeldLines

SCOPE_KEY: Final = otel_context.create_key("otel_context.scope")
#: Longest identifier value kept; longer ones are cut (ids are short; this bounds memory).
MAX_VALUE_LENGTH: Final = 256

_logger = logging.getLogger(__name__)
#: (span, version, fields, call-site aliases, fields and aliases together).
Cache = tuple[object, int, Fields, frozenset[str], frozenset[str]]
#: ``organisation__id``-style call-site spellings of the standard identifiers.
STANDARD_ALIASES: Final = frozenset(key.replace(".", "__") for key in attributes.SERVER_OWNED)
#: Every key a cache's guard holds when only standard identifiers are bound.
_STANDARD_GUARD: Final = (
    STANDARD_ALIASES
    | attributes.SERVER_OWNED
    | {
        attributes.TRACE_ID,
        attributes.SPAN_ID,
        attributes.TRACE_SAMPLED,
    }
)
#: The trace fields of no span yet: shared, never changed (a scope allocates none of its own).
_NO_TRACE: Final[tuple[object, Fields]] = (None, {})


# Who bound an identifier, lowest first: a bind replaces a key only if its source ranks at
# least as high as the one that bound it (issue 14: a resolver's retry overwrote the URL's id).
#: Trusted inbound baggage (a hop upstream).
UPSTREAM: Final = 0
#: A resolver, or the authenticated principal (``user.id``).
RESOLVER: Final = 1
#: The URL: the resource the request is about (``URL_KWARGS``, its lookups).
URL: Final = 2
#: Application code: :func:`bind` (the default of :meth:`RequestScope.bind`).
APP: Final = 3


def coerce(value: object) -> str | None:
    """Turn an identifier value into the string bound for it; ``None`` and ``""`` unbind."""
    if value is None or isinstance(value, bool):
        return None
    text = value if isinstance(value, str) else str(value)
    return text[:MAX_VALUE_LENGTH] or None


def as_text(value: object) -> str:
    """``str(value)``, or a placeholder if its ``__str__`` raises (a log call never fails)."""
    try:
        return str(value)
    except Exception:
        return f"<unprintable {type(value).__name__}>"


# The scope's lock is taken with acquire() / try / finally: release() rather than ``with``: the
# same semantics, at 0.9 k CPU instructions a use against 2.0 to 2.5 k (callgrind, CPython 3.11
# to 3.13), and a request takes it four times. It is re-entrant: a bind writes span attributes
# while holding it, the SDK may log while it does (an attribute over its length limit), and
# that record's filter or processor reads this scope in the same thread (with a plain lock:
# a deadlock). Making one costs 0.9 k instructions more than a plain lock; a use, the same.


class RequestScope:
    """Identifiers of one unit of work (a request, a task), shared by every context copy.

    Args:
        span: The span the identifiers are written to as attributes, if any.
        span_attributes: Whether the identifiers are written as attributes on *span*.
        first: One identifier, ``(key, value)``, bound from the start as :meth:`bind` would
            bind it for the application: *value* is a non-empty string of at most
            :data:`MAX_VALUE_LENGTH` characters. For a *settle_at_end* scope: its span gets
            the id when it is settled, as it gets every other.
        settle_at_end: Whether they are written once, when the request ends
            (:func:`otel_context.request.settle_span`), rather than by every :meth:`bind`
            before that. A request adapter whose end always runs while the span is open sets
            it: the application's own attributes of the same names are then settled in one
            pass, without reading back what each bind wrote.
    """

    __slots__ = (
        "_cache",
        "_ids",
        "_lock",
        "_ranks",
        "_trace",
        "closed",
        "held",
        "keys",
        "refresh",
        "settle_at_end",
        "span",
        "span_attributes",
        "version",
    )

    def __init__(
        self,
        span: trace.Span | None = None,
        *,
        span_attributes: bool = True,
        keys: frozenset[str] = attributes.SERVER_OWNED,
        settle_at_end: bool = False,
        first: tuple[str, str] | None = None,
    ) -> None:
        # *first*: one id bound as the application's from the start, (key, value) with value
        # a string of at most MAX_VALUE_LENGTH characters: what bind() would store for it,
        # without a bind's lock and loop (a request's correlation id, per request).
        self._ids: dict[str, str] = {} if first is None else {first[0]: first[1]}
        self._ranks: dict[str, int] = {} if first is None else {first[0]: APP}  # key -> who
        self._lock = threading.RLock()  # re-entrant: see the comment above the class
        #: What the log processors add, per span and version: see :meth:`cached`.
        self._cache: Cache | None = None
        #: The trace fields of the last span the cache was built for: (span, fields).
        self._trace: tuple[object, Fields] = _NO_TRACE
        self.version = 0
        self.closed = False
        self.span = span
        self.span_attributes = span_attributes
        #: While ``True``, :meth:`bind` leaves the span alone (see *settle_at_end*).
        self.settle_at_end = settle_at_end
        #: Set by a framework adapter: picks up identifiers that became known lazily
        #: (e.g. a user authenticated inside the view). Must be cheap and never raise.
        self.refresh: Callable[[], None] | None = None
        #: The identifier keys of this scope besides those bound: a call-site value of one is
        #: a string on every line too (callers pass ``config.server_owned``).
        self.keys = keys
        #: The request's held log lines (``HOLD_LINES``), decided on at :meth:`close`.
        self.held: HeldLines | None = None

    def bind(self, ids: Mapping[str, object], rank: int = APP) -> None:
        """Bind (or, with ``None``, unbind) identifiers; keys may use ``__`` for dots.

        Args:
            ids: Key -> value; a value is bound as a string (:func:`coerce`).
            rank: Who binds (:data:`UPSTREAM` ... :data:`APP`): a key bound by a higher-ranked
                source is kept.
        """
        lock = self._lock
        lock.acquire()  # not ``with``: see the comment above the class
        try:
            span = None if self.settle_at_end or not self.span_attributes else self.span
            if span is not None and not span.is_recording():
                span = None
            own, ranks = self._ids, self._ranks
            for key, raw in ids.items():
                name = key.replace("__", ".") if "__" in key else key
                if rank < APP and ranks.get(name, rank) > rank:
                    continue  # a higher-ranked source bound it
                # coerce() inlined for the common ids, a str or an int (URL kwargs): per request
                if type(raw) is str:
                    value = raw[:MAX_VALUE_LENGTH] or None
                elif type(raw) is int:
                    value = str(raw)[:MAX_VALUE_LENGTH]
                else:
                    value = coerce(raw)
                if value is None:
                    own.pop(name, None)
                    ranks.pop(name, None)
                    continue
                own[name] = value
                ranks[name] = rank
                if span is not None:
                    span.set_attribute(name, value)
            self.version += 1
            if self._cache is not None:  # the processors' fast path checks only the span
                self._cache = self._patched_cache()
        finally:
            lock.release()

    def _patched_cache(self) -> Cache | None:
        """After a bind (lock held): the cache with the new ids, if only standard ids are bound.

        Their aliases and guard stay the same, so the fields are rebuilt as :meth:`cache_for`
        would, without its checks; otherwise ``None``, and the next event rebuilds it.
        """
        cache = self._cache
        if cache is None or cache[4] is not _STANDARD_GUARD or self._trace[0] is not cache[0]:
            return None
        if not attributes.SERVER_OWNED.issuperset(self._ids):
            return None
        return (cache[0], self.version, {**self._trace[1], **self._ids}, cache[3], cache[4])

    def identifiers(self, *, settling: bool = False) -> dict[str, str]:
        """A copy of the bound identifiers, after picking up lazily known ones.

        With *settling*, the caller writes them on the span now: from then on :meth:`bind`
        writes its own (taken under the same lock, so no bind falls between the two).
        """
        refresh = self.refresh  # _refresh() inlined: this runs on every response
        if refresh is not None and not self.closed:
            try:
                refresh()
            except Exception:
                self.refresh_failed()
        lock = self._lock
        lock.acquire()  # not ``with``: see the comment above the class
        try:
            if settling:
                self.settle_at_end = False
            return dict(self._ids)
        finally:
            lock.release()

    def bound(self) -> dict[str, str]:
        """A copy of the bound identifiers as they are, without a refresh (a closed scope's too)."""
        lock = self._lock
        lock.acquire()  # not ``with``: see the comment above the class
        try:
            return dict(self._ids)
        finally:
            lock.release()

    def _refresh(self) -> None:
        refresh = self.refresh
        if refresh is not None and not self.closed:
            try:
                refresh()
            except Exception:
                self.refresh_failed()

    def refresh_failed(self) -> None:
        """Drop the refresh that just raised: a broken adapter must not break every line after.

        Call it from the ``except`` block, so the traceback is logged.
        """
        self.refresh = None
        _logger.exception(  # noqa: LOG004 - only called from except blocks
            "otel_context: refreshing identifiers failed; ids may be missing"
        )

    def cached(self, span: object) -> Cache:
        """What log processors add for *span*: ``(span, version, fields, aliases, guard)``.

        *fields* are the trace fields plus the identifiers, *aliases* the call-site ``__``
        spellings of every identifier key (bound, standard or in :attr:`keys`), *guard* all
        of these keys together (an event with none of them takes the fast
        path). Rebuilt only when the span or the identifiers change.
        """
        self._refresh()
        return self.cache_for(span)

    def cache_for(self, span: object) -> Cache:
        """:meth:`cached` without the refresh, for callers that just refreshed."""
        cache = self._cache
        if cache is not None and cache[0] is span and cache[1] == self.version:
            return cache
        lock = self._lock
        lock.acquire()  # no bind() or close() in another thread comes in between: one hold
        try:
            trace_fields = self._trace
            if trace_fields[0] is not span:  # once per span: a late bind reuses them
                trace_fields = self._trace = (span, span_fields(span))
            ids = self._ids
            fields = {**trace_fields[1], **ids}
            if _STANDARD_GUARD.issuperset(fields) and attributes.SERVER_OWNED.issuperset(self.keys):
                aliases, guard = STANDARD_ALIASES, _STANDARD_GUARD
            else:
                names = self.keys.union(ids)
                aliases = STANDARD_ALIASES.union([key.replace(".", "__") for key in names])
                guard = aliases.union(fields, names)
            cache = (span, self.version, fields, aliases, guard)
            if not self.closed:  # a closed scope keeps no cache
                self._cache = cache
        finally:
            lock.release()
        return cache

    def trace_fields(self, span: object) -> Fields:
        """:func:`span_fields` of *span*, the cached ones if an event built them (not a copy)."""
        trace_fields = self._trace
        return trace_fields[1] if trace_fields[0] is span else span_fields(span)

    def fields(self, span: object) -> tuple[Fields, frozenset[str]]:
        """Trace fields for *span* plus the identifiers, and their ``__`` aliases (cached)."""
        cache = self.cached(span)
        return cache[2], cache[3]

    def close(self) -> None:
        """End the scope: it reads as empty from now on, even from a leaked context."""
        held = self.held
        if held is not None:
            self.held = None
            try:
                held.finish(self.span)
            except Exception:
                _logger.exception("otel_context: deciding on the request's held lines failed")
        lock = self._lock
        lock.acquire()  # cache_for() keeps no cache after this
        try:
            self.closed = True
            self._cache = None
        finally:
            lock.release()
        self.refresh = None
        self.span = None
        self._trace = _NO_TRACE


def current_scope(context: otel_context.Context | None = None) -> RequestScope | None:
    """The open scope of the current (or given) context, if any."""
    scope = otel_context.get_value(SCOPE_KEY, context)
    if isinstance(scope, RequestScope) and not scope.closed:
        return scope
    return None


def bind(**ids: object) -> bool:
    """Bind identifiers to the current request (or task) scope.

    Keys may use ``__`` for dots (``organisation__id=7`` binds ``organisation.id``); a value of
    ``None`` unbinds the key. Outside any scope nothing is bound.

    Returns:
        Whether a scope was there to bind to.

    .. versionadded:: 0.1.0
    """
    scope = current_scope()
    if scope is None:
        _logger.debug("otel_context.bind() outside a request scope: %s not bound", sorted(ids))
        return False
    scope.bind(ids)
    return True


def get_identifiers() -> dict[str, str]:
    """The identifiers of the current request (or task) scope; empty outside one.

    .. versionadded:: 0.1.0
    """
    scope = current_scope()
    return {} if scope is None else scope.identifiers()


def attach_scope(
    scope: RequestScope, context: otel_context.Context | None = None
) -> Token[otel_context.Context]:
    """Make *scope* current on top of *context*; pair with :func:`detach_scope`."""
    return otel_context.attach(otel_context.set_value(SCOPE_KEY, scope, context))


def detach_scope(scope: RequestScope, token: Token[otel_context.Context]) -> None:
    """Close *scope* and detach its token (never raises: OTel logs a failed detach)."""
    scope.close()
    otel_context.detach(token)


def release_scope(scope: RequestScope, token: Token[otel_context.Context]) -> None:
    """Close *scope*, and detach *token* only if *scope* is still the current one.

    For adapters whose hook pairs do not unwind last in, first out (Celery runs its
    ``task_postrun`` handlers in connection order, so the instrumentor may already have reset
    the context below our token: resetting ours then would bring the task span back).
    """
    scope.close()
    if otel_context.get_value(SCOPE_KEY) is scope:
        otel_context.detach(token)


@contextmanager
def scoped(scope: RequestScope | None = None, /, **ids: object) -> Iterator[RequestScope]:
    """Run a block inside a scope (a new one, closed at the end, unless one is given).

    Use it for work outside a request (a task, a command) or to carry a request's scope into
    another thread.

    .. versionadded:: 0.1.0
    """
    owned = scope is None
    scope = RequestScope(trace.get_current_span()) if scope is None else scope
    if ids:
        scope.bind(ids)
    token = attach_scope(scope)
    try:
        yield scope
    finally:
        if owned:  # a scope handed in (e.g. the request's, shared with a thread) stays open
            scope.close()
        otel_context.detach(token)
