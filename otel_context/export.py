"""The old home of :class:`~otel_context.StructlogOTelLogProcessor`, kept so its imports work.

The code lives in :mod:`otel_context.log_records`: the processor in ``log_records/processor.py``,
the attributes of each record in ``log_records/event_attributes.py``.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from otel_context.log_records import (
    StructlogOTelLogProcessor,
    coerce_value,
    event_attributes,
    exception_attributes_of,
)

__all__ = [
    "StructlogOTelLogProcessor",
    "coerce_value",
    "event_attributes",
    "exception_attributes_of",
]
