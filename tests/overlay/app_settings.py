"""The application's own settings: it builds INSTALLED_APPS and LOGGING itself, no otel_context.

Based on the example service (its URLs, database and structlog set-up); its stdlib records go
to ``EXAMPLE_LOG_FILE`` as text lines whose format names otel_context's fields.
"""

import os

from example.settings import *  # noqa: F403
from example.settings import INSTALLED_APPS

INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "otel_context"]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {
            "format": "%(levelname)s %(name)s trace_id=%(trace_id)s"
            " correlation_id=%(correlation_id)s %(message)s"
        },
    },
    "handlers": {
        "lines": {
            "class": "logging.FileHandler",
            "filename": os.environ.get("EXAMPLE_STDLIB_LOG_FILE") or os.devnull,
            "formatter": "text",
        },
    },
    "root": {"handlers": ["lines"], "level": "INFO"},
}
