"""The old name of :mod:`otel_context.task_carrier`, kept so its imports work.

The carrier that takes a request's trace and identifiers into a task, for any task runner,
lives in ``task_carrier.py``; Django's own task framework is ``otel_context.django.tasks``.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from otel_context.task_carrier import (
    CARRIER_KEY,
    MAX_CARRIER_SIZE,
    MAX_IDENTIFIERS,
    Carried,
    capture,
    read,
    restore,
    restored,
)

__all__ = [
    "CARRIER_KEY",
    "MAX_CARRIER_SIZE",
    "MAX_IDENTIFIERS",
    "Carried",
    "capture",
    "read",
    "restore",
    "restored",
]
