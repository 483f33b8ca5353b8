"""How a Django request's identifiers are derived: user, URL kwargs, resolvers.

Nothing here forces work the request would not do anyway: the user is read only once
something else (the view, DRF, a decorator) has loaded it, so the session is never touched on
our account and no ``Vary: Cookie`` appears because of us. Each resolver runs at most twice
per request (after routing, and once more after a late authentication if it found nothing).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.utils.functional import LazyObject, empty

from otel_context.attributes import USER_ID
from otel_context.identifiers import found, from_url_kwargs, run_resolvers
from otel_context.scope import coerce

if TYPE_CHECKING:
    from collections.abc import Mapping

    from django.http import HttpRequest

    from otel_context.conf import Config
    from otel_context.scope import RequestScope


def loaded_user(request: HttpRequest) -> object | None:
    """``request.user`` if it is already loaded, without loading it."""
    user = request.__dict__.get("user")
    if isinstance(user, LazyObject):
        # Peek without evaluating; object.__getattribute__ skips LazyObject's own (per event).
        wrapped = object.__getattribute__(user, "_wrapped")
        return None if wrapped is empty else wrapped
    return user


def user_id(user: object, field: str | None) -> str | None:
    """The id bound for *user*: only an authenticated Django user has one (not API keys)."""
    from django.contrib.auth.base_user import AbstractBaseUser  # noqa: PLC0415 - needs apps ready

    if field is None or not isinstance(user, AbstractBaseUser) or not user.is_authenticated:
        return None
    return coerce(getattr(user, field, None))


class DjangoIdentifiers:
    """Derives one request's identifiers into its scope; installed as ``scope.refresh``.

    Calling it is the cheap per-event check: has the user changed since we last looked?
    """

    __slots__ = ("_local_user", "_retry", "_user", "config", "request", "scope")

    def __init__(self, request: HttpRequest, scope: RequestScope, config: Config) -> None:
        self.request = request
        self.scope = scope
        self.config = config
        self._user: object | None = None
        self._local_user = False  # whether user.id was bound from this request's own user
        self._retry: tuple[str, ...] = ()

    def __call__(self) -> None:
        """Bind the user's id if the user was loaded (or replaced) since the last look."""
        # loaded_user() inlined: this runs on every log event of the request
        user = self.request.__dict__.get("user")
        if isinstance(user, LazyObject):
            user = object.__getattribute__(user, "_wrapped")
            if user is empty:
                user = None
        if user is not self._user:
            self._user = user
            self._on_user(user)

    def _on_user(self, user: object | None) -> None:
        uid = user_id(user, self.config.user_id_field)
        if uid is None and not self._local_user:
            return  # nobody authenticated here: keep a trusted upstream hop's user.id, if any
        self._local_user = uid is not None
        ids: dict[str, object] = {USER_ID: uid}
        if uid is not None and self._retry:
            retry, self._retry = self._retry, ()
            ids.update(found(self._resolve(retry)))
        self.scope.bind(ids)

    def on_view(self, view_kwargs: Mapping[str, Any]) -> None:
        """After routing: bind URL-kwarg ids and run the resolvers."""
        ids = from_url_kwargs(view_kwargs, self.config.url_kwargs)
        if self.config.resolvers:
            resolved = self._resolve(tuple(self.config.resolvers))
            self._retry = tuple(name for name, value in resolved.items() if value is None)
            ids.update(found(resolved))
        if ids:
            self.scope.bind(ids)
        self()

    def _resolve(self, names: tuple[str, ...]) -> dict[str, object]:
        return run_resolvers(names, self.config.resolvers, self.request)
