from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from example.app.seeding import seed


class Command(BaseCommand):
    help = "Create the demo organisation, project, environment, alice, bob and load-test users."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--users", type=int, default=0, help="also create token users user000..userNNN"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        seeded = seed(load_users=options["users"])
        self.stdout.write(
            f"seeded organisation={seeded.organisation_id} project={seeded.project_id} "
            f"environment={seeded.environment_id} users={seeded.users}"
        )
