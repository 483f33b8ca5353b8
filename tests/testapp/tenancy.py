"""A multi-tenant DRF API, configured as Flagsmith's issue #7298 asks (otel_context issue 14).

Three ways in, all authenticated by DRF inside the view: a user's token, an organisation's
master API key (a principal that is not a user) and an environment's key in a header. The
call sites pass ids as ints, as existing code does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import requests
import structlog
from django.contrib.auth.base_user import AbstractBaseUser
from opentelemetry import trace
from rest_framework.authentication import BaseAuthentication, TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.response import Response
from rest_framework.views import APIView

import otel_context
from otel_context.django.identifiers import loaded_user
from tests.testapp.models import Environment, MasterAPIKey, Membership

if TYPE_CHECKING:
    from django.http import HttpRequest
    from rest_framework.request import Request

log = structlog.get_logger("tests.tenancy")
#: ``RESOLVERS`` for these views; ``organisation.id`` needs the principal.
RESOLVERS = {
    "organisation.id": "tests.testapp.tenancy.organisation_of_principal",
    "environment.id": "tests.testapp.tenancy.environment_of_key_header",
}


class APIKeyUser:
    """The principal of a master API key: authenticated, but no Django user (no user.id)."""

    is_authenticated = True

    def __init__(self, key: MasterAPIKey) -> None:
        self.key = key


class MasterAPIKeyAuthentication(BaseAuthentication):
    """``Authorization: Api-Key <key>`` authenticates as the key's organisation."""

    def authenticate(self, request: Request) -> tuple[APIKeyUser, MasterAPIKey] | None:
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Api-Key":
            return None
        key = MasterAPIKey.objects.filter(key=value).first()
        if key is None:
            raise AuthenticationFailed
        return APIKeyUser(key), key


class EnvironmentKeyAuthentication(BaseAuthentication):
    """``X-Environment-Key: <key>``: the environment is the principal (``request.auth``)."""

    def authenticate(self, request: Request) -> tuple[None, Environment] | None:
        value = request.headers.get("X-Environment-Key")
        environment = Environment.objects.filter(api_key=value).first() if value else None
        return None if environment is None else (None, environment)


def organisation_of_principal(request: HttpRequest) -> int | None:
    """The key's organisation, the environment's, else the user's first; never loads a user."""
    principal = loaded_user(request)
    auth = request.__dict__.get("auth")
    if isinstance(principal, APIKeyUser):
        return principal.key.organisation_id
    if isinstance(auth, Environment):
        return auth.organisation_id
    if isinstance(principal, AbstractBaseUser) and principal.is_authenticated:
        membership = Membership.objects.filter(user=principal).order_by("id").first()
        return None if membership is None else membership.organisation_id
    return None


def environment_of_key_header(request: HttpRequest) -> int | None:
    """A lookup by API key in a header: the environment's id (an int, as from the ORM)."""
    value = request.headers.get("X-Environment-Key")
    if not value:
        return None
    return Environment.objects.filter(api_key=value).values_list("id", flat=True).first()


def raising_resolver(request: HttpRequest) -> str | None:
    """Raises once a principal is there (its late run), finds nothing before."""
    if loaded_user(request) is not None or request.__dict__.get("auth") is not None:
        msg = "resolver exploded on the late principal"
        raise RuntimeError(msg)
    return None


def wrong_type_resolver(request: HttpRequest) -> object:
    """Gives a dict once a principal is there: no id."""
    return None if loaded_user(request) is None else {"not": "an id"}


class TenantView(APIView):
    """What the three principals may ask for; logs with int ids at the call site."""

    authentication_classes = [  # noqa: RUF012
        TokenAuthentication,
        MasterAPIKeyAuthentication,
        EnvironmentKeyAuthentication,
    ]
    permission_classes = []  # noqa: RUF012

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        """Before DRF authenticates: the app's own attribute, before the late bind."""
        if "set_before" in request.query_params:
            trace.get_current_span().set_attribute(
                "organisation.id", int(request.query_params["set_before"])
            )
        super().initial(request, *args, **kwargs)

    def get(self, request: Request, organisation_pk: int | None = None) -> Response:
        log.info("tenant.authenticated")
        if organisation_pk is not None:
            log.info("tenant.org_asked", organisation__id=organisation_pk)
        user = request.user
        if isinstance(user, AbstractBaseUser):
            log.info("tenant.user", user__id=user.pk)
        span = trace.get_current_span()
        if "set_attribute" in request.query_params:  # the app's own attribute, after our bind
            span.set_attribute("organisation.id", int(request.query_params["set_attribute"]))
        if "call" in request.query_params:  # a downstream service: gets the ids as baggage
            requests.get(request.query_params["call"], timeout=5)
        return Response({"identifiers": otel_context.get_identifiers()})
