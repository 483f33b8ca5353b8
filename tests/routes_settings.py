"""The example service's settings serving ``tests.testapp.routes``: DRF routers, every id ``pk``.

Run by ``tests/integration/test_routes.py`` under gunicorn and uvicorn
(``DJANGO_SETTINGS_MODULE=tests.routes_settings``); logging, tracing and the database are
the example's.
"""

from __future__ import annotations

from example.settings import *  # noqa: F403 - an overlay of the example's settings
from example.settings import INSTALLED_APPS, OTEL_CONTEXT
from tests.testapp.routes import URL_KWARGS

INSTALLED_APPS = [*INSTALLED_APPS, "rest_framework"]
ROOT_URLCONF = "tests.testapp.routes"
OTEL_CONTEXT = {**OTEL_CONTEXT, "URL_KWARGS": URL_KWARGS, "RESOLVERS": {}}
