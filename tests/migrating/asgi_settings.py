"""Settings of the small ASGI service the asgi-correlation-id recipe runs under uvicorn.

``MIGRATING_MODE=peer``: asgi-correlation-id owns ``X-Request-ID`` (otel_context, always on,
reads and echoes another header). ``MIGRATING_MODE=ours``: the recipe, otel_context alone.
"""

from __future__ import annotations

import os

SECRET_KEY = "tests-only-not-secret"  # noqa: S105
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
USE_TZ = True
ROOT_URLCONF = "tests.migrating.views"
DATABASES: dict[str, dict[str, str]] = {}
INSTALLED_APPS = ["otel_context"]
MIDDLEWARE: list[str] = []
LOGGING_CONFIG = None
PEER = os.environ.get("MIGRATING_MODE") == "peer"
OTEL_CONTEXT = {"CORRELATION_ID_HEADERS": ["X-Unused-Id" if PEER else "X-Request-ID"]}
