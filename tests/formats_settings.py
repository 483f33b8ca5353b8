"""Settings of ``tests/formats_site.py``: stdlib ``LOGGING`` the README's way, and RESOLVERS.

Two handlers write the same records (``EXAMPLE_LOG_FILE`` is set by ``example.runner``):

* the README's set-up, ``OTelContextFilter`` + ``OTelContextFormatter``, to ``EXAMPLE_LOG_FILE``,
  with a format naming every kind of field: built-in, a URL_KWARGS target, a RESOLVERS key,
  one bound with ``bind()`` in some requests only, each dotted and underscored;
* ``OTelContextFilter`` alone with a plain ``logging.Formatter``, to ``<log file>.filter-only``,
  naming every configured field (not the ``bind()``-only one).
"""

import os

from tests.settings import *  # noqa: F403
from tests.settings import MIDDLEWARE

ALLOWED_HOSTS = ["127.0.0.1", "localhost"]  # any other Host: django.security.DisallowedHost
ROOT_URLCONF = "tests.formats_site"
MIDDLEWARE = [*MIDDLEWARE, "tests.formats_site.AppRequestIdMiddleware"]
OTEL_CONTEXT = {
    "URL_KWARGS": {"organisation_pk": "organisation.id", "shard_pk": "shard.id"},
    "RESOLVERS": {"tenant.id": "tests.testapp.identifiers.tenant_from_header"},
    "TRACE_RESPONSE_HEADER": "traceresponse",
}

FIELDS = [
    "trace_id",
    "correlation_id",
    "correlation.id",
    "user_id",
    "organisation_id",
    "organisation.id",
    "shard_id",
    "shard.id",
    "tenant_id",
    "tenant.id",
]
BIND_ONLY = ["order_id", "order.id"]
#: ``LINE <logger>|<level>|<field>=<value>|...|msg=<message>``: one line per record.
CONFIGURED_FORMAT = "|".join(
    [
        "LINE %(name)s",
        "%(levelname)s",
        *(f"{name}=%({name})s" for name in FIELDS),
        "msg=%(message)s",
    ]
)
EVERY_KIND_FORMAT = CONFIGURED_FORMAT.replace(
    "|msg=", "|" + "|".join(f"{name}=%({name})s" for name in BIND_ONLY) + "|msg="
)
LOG_FILE = os.environ.get("EXAMPLE_LOG_FILE")
FILTER_ONLY_LOG_FILE = f"{LOG_FILE}.filter-only" if LOG_FILE else os.devnull
LOG_FILE = LOG_FILE or os.devnull

LOGGING_CONFIG = "logging.config.dictConfig"
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"otel_context": {"()": "otel_context.OTelContextFilter"}},
    "formatters": {
        "every_kind": {"class": "otel_context.OTelContextFormatter", "format": EVERY_KIND_FORMAT},
        "configured": {"format": CONFIGURED_FORMAT},
    },
    "handlers": {
        "readme": {
            "class": "logging.FileHandler",
            "filename": LOG_FILE,
            "filters": ["otel_context"],
            "formatter": "every_kind",
        },
        "filter_only": {
            "class": "logging.FileHandler",
            "filename": FILTER_ONLY_LOG_FILE,
            "filters": ["otel_context"],
            "formatter": "configured",
        },
    },
    "root": {"handlers": ["readme", "filter_only"], "level": "INFO"},
    # Django's default LOGGING keeps django.server to itself: give it these handlers too.
    "loggers": {"django.server": {"handlers": ["readme", "filter_only"], "propagate": False}},
}
