"""Figure C″'s rules floor: the derivation floor plus the least code for each rule kept.

The derivation floor (``derived`` in :mod:`benchmarks._toggles`) puts the request's values in
the same places as otel_context, with none of its rules. Point 5 of issue 25 keeps the rules,
so no correct implementation costs less than that floor plus what each rule costs at least.
This module is that floor (state ``rules``): every rule written as directly as it can be for
one Django set-up (otel_context's defaults), in plain functions and one small scope object,
without otel_context's configuration, framework adapters or shared lifecycle. What
otel_context costs over it is what its own structure adds. The rules, one a numbered block
below:

1. the correlation id is derived in a middleware layer ahead of the instrumentation, so that
   a request it rejects (``DisallowedHost``) still echoes it; an inbound id is validated;
2. a request that leaves the instrumentation by an exception is marked (the guard);
3. inbound baggage loses the server-owned keys and is cut to W3C's 64 members (only a request
   that brings baggage pays more than a dict lookup);
4. a scope in the context, the same object for every copy of it: a bind is seen by copies made
   before it, and nothing is read from it once it is closed;
5. URL ids by route: one dict lookup once the route was seen; ranks decide between sources;
   ids are strings of at most 256 characters;
6. the lazy user's load is hooked (``user.id`` binds as it loads) and each event checks
   whether ``request.user`` was replaced or ``request.auth`` set;
7. per event, call-site keys win, their ``__`` spellings are renamed, and values are strings;
8. at the response: span attributes the application set with an identifier's name are kept
   as strings, the ids are written on the span once, a correlation header the application set
   is left as it is, a streamed body is noticed, and the ended request keeps its fields for
   Django's late 4xx records.

Not here, because otel_context's defaults leave them off: ``TRUSTED_NETWORKS``, resolvers,
``HOLD_LINES``, the trace response header.
"""

from __future__ import annotations

import re
import threading
from random import getrandbits
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

from django.utils.functional import LazyObject, empty
from opentelemetry import context
from opentelemetry.propagators.textmap import (
    Getter,
    Setter,
    TextMapPropagator,
    default_getter,
    default_setter,
)
from opentelemetry.trace import get_current_span

from otel_context._inbound_gate import BAGGAGE_KEY as _BAGGAGE_KEY  # the API's context key
from otel_context.processors import _SPAN_KEY, _current_context

if TYPE_CHECKING:
    from collections.abc import Callable

    from django.http import HttpRequest, HttpResponse
    from opentelemetry.trace import Span

#: Where figure C″'s chain lists :class:`CorrelationLayer` (``CorrelationMiddleware``'s place).
LAYER_PATH: Final = f"{__name__}.CorrelationLayer"
_SCOPE_KEY: Final = context.create_key("benchmarks.rules_scope")
_CORRELATION: Final = "_benchmarks_rules_cid"
_REJECTED: Final = "_benchmarks_rules_rejected"
_STATE: Final = "_benchmarks_rules_state"
_ENDED: Final = "_benchmarks_rules_ended"
_AUSER: Final = "_benchmarks_rules_auser"
#: request.META key -> header: the correlation id's request headers, in order.
_HEADERS: Final = (("HTTP_CORRELATION_ID", "Correlation-Id"), ("HTTP_X_REQUEST_ID", "X-Request-ID"))
_SAFE: Final = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_MAX_VALUE: Final = 256
_MAX_MEMBERS: Final = 64
#: The server-owned identifiers: never taken from a client, one type (a string) everywhere.
IDS: Final = frozenset(
    {"correlation.id", "user.id", "organisation.id", "project.id", "environment.id"}
)
_ALIASES: Final = {key.replace(".", "__"): key for key in IDS}
#: An event with none of these keys takes the fast path (rule 7).
_GUARD: Final = IDS | _ALIASES.keys() | {"trace_id", "span_id", "trace_sampled"}
#: Ranks (rule 5): a source binds a key only if no higher one bound it.
_RESOLVER: Final = 1
_URL: Final = 2
_APP: Final = 3
#: URL kwarg -> id, as otel_context's defaults bind them.
_KWARGS: Final = (("organisation_pk", "organisation.id"), ("project_pk", "project.id"))
#: (route, url_name, namespace, view) -> the route's kwarg rules (rule 5).
_ROUTES: dict[tuple[Any, ...], tuple[tuple[str, str], ...]] = {}


