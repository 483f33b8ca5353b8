"""Settings of the example service.

Environment:
    EXAMPLE_DB: path of the SQLite database (default ``.demo/example.sqlite3``).
    EXAMPLE_LOG_FILE: file the JSON log lines are appended to (default: stdout).
    EXAMPLE_SECRET_KEY: Django's SECRET_KEY (default: a fixed demo value).
    EXAMPLE_DEBUG: "true" turns on DEBUG.
    EXAMPLE_PRICING_URL: base URL of the pricing service (``example.pricing_settings``) that
        the quote view calls; unset: the quote view answers 503.
    EXAMPLE_BROKER_URL: URL of the Celery broker the quote view enqueues a task on (Redis, or
        a folder: ``example.tasks``); unset: no task is enqueued.
    OTEL_SERVICE_NAME: ``service.name`` of the spans and of every log line.

The OTel SDK ``TracerProvider`` is not set up here but in ``example/gunicorn.conf.py``'s
``post_fork`` hook: the BatchSpanProcessor's export thread does not survive a fork.
"""

from __future__ import annotations

import os
from pathlib import Path

from example.logs import configure_structlog, logging_config

BASE_DIR = Path(__file__).resolve().parent
REPO_DIR = BASE_DIR.parent

SECRET_KEY = os.environ.get("EXAMPLE_SECRET_KEY") or "example-insecure-demo-key-not-for-production"
DEBUG = os.environ.get("EXAMPLE_DEBUG", "").strip().lower() == "true"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "example.app",
    "otel_context",
]

# otel_context inserts its IdentifiersMiddleware after AuthenticationMiddleware in ready().
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "example.app.auth.HeaderAuthenticationMiddleware",
]

ROOT_URLCONF = "example.urls"
WSGI_APPLICATION = "example.wsgi.application"
ASGI_APPLICATION = "example.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("EXAMPLE_DB") or str(REPO_DIR / ".demo" / "example.sqlite3"),
        # WAL: many worker threads read while a login writes its session.
        "OPTIONS": {"init_command": "PRAGMA journal_mode=WAL;", "timeout": 20},
    },
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/healthz"

# The services the quote view talks to (read by example.app.services and example.app.apps).
EXAMPLE_PRICING_URL = os.environ.get("EXAMPLE_PRICING_URL", "").strip() or None
EXAMPLE_BROKER_URL = os.environ.get("EXAMPLE_BROKER_URL", "").strip() or None

OTEL_CONTEXT = {
    "CORRELATION_ID_HEADERS": ["Correlation-Id", "X-Request-ID"],
    "USER_ID_FIELD": "pk",
    "URL_KWARGS": {
        "organisation_pk": "organisation.id",
        "project_pk": "project.id",
        "environment_api_key": {"lookup": "example.app.identifiers.ids_for_environment_key"},
    },
    # The SDK route carries its environment in a header, not the URL.
    "RESOLVERS": {
        "environment.id": "example.app.identifiers.sdk_environment_id",
        "project.id": "example.app.identifiers.sdk_project_id",
        "organisation.id": "example.app.identifiers.sdk_organisation_id",
    },
}

# ---------------------------------------------------------------- logging
# structlog events and stdlib records become one JSON line each, with the request's ids.
LOG_FILE = os.environ.get("EXAMPLE_LOG_FILE") or None
configure_structlog(LOG_FILE)
LOGGING = logging_config(LOG_FILE)
