"""otel_context: request identity and trace ids on every log line and every span.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from otel_context import _private  # noqa: F401 - first: the private names the rest imports
from otel_context.conf import ConfigurationError
from otel_context.flight_recorder import FlightRecorder
from otel_context.log_records import StructlogOTelLogProcessor
from otel_context.log_sampling import LogSamplingFilter, LogSamplingProcessor
from otel_context.processors import StructlogOTelProcessor
from otel_context.propagation import IdentifierPropagator
from otel_context.sampling import RecordClientSpans
from otel_context.scope import RequestScope, bind, get_identifiers, scoped
from otel_context.sdk import configure_providers, shutdown_providers
from otel_context.stdlib import OTelContextFilter, OTelContextFormatter
from otel_context.threads import ContextExecutor, with_context
from otel_context.work import background

if TYPE_CHECKING:
    from otel_context.django.instrumentation import instrument

__version__ = "0.1.0.dev0"

__all__ = [
    "ConfigurationError",
    "ContextExecutor",
    "FlightRecorder",
    "IdentifierPropagator",
    "LogSamplingFilter",
    "LogSamplingProcessor",
    "OTelContextFilter",
    "OTelContextFormatter",
    "RecordClientSpans",
    "RequestScope",
    "StructlogOTelLogProcessor",
    "StructlogOTelProcessor",
    "background",
    "bind",
    "configure_providers",
    "get_identifiers",
    "instrument",
    "scoped",
    "shutdown_providers",
    "with_context",
]


def __getattr__(name: str) -> Any:
    # Django's entry point loads on first use: a Flask app never imports Django.
    if name == "instrument":
        from otel_context.django.instrumentation import instrument  # noqa: PLC0415

        return instrument
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
