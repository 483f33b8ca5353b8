from __future__ import annotations

from typing import Any

import structlog
from django.core.management.base import BaseCommand

from otel_context.django.commands import TracedCommandMixin

log = structlog.get_logger("tests.command")


class Command(TracedCommandMixin, BaseCommand):
    help = "A command whose events are correlated."

    def handle(self, *args: Any, **options: Any) -> None:
        log.info("command.ran", step=1)
        log.info("command.ran", step=2)
