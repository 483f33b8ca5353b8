"""The asgi-correlation-id recipe's service: ``uvicorn tests.migrating.asgi_app:application``.

Stdlib lines go to ``MIGRATING_LOG_FILE`` as ``LINE_FORMAT``; the filter and the outer ASGI
middleware depend on ``MIGRATING_MODE`` (see :mod:`tests.migrating.asgi_settings`).
"""

from __future__ import annotations

import logging
import os

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.migrating.asgi_settings")

from django.core.asgi import get_asgi_application

from otel_context import OTelContextFilter
from tests.migrating.views import LINE_FORMAT

PEER = os.environ.get("MIGRATING_MODE") == "peer"

trace.set_tracer_provider(TracerProvider())
handler = logging.FileHandler(os.environ["MIGRATING_LOG_FILE"])
handler.setFormatter(logging.Formatter(LINE_FORMAT))
logger = logging.getLogger("tests.migrating")
logger.addHandler(handler)
logger.setLevel(logging.INFO)
logger.propagate = False

if PEER:
    from asgi_correlation_id import CorrelationIdFilter, CorrelationIdMiddleware

    handler.addFilter(CorrelationIdFilter())
    application = CorrelationIdMiddleware(get_asgi_application(), header_name="X-Request-ID")
else:
    handler.addFilter(OTelContextFilter())
    application = get_asgi_application()
