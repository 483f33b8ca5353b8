"""How the example derives its identifiers; referenced from ``settings.OTEL_CONTEXT``.

The admin API names the environment by its key in the URL (``URL_KWARGS`` lookup); the SDK
sends the key in a header (``RESOLVERS``). Both map it to environment, project and
organisation ids.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from example.app.models import Environment

if TYPE_CHECKING:
    from collections.abc import Mapping

    from django.http import HttpRequest

SDK_PATH_PREFIX = "/api/v1/sdk/"
SDK_KEY_HEADER = "X-Environment-Key"
_CACHE_ATTRIBUTE = "_example_sdk_environment"


def ids_for_environment_key(api_key: str) -> Mapping[str, str | None]:
    """``URL_KWARGS`` lookup: the ids an environment API key stands for (empty if unknown)."""
    row = (
        Environment.objects.filter(api_key=api_key)
        .values_list("pk", "project_id", "project__organisation_id")
        .first()
    )
    if row is None:
        return {}
    environment_id, project_id, organisation_id = row
    return {
        "environment.id": str(environment_id),
        "project.id": str(project_id),
        "organisation.id": str(organisation_id),
    }


def sdk_environment(request: HttpRequest) -> Environment | None:
    """The environment of an SDK request's ``X-Environment-Key``, looked up once per request."""
    cached = request.__dict__.get(_CACHE_ATTRIBUTE, request)
    if cached is not request:
        return cached  # type: ignore[no-any-return]
    key = request.headers.get(SDK_KEY_HEADER) if request.path.startswith(SDK_PATH_PREFIX) else None
    environment = (
        Environment.objects.select_related("project").filter(api_key=key).first() if key else None
    )
    setattr(request, _CACHE_ATTRIBUTE, environment)
    return environment


def sdk_environment_id(request: HttpRequest) -> str | None:
    environment = sdk_environment(request)
    return None if environment is None else str(environment.pk)


def sdk_project_id(request: HttpRequest) -> str | None:
    environment = sdk_environment(request)
    return None if environment is None else str(environment.project_id)


def sdk_organisation_id(request: HttpRequest) -> str | None:
    environment = sdk_environment(request)
    return None if environment is None else str(environment.project.organisation_id)
