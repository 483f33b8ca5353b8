"""Views and middleware the migration recipes drive: a view that logs both ways."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import structlog
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import path

import otel_context

if TYPE_CHECKING:
    from collections.abc import Callable

#: The stdlib lines of the recipes: django-guid's and asgi-correlation-id's documented field.
LINE_FORMAT = "%(levelname)s correlation_id=%(correlation_id)s %(message)s"
log = structlog.get_logger("tests.migrating")
stdlib_log = logging.getLogger("tests.migrating")


def work(request: HttpRequest, organisation_pk: int) -> HttpResponse:
    """Loads the user, binds an id mid-request, logs a structlog event and a stdlib record."""
    authenticated = request.user.is_authenticated
    otel_context.bind(order__id="17")
    log.info("work.done", authenticated=authenticated)
    stdlib_log.info("work done")
    return JsonResponse({"identifiers": otel_context.get_identifiers()})


def logged(request: HttpRequest) -> HttpResponse:
    """Logs one stdlib record; touches neither the user nor the database."""
    stdlib_log.info("logged")
    return HttpResponse("logged")


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


class LogAfterInnerMiddleware:
    """Logs ``outer.response`` once everything inside it returned (after their clean-ups)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        log.info("outer.response", status=response.status_code)
        return response


urlpatterns = [
    path("orgs/<int:organisation_pk>/work/", work),
    path("logged/", logged),
    path("healthz", healthz),
    path("healthz/", healthz),
]
