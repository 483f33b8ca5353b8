"""Names of the identifiers otel_context binds, each defined once.

Keys are lower-case and dot-separated, as OTel semantic conventions name attributes.
Call sites may write them with ``__`` for the dot (``organisation__id``).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import Final

CORRELATION_ID: Final = "correlation.id"
USER_ID: Final = "user.id"
ORGANISATION_ID: Final = "organisation.id"
PROJECT_ID: Final = "project.id"
ENVIRONMENT_ID: Final = "environment.id"

#: Identifiers the server derives itself; a client may never set them (see the README's Security).
SERVER_OWNED: Final = frozenset(
    {CORRELATION_ID, USER_ID, ORGANISATION_ID, PROJECT_ID, ENVIRONMENT_ID}
)

#: Span attribute: the application's own id on the response header otel_context echoes, when it
#: differs from ``correlation.id`` and is a valid id (issue 22). Never an identifier or a log key.
CORRELATION_RESPONSE_ID: Final = "correlation.response_id"

#: Keys the structlog processor and the logging filter add for the trace.
TRACE_ID: Final = "trace_id"
SPAN_ID: Final = "span_id"
#: Whether the trace was sampled (its spans are exported), from the span context's flags.
TRACE_SAMPLED: Final = "trace_sampled"


def dotted(key: str) -> str:
    """Return *key* with call-site ``__`` separators turned into dots."""
    return key.replace("__", ".")
