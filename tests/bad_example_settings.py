"""The example project with two bad OTEL_CONTEXT options: a server must refuse to start."""

from example.settings import *  # noqa: F403
from example.settings import OTEL_CONTEXT

OTEL_CONTEXT = {
    **OTEL_CONTEXT,
    "CORRELATION_ID_HEADER": "X-Trace",
    "INBOUND_BAGGAGE_MAX_ENTRIES": "many",
}
