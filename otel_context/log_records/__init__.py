"""OTel log records from structlog events: the processor that emits them, and their attributes.

``processor`` holds :class:`StructlogOTelLogProcessor`; ``event_attributes`` turns an event
dict into the record's attributes; ``_official_structlog`` keeps one exporter per event when
``opentelemetry-instrumentation-structlog`` is installed too; ``_handler_ids`` lends the
request's identifiers to the stdlib records an OTel ``LoggingHandler`` exports.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from otel_context.log_records.event_attributes import (
    coerce_value,
    event_attributes,
    exception_attributes_of,
)
from otel_context.log_records.processor import StructlogOTelLogProcessor

__all__ = [
    "StructlogOTelLogProcessor",
    "coerce_value",
    "event_attributes",
    "exception_attributes_of",
]
