"""The old home of :class:`~otel_context.StructlogOTelLogProcessor`, kept so its imports work.

The code lives in :mod:`otel_context.log_records`: the processor in ``log_records/processor.py``,
the attributes of each record in ``log_records/event_attributes.py``.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from otel_context import log_records
from otel_context.log_records import *  # noqa: F403 - the old path re-exports the new home's names

__all__ = log_records.__all__
