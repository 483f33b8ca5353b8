"""The Django test app under gunicorn, for the W3C Trace Context harness.

``gunicorn -c example/gunicorn.conf.py tests.testapp.wsgi:application``: DjangoInstrumentor
and otel_context (``"otel_context"`` in ``INSTALLED_APPS``), instrumented ``requests``.
"""

from __future__ import annotations

import os

os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"  # the runner sets the example's

from django.core.wsgi import get_wsgi_application

from tests._w3c_service import prepare_process

application = get_wsgi_application()
prepare_process()
