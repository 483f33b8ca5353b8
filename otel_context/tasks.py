"""The old name of :mod:`otel_context.task_carrier`, kept so its imports work.

The carrier that takes a request's trace and identifiers into a task, for any task runner,
lives in ``task_carrier.py``; Django's own task framework is ``otel_context.django.tasks``.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from otel_context import task_carrier
from otel_context.task_carrier import *  # noqa: F403 - the old path re-exports the new home's names

__all__ = task_carrier.__all__
