"""Header authentication for API clients, next to Django's session authentication.

``Authorization: Token <key>`` authenticates as a Django user (like DRF's TokenAuthentication);
``Authorization: Api-Key <key>`` as an :class:`APIKeyPrincipal`, authenticated but not a user,
so otel_context binds no ``user.id`` for it.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from django.utils.functional import SimpleLazyObject

from example.app.models import OrganisationAPIKey, UserToken

if TYPE_CHECKING:
    from collections.abc import Callable

    from django.http import HttpRequest, HttpResponse


class APIKeyPrincipal:
    """Who a request with an organisation API key acts as."""

    is_authenticated = True
    is_anonymous = False
    is_active = True

    def __init__(self, api_key: OrganisationAPIKey) -> None:
        self.pk = api_key.pk  # has a pk, yet is no user: user.id must stay unbound
        self.organisation_id = api_key.organisation_id


def _principal(scheme: str, key: str, fallback: Any) -> Any:
    if scheme == "Token":
        token = UserToken.objects.select_related("user").filter(key=key).first()
        if token is not None and token.user.is_active:
            return token.user
    elif scheme == "Api-Key":
        api_key = OrganisationAPIKey.objects.filter(key=key).first()
        if api_key is not None:
            return APIKeyPrincipal(api_key)
    return fallback


class HeaderAuthenticationMiddleware:
    """Replace ``request.user`` (lazily, as Django does) when an Authorization header is sent."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        if scheme in {"Token", "Api-Key"} and key.strip():
            session_user = request.user
            request.user = SimpleLazyObject(partial(_principal, scheme, key.strip(), session_user))
        return self.get_response(request)
