"""The OpenTelemetry SDK set up for otel_context: providers, exporters, a bounded shutdown.

``providers`` holds :func:`configure_providers` and :func:`shutdown_providers`; ``_exporters``
chooses each signal's exporter (OTLP, a file of JSON lines, stdout); ``_shutdown`` keeps the
shutdown within its bound (with the CPython 3.12.0/3.12.1 exit path); ``_default_provider``
sets up the SDK's tracer provider at the first request when nobody set one.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from otel_context.sdk.providers import (
    DEFAULT_EXPORT_TIMEOUT_S,
    GRPC,
    HTTP_PROTOBUF,
    Providers,
    configure_providers,
    shutdown_providers,
)

__all__ = [
    "DEFAULT_EXPORT_TIMEOUT_S",
    "GRPC",
    "HTTP_PROTOBUF",
    "Providers",
    "configure_providers",
    "shutdown_providers",
]