def _random_id() -> str:
    return getrandbits(128).to_bytes(16, "big").hex()


class CorrelationLayer:
    """Rule 1: a middleware listed right before the instrumentation's.

    Its :meth:`process_view` is rule 5's: Django calls a view hook only on a middleware, and
    every one's runs after every ``process_request`` (authentication included), so one layer
    serves both.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        """Derive the id, pass the request on, echo the id on a response to a rejected one."""
        meta = request.META
        found: tuple[str, str | None] | None = None
        for key, header in _HEADERS:
            raw = meta.get(key)
            if raw is not None:
                valid = _SAFE.fullmatch(raw.strip())
                found = (valid.group() if valid else _random_id(), header)
                break
        values = request.__dict__
        values[_CORRELATION] = found or (_random_id(), None)
        response = self.get_response(request)
        given = values.pop(_CORRELATION)
        if _REJECTED in values:
            name = given[1] or "Correlation-Id"
            if not response.has_header(name):
                response[name] = given[0]
        return response

    def process_view(
        self, request: HttpRequest, view: Any, args: Any, kwargs: dict[str, Any]
    ) -> None:
        """Rule 5, after routing."""
        bind_url_ids(request, kwargs)


def guarded(call: Callable[[Any, HttpRequest], Any]) -> Callable[[Any, HttpRequest], Any]:
    """Rule 2: the instrumentation's ``__call__``, marking a request an exception ends."""

    def __call__(self: Any, request: HttpRequest) -> Any:  # noqa: N807 - it replaces __call__
        try:
            return call(self, request)
        except BaseException:
            request.__dict__[_REJECTED] = True
            raise

    return __call__


class Scope:
    """Rule 4: one request's ids, shared by every copy of its context.

    A bind replaces ``ids`` with a new dict under the lock (ranks checked there), so readers
    take a consistent snapshot without it.
    """

    __slots__ = (
        "auth",
        "cache",
        "closed",
        "ids",
        "lock",
        "ranks",
        "settled",
        "span",
        "user",
        "values",
        "version",
    )

    def __init__(self, span: Span, values: dict[str, Any], cid: str) -> None:
        self.span = span
        self.values = values  # the request's __dict__: rule 6's per-event check reads it
        self.ids = {"correlation.id": cid[:_MAX_VALUE]}
        self.ranks = {"correlation.id": _APP}
        self.lock = threading.Lock()
        self.version = 0
        self.cache: tuple[object, int, dict[str, Any]] | None = None
        self.closed = False
        self.settled = False
        self.user: object = None
        self.auth: object = None

    def bind(self, new: dict[str, str], rank: int) -> None:
        """Bind *new* (strings) as *rank*; a bind after the response writes the span itself."""
        lock = self.lock
        lock.acquire()
        try:
            ids, ranks = dict(self.ids), self.ranks
            for key, value in new.items():
                if ranks.get(key, rank) <= rank:
                    ids[key] = value
                    ranks[key] = rank
            self.ids = ids
            self.version += 1
            settled = self.settled
        finally:
            lock.release()
        if settled and self.span.is_recording():
            self.span.set_attributes(new)


