"""The Django project of figure B: settings per configuration, one URL, one view.

The view emits three structlog events; its URL carries ``organisation_pk`` and ``project_pk``,
which otel_context binds as ``organisation.id`` and ``project.id`` by default.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import structlog
from django.http import HttpRequest, HttpResponse
from django.urls import path

#: The figure's configurations, each run in its own process.
CONFIGS: Final = ("plain", "instrumentor", "otel_context", "django_structlog")
PATH: Final = "/orgs/7/projects/12/"
VIEW_EVENTS: Final = ("project.loaded", "permissions.checked", "project.rendered")

log = structlog.get_logger("benchmarks.view")


def project(request: HttpRequest, organisation_pk: int, project_pk: str) -> HttpResponse:
    log.info(VIEW_EVENTS[0], organisation=organisation_pk, project=project_pk)
    log.info(VIEW_EVENTS[1], allowed=True)
    log.info(VIEW_EVENTS[2], status=200)
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [path("orgs/<int:organisation_pk>/projects/<str:project_pk>/", project)]


def settings_for(config: str) -> dict[str, Any]:
    """Django settings of *config*: the same project, plus otel_context or django-structlog."""
    apps = ["django.contrib.contenttypes", "django.contrib.auth", "django.contrib.sessions"]
    middleware = [
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.middleware.common.CommonMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
    ]
    if config == "otel_context":
        apps.append("otel_context")  # instruments Django and adds its middleware after auth
    if config == "django_structlog":
        apps.append("django_structlog")
        middleware.append("django_structlog.middlewares.RequestMiddleware")
    return {
        "SECRET_KEY": "benchmarks-only-not-secret",
        "DEBUG": False,
        "ALLOWED_HOSTS": ["*"],
        "USE_TZ": True,
        "ROOT_URLCONF": "benchmarks._site",
        "DATABASES": {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        "DEFAULT_AUTO_FIELD": "django.db.models.BigAutoField",
        "INSTALLED_APPS": apps,
        "MIDDLEWARE": middleware,
        "LOGGING_CONFIG": None,
    }


@dataclass(frozen=True, slots=True)
class Setup:
    """One configuration of figure B, as named on the worker's command line."""

    name: str

    @classmethod
    def parse(cls, name: str) -> Setup:
        """Validate *name* against ``CONFIGS``."""
        if name not in CONFIGS:
            msg = f"unknown configuration {name!r}; one of {', '.join(CONFIGS)}"
            raise ValueError(msg)
        return cls(name)

    @property
    def traced(self) -> bool:
        """Whether Django is instrumented (every configuration but plain)."""
        return self.name != "plain"

    @property
    def ours(self) -> bool:
        """Whether otel_context is installed (and its processor in the structlog chain)."""
        return self.name == "otel_context"

    def settings(self) -> dict[str, Any]:
        """Django settings of this configuration."""
        return settings_for(self.name)
