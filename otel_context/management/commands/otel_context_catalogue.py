"""``manage.py otel_context_catalogue``: document the attributes every request's events carry.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from otel_context.catalogue import DEFAULT_EXCLUDE, render, scan
from otel_context.conf import get_config

if TYPE_CHECKING:
    from django.core.management.base import CommandParser


class Command(BaseCommand):
    """Print (or write) the common-attributes catalogue as Markdown."""

    help = (
        "Document the attributes otel_context binds to every log event of a request, as "
        "Markdown; with --events, also the project's structlog emit sites and its reads of "
        "inbound baggage keys that INBOUND_BAGGAGE_ALLOW drops (static analysis)."
    )
    requires_system_checks = ()  # documentation only: nothing here needs checking

    def add_arguments(self, parser: CommandParser) -> None:
        """``--output FILE``, ``--events [PATH ...]`` and ``--exclude PATTERN``."""
        parser.add_argument("-o", "--output", help="Write the Markdown to FILE, not stdout.")
        parser.add_argument(
            "--events",
            nargs="*",
            metavar="PATH",
            help="Scan these files or directories for structlog emit sites and baggage reads "
            "(default: settings.BASE_DIR, else the current directory).",
        )
        parser.add_argument(
            "--exclude",
            action="append",
            default=[],
            metavar="PATTERN",
            help="A file or directory name pattern to skip, on top of "
            f"{', '.join(DEFAULT_EXCLUDE)} (repeatable).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """Render the catalogue and write it out."""
        found = None
        if options["events"] is not None:
            roots = [Path(path) for path in options["events"]] or [_default_root()]
            exclude = (*DEFAULT_EXCLUDE, *options["exclude"])
            try:
                found = scan(roots, exclude, base=Path.cwd())
            except FileNotFoundError as exc:
                raise CommandError(str(exc)) from exc
        text = render(get_config(), found)
        if options["output"]:
            Path(options["output"]).write_text(text, encoding="utf-8")
            self.stdout.write(f"Wrote the catalogue to {options['output']}")
        else:
            self.stdout.write(text, ending="")


def _default_root() -> Path:
    base_dir = getattr(settings, "BASE_DIR", None)
    return Path(base_dir) if base_dir else Path.cwd()