class ScopeBaggage(TextMapPropagator):
    """Rule 4's outbound side: an outgoing request's baggage carries the scope's ids.

    Last in the global composite propagator: on the way in it passes the context on (the one
    call every request pays); on the way out it writes the context's baggage with the ids
    bound since, cut to W3C's 64 members.
    """

    def extract(
        self,
        carrier: Any,
        context: context.Context | None = None,
        getter: Getter[Any] = default_getter,
    ) -> context.Context:
        """Nothing to take in: *context* as it is."""
        return context if context is not None else _current_context()

    def inject(
        self,
        carrier: Any,
        context: context.Context | None = None,
        setter: Setter[Any] = default_setter,
    ) -> None:
        """The ``baggage`` header: the context's baggage and the open scope's ids."""
        ctx = context if context is not None else _current_context()
        scope = ctx.get(_SCOPE_KEY)
        if scope is None or scope.closed:
            return
        entries = {**(ctx.get(_BAGGAGE_KEY) or {}), **scope.ids}
        members = [
            f"{quote(key, safe='')}={quote(str(value), safe='')}"
            for key, value in list(entries.items())[:_MAX_MEMBERS]
        ]
        setter.set(carrier, "baggage", ",".join(members))

    @property
    def fields(self) -> set[str]:
        """The header it writes."""
        return {"baggage"}


def _trace_fields(span: object) -> dict[str, Any]:
    ids = get_current_span().get_span_context() if span is None else span.get_span_context()  # type: ignore[attr-defined]
    return {
        "trace_id": format(ids.trace_id, "032x"),
        "span_id": format(ids.span_id, "016x"),
        "trace_sampled": ids.trace_flags.sampled,
    }


def request_hook(span: Span, request: HttpRequest) -> None:
    """Rules 3 and 4: the scope, the correlation id in baggage, attached."""
    values = request.__dict__
    cid = values.get(_CORRELATION, (None,))[0] or _random_id()  # the layer's
    ctx = _current_context()
    inbound = ctx.get(_BAGGAGE_KEY)
    entries = _filtered(inbound) if inbound else {}
    scope = Scope(span, values, cid)
    new = dict(ctx)
    new[_BAGGAGE_KEY] = {**entries, "correlation.id": cid}
    new[_SCOPE_KEY] = scope
    header = values.get(_CORRELATION, (None, None))[1]
    values[_STATE] = (scope, context.attach(context.Context(new)), header)


def _filtered(entries: dict[str, Any]) -> dict[str, Any]:
    """Rule 3: no server-owned key from a client; at most 64 members."""
    kept = {key: value for key, value in entries.items() if key not in IDS}
    return dict(list(kept.items())[:_MAX_MEMBERS]) if len(kept) > _MAX_MEMBERS else kept


def bind_url_ids(request: HttpRequest, kwargs: dict[str, Any]) -> None:
    """Rule 5: the route's URL ids, bound ranked."""
    state = request.__dict__.get(_STATE)
    match = request.resolver_match
    if state is None or not kwargs or match is None:
        return
    key = (match.route, match.url_name, match.namespace, match.func)
    rules = _ROUTES.get(key)
    if rules is None:
        rules = _ROUTES[key] = _KWARGS  # the route's rules, found once
    ids = {}
    for kwarg, name in rules:
        value = kwargs.get(kwarg)
        if value is not None:
            ids[name] = (value if type(value) is str else str(value))[:_MAX_VALUE]
    if ids:
        state[0].bind(ids, _URL)


class _OnLoad(tuple[Any, ...]):
    """Rule 6: a lazy user's load function, binding what it loads."""

    __slots__ = ()

    def __call__(self) -> Any:
        load, lazy, scope = self
        user = lazy["_wrapped"] = load()
        _principal(scope, user, scope.values.get("auth"))
        return user


class _OnAsyncLoad(_OnLoad):
    __slots__ = ()

    async def __call__(self) -> Any:
        load, values, scope = self
        user = values[_AUSER] = await load()
        _principal(scope, user, values.get("auth"))
        return user


