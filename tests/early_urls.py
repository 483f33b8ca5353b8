"""The example's URLs plus a form endpoint that reads ``request.POST`` (CSRF-exempt)."""

from __future__ import annotations

import structlog
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from example.urls import urlpatterns as example_urlpatterns

log = structlog.get_logger("tests.early")


@csrf_exempt
def form(request: HttpRequest) -> JsonResponse:
    """Read the form (Django raises RequestDataTooBig / TooManyFieldsSent here) and log once."""
    fields = len(request.POST)
    log.info("form.read", fields=fields)
    return JsonResponse({"fields": fields})


urlpatterns = [*example_urlpatterns, path("form/", form)]
