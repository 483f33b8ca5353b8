"""The old home of :func:`~otel_context.configure_providers`, kept so its imports work.

The code lives in :mod:`otel_context.sdk`: ``sdk/providers.py`` sets the providers up and shuts
them down, ``sdk/_exporters.py`` chooses each signal's exporter and ``sdk/_shutdown.py`` keeps
the shutdown within its bound.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from otel_context import sdk
from otel_context.sdk import *  # noqa: F403 - the old path re-exports the new home's names

__all__ = sdk.__all__
