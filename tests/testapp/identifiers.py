"""Resolvers and lookups the test settings name by dotted path."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

    from django.http import HttpRequest

CALLS: list[str] = []


def environment_by_key(key: str) -> Mapping[str, object] | None:
    CALLS.append(key)
    if key == "broken":
        msg = "lookup exploded"
        raise RuntimeError(msg)
    if key.startswith("env-"):
        return {"environment.id": key.removeprefix("env-"), "project.id": "p-" + key[4:]}
    return None


def tenant_from_header(request: HttpRequest) -> str | None:
    value = request.headers.get("X-Tenant")
    if value == "boom":
        msg = "resolver exploded"
        raise RuntimeError(msg)
    return value


def organisation_of_user(request: HttpRequest) -> str | None:
    """A user-dependent resolver that never loads the user itself."""
    from otel_context.django.identifiers import loaded_user

    user = loaded_user(request)
    pk = getattr(user, "pk", None)
    return None if pk is None or not getattr(user, "is_authenticated", False) else f"org-of-{pk}"
