"""URLs of the pricing service (``example.pricing_settings``)."""

from django.urls import path

from example import pricing_views

urlpatterns = [
    path("healthz", pricing_views.healthz, name="healthz"),
    path("api/v1/pricing/quote/", pricing_views.quote, name="pricing-quote"),
]
