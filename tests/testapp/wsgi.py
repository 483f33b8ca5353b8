"""The Django test app under gunicorn, for the W3C Trace Context harness.

``gunicorn -c example/gunicorn.conf.py tests.testapp.wsgi:application``: DjangoInstrumentor
and otel_context (``"otel_context"`` in ``INSTALLED_APPS``), instrumented ``requests``.
``TESTAPP_SETTINGS`` names another settings module (default ``tests.settings``).
"""

from __future__ import annotations

import os

# example.runner sets the example's settings module: this app has its own
os.environ["DJANGO_SETTINGS_MODULE"] = os.environ.get("TESTAPP_SETTINGS") or "tests.settings"

from django.core.wsgi import get_wsgi_application

from tests._w3c_service import prepare_process

application = get_wsgi_application()
prepare_process()
