"""The pricing service's views: they log with no ids in hand, the caller's ids appear anyway."""

from __future__ import annotations

from decimal import Decimal

import structlog
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

import otel_context

log = structlog.get_logger(__name__)
BASE_PRICE = Decimal("49.00")
PRICE_PER_FEATURE = Decimal("12.50")


@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


@require_GET
def quote(request: HttpRequest) -> JsonResponse:
    """Price ``?features=<n>``; the response shows the ids this service saw for the request."""
    try:
        features = max(int(request.GET.get("features", "0")), 0)
    except ValueError:
        return JsonResponse({"detail": "features must be an integer"}, status=400)
    log.info("pricing.quote.requested", features=features)
    total = price(features)
    return JsonResponse(
        {"currency": "EUR", "total": str(total), "identifiers": otel_context.get_identifiers()}
    )


def price(features: int) -> Decimal:
    """The monthly price of a project with *features* flags; knows nothing of the request."""
    total = BASE_PRICE + PRICE_PER_FEATURE * features
    log.info("pricing.price.computed", total=str(total))
    return total
