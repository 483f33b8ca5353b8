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
    EXAMPLE_LOG_FILE, EXAMPLE_SECRET_KEY, OTEL_SERVICE_NAME: as for ``example.settings``.
"""

from __future__ import annotations

import os

from example.logs import configure_structlog, logging_config

SECRET_KEY = os.environ.get("EXAMPLE_SECRET_KEY") or "example-insecure-demo-key-not-for-production"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

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
    "TRUSTED_NETWORKS": ["127.0.0.1/32"],
}

LOG_FILE = os.environ.get("EXAMPLE_LOG_FILE") or None
configure_structlog(LOG_FILE)
LOGGING = logging_config(LOG_FILE)
