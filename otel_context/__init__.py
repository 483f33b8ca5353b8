"""otel_context: request identity and trace ids on every log line and every span.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from otel_context.conf import ConfigurationError
from otel_context.django.instrumentation import instrument
from otel_context.processors import StructlogOTelProcessor
from otel_context.propagation import IdentifierPropagator
from otel_context.scope import RequestScope, bind, get_identifiers, scoped
from otel_context.stdlib import OTelContextFilter

__all__ = [
    "ConfigurationError",
    "IdentifierPropagator",
    "OTelContextFilter",
    "RequestScope",
    "StructlogOTelProcessor",
    "bind",
    "get_identifiers",
    "instrument",
    "scoped",
]
