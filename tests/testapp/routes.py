"""A DRF API laid out as routers lay it out: every detail route's id is ``pk`` (issue 22.4).

``DefaultRouter`` serves tenants and sites (both ``pk``) under the ``api`` namespace; nested
routes in drf-nested-routers' style name the parents ``organisation_pk`` and ``project_pk``
and the innermost id ``pk`` again. ``URL_KWARGS`` tells the ``pk`` s apart by route: by URL
name glob (the router's basename), by namespaced URL name, by viewset and by route pattern.
Used as ``ROOT_URLCONF`` by the unit tests and by ``tests.routes_settings`` under real servers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog
from django.http import HttpResponse, JsonResponse
from django.urls import include, path, re_path
from rest_framework import routers, viewsets
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

import otel_context

if TYPE_CHECKING:
    from rest_framework.request import Request

log = structlog.get_logger("tests.routes")

#: The settings' ``URL_KWARGS`` for these routes: ``pk`` on sites and environments is no tenant.
URL_KWARGS: dict[str, object] = {
    "organisation_pk": "organisation.id",
    "project_pk": "project.id",
    "pk@tenant-*": "tenant.id",
    "pk@view:tests.testapp.routes.SiteViewSet": "site.id",
    "pk@api:project-detail": "project.id",
    "pk@route:*/environments/*": {"lookup": "tests.testapp.routes.environment_ids"},
}


def environment_ids(pk: str) -> dict[str, object]:
    """``URL_KWARGS`` lookup for an environment's ``pk``."""
    return {"environment.id": pk}


class _Logged(viewsets.ViewSet):
    """list/retrieve that log one event each and answer with the bound identifiers."""

    authentication_classes = ()
    permission_classes = (AllowAny,)
    resource = "resource"

    def list(self, request: Request, **kwargs: Any) -> Response:
        log.info("listed", resource=self.resource)
        return Response({"identifiers": otel_context.get_identifiers()})

    def retrieve(self, request: Request, pk: str, **kwargs: Any) -> Response:
        log.info("retrieved", resource=self.resource)
        return Response({"identifiers": otel_context.get_identifiers()})


class TenantViewSet(_Logged):
    resource = "tenant"


class SiteViewSet(_Logged):
    resource = "site"


class DeviceViewSet(_Logged):
    """No scoped rule names it: its ``pk`` binds nothing."""

    resource = "device"


class ProjectViewSet(_Logged):
    resource = "project"


class EnvironmentViewSet(_Logged):
    resource = "environment"


class UnhashableView:
    """A callable view object that cannot be a cache key (it defines ``__eq__`` only)."""

    def __eq__(self, other: object) -> bool:
        return other is self

    __hash__ = None  # type: ignore[assignment]

    def __call__(self, request: Any, pk: str) -> HttpResponse:
        return JsonResponse({"identifiers": otel_context.get_identifiers()})


def healthz(request: Any) -> HttpResponse:
    """Readiness probe of the integration servers."""
    return HttpResponse("ok")


router = routers.DefaultRouter()
router.register("tenants", TenantViewSet, basename="tenant")
router.register("sites", SiteViewSet, basename="site")
router.register("devices", DeviceViewSet, basename="device")
projects = routers.SimpleRouter()
projects.register("projects", ProjectViewSet, basename="project")
environments = routers.SimpleRouter()
environments.register("environments", EnvironmentViewSet, basename="environment")

api = [
    *router.urls,
    re_path(r"^organisations/(?P<organisation_pk>[^/.]+)/", include(projects.urls)),
    re_path(
        r"^organisations/(?P<organisation_pk>[^/.]+)/projects/(?P<project_pk>[^/.]+)/",
        include(environments.urls),
    ),
]
urlpatterns = [
    path("healthz", healthz),
    path("unhashable/<pk>/", UnhashableView(), name="tenant-unhashable"),
    path("api/", include((api, "api"))),
]
