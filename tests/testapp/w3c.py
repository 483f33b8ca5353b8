"""The W3C Trace Context harness endpoint of the Django test app (see tests/_w3c_service.py)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse

from tests._w3c_service import call_back


def harness(request: HttpRequest) -> HttpResponse:
    """POST: make the outgoing calls the harness lists in the body."""
    return JsonResponse({"calls": call_back(request.body)})
