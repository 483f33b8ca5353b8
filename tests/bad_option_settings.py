"""The test project with one bad OTEL_CONTEXT option of each kind (``manage.py check`` tests)."""

from tests.settings import *  # noqa: F403

OTEL_CONTEXT = {
    "CORRELATION_ID_HEADER": "X-Trace",  # unknown: a typo of CORRELATION_ID_HEADERS
    "SPAN_ATTRIBUTES": 1,  # wrong type
    "INBOUND_BAGGAGE_MAX_ENTRIES": -3,  # bad value
    "URL_KWARGS": ["organisation_pk"],  # malformed mapping
    "RESOLVERS": {"tenant.id": "tests.testapp.broken_on_import.resolve"},  # raises on import
}

CACHES: dict[str, object] = {}  # and one of Django's own problems: caches.E001
# The test project configures its logging in fixtures, not in settings: no line has ids here.
SILENCED_SYSTEM_CHECKS = ["otel_context.W009"]
