"""A view that calls another service with instrumented ``requests``."""

from __future__ import annotations

import requests
from django.http import HttpRequest, HttpResponse

import otel_context


def call_out(request: HttpRequest) -> HttpResponse:
    otel_context.bind(user__id="late-7")  # bound after the request started
    response = requests.get(request.GET["url"], timeout=5)
    return HttpResponse(response.status_code)
