"""How a Django request's identifiers are derived: user, URL kwargs, resolvers.

Nothing here forces work the request would not do anyway: the user is read only once
something else (the view, DRF, a decorator) has loaded it, so the session is never touched on
our account and no ``Vary: Cookie`` appears because of us. Each resolver runs at most twice
per request: after routing, and once more if it found nothing and an authenticated principal
appears later (DRF authenticates inside the view; the principal may be a Django user, or
anything an authentication class returns, such as an API key: ``request.auth``). Only a
Django user binds ``user.id``. What a resolver finds never replaces an id bound from the URL,
unless the resolver is ``over_url`` (see :mod:`otel_context.identifiers`).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import functools
import logging
from typing import TYPE_CHECKING, Any, Final, cast

from django.utils.functional import LazyObject, empty

from otel_context._url_kwargs import Route, view_path
from otel_context.attributes import USER_ID
from otel_context.identifiers import bind_derived, from_url_kwargs, run_resolvers
from otel_context.scope import RESOLVER, URL, coerce

_logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    from collections.abc import Hashable, Mapping

    from django.contrib.auth.base_user import AbstractBaseUser
    from django.http import HttpRequest
    from django.urls import ResolverMatch

    from otel_context._parsers import UrlKwargRule
    from otel_context.conf import Config
    from otel_context.scope import RequestScope


#: Where the user that ``await request.auser()`` loaded is kept on the request.
AUSER_ATTR: Final = "_otel_context_auser"


def loaded_user(request: HttpRequest) -> object | None:
    """``request.user`` if it is already loaded, without loading it.

    Or, while ``request.user`` is not loaded, the user ``await request.auser()`` loaded.
    """
    user = request.__dict__.get("user")
    state = lazy_state(user)
    if state is None:
        return user
    wrapped = state.get("_wrapped", empty)  # a peek: evaluating it would load the user
    return request.__dict__.get(AUSER_ATTR) if wrapped is empty else wrapped


def lazy_state(user: object) -> dict[str, Any] | None:
    """The instance dict holding a ``LazyObject``'s ``_wrapped`` (``None`` for anything else).

    ``LazyObject.__setattr__`` stores ``_wrapped`` there, so reading it there sees the load,
    without the Python-level ``__getattribute__`` of the proxy (read on every log event).
    """
    if not isinstance(user, LazyObject):
        return None
    found: dict[str, Any] = object.__getattribute__(user, "__dict__")  # LazyObject has no slots
    return found


@functools.cache
def base_user_class() -> type[AbstractBaseUser]:
    """``AbstractBaseUser``, imported once the apps are ready (an import statement costs 1 µs)."""
    from django.contrib.auth.base_user import AbstractBaseUser  # noqa: PLC0415 - needs apps ready

    return AbstractBaseUser


def user_id(user: object, field: str | None) -> str | None:
    """The id bound for *user*: only an authenticated Django user has one (not API keys)."""
    if field is None or not isinstance(user, base_user_class()) or not user.is_authenticated:
        return None
    return coerce(getattr(user, field, None))


def authenticated(user: object | None, auth: object | None) -> bool:
    """Whether a principal is authenticated: DRF's ``request.auth``, or an authenticated user.

    The user may be any principal an authentication class returns (not only a Django user);
    one whose ``is_authenticated`` raises counts as not authenticated.
    """
    if auth is not None:
        return True
    try:
        return user is not None and bool(getattr(user, "is_authenticated", False))
    except Exception:
        return False


class OnLoad(tuple[Any, ...]):
    """A lazy load's function, wrapped so that what it loads is bound as it loads.

    ``OnLoad((load, where, identifiers))``: the function, the dict it was found in and the
    request's :class:`DjangoIdentifiers`. Put in place of ``SimpleLazyObject._setupfunc``: the
    object's class, ``repr`` and copies stay Django's. A tuple, so that making one (twice a
    request) runs no Python code.
    """

    __slots__ = ()

    def __call__(self) -> Any:
        """Load, bind, return what was loaded."""
        load, where, identifiers = self
        value = load()
        where["_wrapped"] = value  # the lazy object stores it as we return: a resolver run now
        identifiers.loaded(value)  # sees it. Never raises
        return value

    def __repr__(self) -> str:
        return repr(self[0])


class OnAsyncLoad(OnLoad):
    """:class:`OnLoad` for Django's ``request.auser``, a coroutine function.

    What it loads is kept on the request (:data:`AUSER_ATTR`): ``request.user`` stays unloaded.
    """

    __slots__ = ()

    async def __call__(self) -> Any:
        """Await the load, bind, return what was loaded."""
        load, where, identifiers = self
        value = await load()
        where[AUSER_ATTR] = value
        identifiers.loaded(value)  # never raises
        return value


class DjangoIdentifiers:
    """Derives one request's identifiers into its scope; installed as ``scope.refresh``.

    Calling it is the cheap per-event check: has ``request.user`` been replaced, or DRF's
    ``request.auth`` set, since we last looked? A lazy ``request.user`` (and Django's
    ``request.auser()``) reports its own load through a hook (:class:`OnLoad`): the user binds
    when it loads, not at the next log event, and the events need not peek at it.
    """

    __slots__ = (
        "_auth",
        "_lazy",
        "_local_user",
        "_poll",
        "_retry",
        "_state",
        "_user",
        "config",
        "request",
        "scope",
    )

    def __init__(self, request: HttpRequest, scope: RequestScope, config: Config) -> None:
        self.request = request
        self._state = request.__dict__  # read on every log event
        self.scope = scope
        self.config = config
        self._user: object | None = None
        self._auth: object | None = None
        self._lazy: object | None = None  # request.user as last seen: lazy or not
        self._poll: dict[str, Any] | None = None  # a lazy user's dict, peeked if not hooked
        self._local_user = False  # whether user.id was bound from this request's own user
        self._retry: tuple[str, ...] = ()

    def __call__(self) -> None:
        """Bind what the principal gives if it was replaced (or loaded) since the last look."""
        state = self._state  # per log event: two dict reads when nothing changed
        if (
            state.get("user") is self._lazy
            and state.get("auth") is self._auth
            and self._poll is None
        ):
            return
        self.look()

    def look(self) -> None:
        """The slow path of :meth:`__call__`: a new ``request.user`` or ``request.auth``."""
        state = self._state
        user = state.get("user")
        if user is not self._lazy:  # a new request.user: hook its load, if it is lazy
            self._lazy, self._poll = user, None
            if isinstance(user, LazyObject):  # lazy_state(), inlined: once a request
                lazy: dict[str, Any] = object.__getattribute__(user, "__dict__")
                if lazy.get("_wrapped", empty) is empty:
                    self._hook(lazy, state)
                    # not loaded: what loaded_user() gives then, without looking at it again
                    user, auth = state.get(AUSER_ATTR), state.get("auth")
                    if user is not self._user or auth is not self._auth:  # as principal()
                        self.principal(user, auth)
                    return
        self.principal(loaded_user(self.request), state.get("auth"))

    def _hook(self, lazy: dict[str, Any], state: dict[str, Any]) -> None:
        """Wrap the unloaded lazy user's load function, and ``request.auser``, once each."""
        setup = lazy.get("_setupfunc")
        if not isinstance(setup, OnLoad):
            if callable(setup):
                lazy["_setupfunc"] = OnLoad((setup, lazy, self))
            else:
                self._poll = lazy  # a LazyObject of another kind: peeked on every event
        load = state.get("auser")  # Django's, if there
        if callable(load) and not isinstance(load, OnLoad):
            state["auser"] = OnAsyncLoad((load, state, self))

    def loaded(self, user: object) -> None:
        """The lazy user (or ``request.auser()``) has just loaded *user*. Never raises."""
        try:
            if not self.scope.closed:
                self.principal(user, self._state.get("auth"))
        except Exception:
            _logger.exception("otel_context: binding the loaded user failed")

    def principal(self, user: object | None, auth: object | None) -> None:
        """Bind for *user* and *auth* if they are not the principal bound last."""
        if user is not self._user or auth is not self._auth:
            self._user, self._auth = user, auth
            self._on_principal(user, auth)

    def _on_principal(self, user: object | None, auth: object | None) -> None:
        uid = user_id(user, self.config.user_id_field)
        if uid is not None or self._local_user:  # else: keep a trusted upstream hop's user.id
            self._local_user = uid is not None
            self.scope.bind({USER_ID: uid}, RESOLVER)
        if self._retry and authenticated(user, auth):
            retry, self._retry = self._retry, ()
            bind_derived(self.scope, {}, self._resolve(retry), self.config.resolvers.over_url)

    def on_view(self, view_kwargs: Mapping[str, Any]) -> None:
        """After routing: bind URL-kwarg ids and run the resolvers.

        With resolvers, the principal known now is taken in first: only one that appears
        later (DRF authenticates inside the view) runs the resolvers that found nothing once
        more. Without, the request's next log event (or anything else that reads its ids)
        takes it in: each reads them through the scope's refresh.
        """
        url_ids = from_url_kwargs(view_kwargs, self._url_rules()) if view_kwargs else {}
        resolvers = self.config.resolvers
        if not resolvers:  # the common set-up: URL ids only
            if url_ids:
                self.scope.bind(url_ids, URL)
            return
        self()
        resolved = self._resolve(tuple(resolvers))
        self._retry = tuple(name for name, value in resolved.items() if value is None)
        bind_derived(self.scope, url_ids, resolved, resolvers.over_url)

    def _url_rules(self) -> Mapping[str, UrlKwargRule]:
        """``URL_KWARGS`` on this request's route: a dict lookup once the route was seen."""
        rules = self.config.url_kwargs
        match: ResolverMatch | None = self.request.resolver_match
        if not rules.scoped or match is None:
            return rules
        key = (match.route, match.url_name, match.namespace, match.func)
        try:
            found = rules.cache.get(key)  # for_route's hit path, inlined: this runs per request
        except TypeError:
            found = None  # an unhashable view callable: for_route resolves it uncached
        return found if found is not None else rules.for_route(key, describe_route)

    def _resolve(self, names: tuple[str, ...]) -> dict[str, object]:
        return run_resolvers(names, self.config.resolvers, self.request) if names else {}


def describe_route(key: Hashable) -> Route:
    """The :class:`Route` of a ``(route, url_name, namespace, func)`` key (once per route)."""
    pattern, url_name, namespace, func = cast("tuple[str | None, str | None, str, object]", key)
    return Route(url_name, namespace, pattern or "", view_path(func))
