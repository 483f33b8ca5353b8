"""Settings of the pricing service: a second Django service that the example service calls.

Run it like the example service, with ``DJANGO_SETTINGS_MODULE=example.pricing_settings``
(``example.processes.start_pricing`` does). It has no database, no users and no sessions: the
ids on its log lines come from the caller, through the W3C ``baggage`` header.

It trusts the example service as an internal hop: server-owned ids (``correlation.id``,
``user.id``, ``organisation.id``, ...) in the baggage of a request from 127.0.0.1 are accepted
(``TRUST_UPSTREAM_IDENTIFIERS`` with ``TRUSTED_NETWORKS``). Without that trust they are dropped
at the edge, as from any client, and the service generates its own correlation id.

Environment:
    EXAMPLE_PRICING_TRUST_CALLER: "false" turns the trust off (default on).
    EXAMPLE_PRICING_TRUSTED_NETWORKS: comma-separated networks trusted as the caller
        (default 127.0.0.1/32; docker-compose.yml sets its own network).
    EXAMPLE_PRICING_ALLOWED_HOSTS: extra comma-separated ALLOWED_HOSTS (compose: "pricing").
    EXAMPLE_LOG_FILE, EXAMPLE_SECRET_KEY, OTEL_SERVICE_NAME: as for ``example.settings``.
"""

from __future__ import annotations

import os

from example.logs import configure_structlog, logging_config

SECRET_KEY = os.environ.get("EXAMPLE_SECRET_KEY") or "example-insecure-demo-key-not-for-production"
DEBUG = False


def _listed(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver", *_listed("EXAMPLE_PRICING_ALLOWED_HOSTS")]

INSTALLED_APPS = ["otel_context"]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "example.pricing_urls"
WSGI_APPLICATION = "example.wsgi.application"
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True

# A setting beats its OTEL_CONTEXT_* environment variable, so the switch is our own variable.
TRUST_CALLER = os.environ.get("EXAMPLE_PRICING_TRUST_CALLER", "").strip().lower() != "false"

OTEL_CONTEXT = {
    "TRUST_UPSTREAM_IDENTIFIERS": TRUST_CALLER,
    "TRUSTED_NETWORKS": _listed("EXAMPLE_PRICING_TRUSTED_NETWORKS") or ["127.0.0.1/32"],
}

LOG_FILE = os.environ.get("EXAMPLE_LOG_FILE") or None
configure_structlog(LOG_FILE)
LOGGING = logging_config(LOG_FILE)
