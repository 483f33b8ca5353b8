"""Opt-in correlation for management commands.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import Any

from otel_context.work import background


class TracedCommandMixin:
    """Mix into a ``BaseCommand`` so a run gets a root span and a correlation id.

    ``class Command(TracedCommandMixin, BaseCommand): ...`` — every event the command logs
    then carries ``trace_id``, ``span_id`` and ``correlation.id``.
    """

    def execute(self, *args: Any, **options: Any) -> Any:
        """Run the command inside :func:`otel_context.work.background`."""
        name = type(self).__module__.rsplit(".", 1)[-1]
        with background(f"manage.py {name}", **{"command.name": name}):
            return super().execute(*args, **options)  # type: ignore[misc]