def _look(scope: Scope) -> None:
    """Rule 6's slow path: ``request.user`` or ``request.auth`` is new."""
    values = scope.values
    user, auth = values.get("user"), values.get("auth")
    scope.user, scope.auth = user, auth
    if isinstance(user, LazyObject):
        lazy = object.__getattribute__(user, "__dict__")
        user = lazy.get("_wrapped", empty)
        if user is empty:
            setup = lazy.get("_setupfunc")
            if callable(setup) and type(setup) is not _OnLoad:
                lazy["_setupfunc"] = _OnLoad((setup, lazy, scope))
            load = values.get("auser")
            if callable(load) and type(load) is not _OnAsyncLoad:
                values["auser"] = _OnAsyncLoad((load, values, scope))
            user = values.get(_AUSER)
            if user is None:
                return
    _principal(scope, user, auth)


def _principal(scope: Scope, user: object, auth: object) -> None:
    """Bind ``user.id`` for an authenticated Django user (not an API key)."""
    from django.contrib.auth.base_user import AbstractBaseUser  # noqa: PLC0415 - apps ready

    if isinstance(user, AbstractBaseUser) and user.is_authenticated and not scope.closed:
        scope.bind({"user.id": str(user.pk)[:_MAX_VALUE]}, _RESOLVER)


def processor(logger: Any, method: str, event_dict: dict[str, Any]) -> Any:
    """Rules 4, 6 and 7: the scope's fields; call-site keys win, as strings."""
    try:
        ctx = _current_context()
        scope = ctx.get(_SCOPE_KEY)
        if scope is None or scope.closed:
            return event_dict
        values = scope.values
        if values.get("user") is not scope.user or values.get("auth") is not scope.auth:
            _look(scope)
        span = ctx.get(_SPAN_KEY)
        cache = scope.cache
        if cache is None or cache[0] is not span or cache[1] != scope.version:
            version = scope.version  # before the ids: a bind in between rebuilds next time
            cache = scope.cache = (span, version, {**_trace_fields(span), **scope.ids})
        if _GUARD.isdisjoint(event_dict):
            event_dict.update(cache[2])
        else:
            _merge(event_dict, cache[2])
    except Exception:  # never into the log call
        return event_dict
    return event_dict


def _merge(event_dict: dict[str, Any], fields: dict[str, Any]) -> None:
    """Rule 7's slow path."""
    for alias, key in _ALIASES.items():
        if alias in event_dict:
            event_dict.setdefault(key, event_dict.pop(alias))
    for key in IDS.intersection(event_dict):
        value = event_dict[key]
        if type(value) is not str and value is not None:
            event_dict[key] = str(value)
    for key, value in fields.items():
        event_dict.setdefault(key, value)


def response_hook(span: Span, request: HttpRequest, response: HttpResponse) -> None:
    """Rule 8, then the scope closed and the context detached."""
    values = request.__dict__
    state = values.pop(_STATE, None)
    if state is None:
        return
    scope, token, header = state
    streaming = False
    try:
        if values.get("user") is not scope.user or values.get("auth") is not scope.auth:
            _look(scope)
        lock = scope.lock
        lock.acquire()
        try:
            ids = scope.ids
            scope.settled = True
        finally:
            lock.release()
        if span.is_recording():
            own = span._attributes._dict  # type: ignore[attr-defined]  # the SDK's own dict
            for key in IDS.intersection(own):
                if key not in ids and type(own[key]) is not str:
                    span.set_attribute(key, str(own[key]))
            span.set_attributes(ids)
        name = header or "Correlation-Id"
        if not response.has_header(name):
            response[name] = ids["correlation.id"]
        cache = scope.cache
        values[_ENDED] = (ids, cache[2] if cache is not None else None)
        streaming = response.streaming and getattr(response, "file_to_stream", None) is None
    finally:
        if not streaming:  # else the body's end would close it (not in this figure's view)
            scope.closed = True
            scope.cache = None
        context.detach(token)
