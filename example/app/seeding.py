"""Create the demo organisation, project, environment, users and tokens (idempotent)."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import transaction

from example.app import demo_data
from example.app.models import (
    Environment,
    Feature,
    Membership,
    Organisation,
    OrganisationAPIKey,
    Project,
    UserToken,
)


@dataclass(frozen=True)
class Seeded:
    organisation_id: int
    project_id: int
    environment_id: int
    users: int


@transaction.atomic
def seed(load_users: int = 0) -> Seeded:
    """Seed the tenancy, alice and bob, and *load_users* token-only users ``user000``..."""
    organisation, _ = Organisation.objects.get_or_create(name=demo_data.ORGANISATION_NAME)
    project, _ = Project.objects.get_or_create(
        organisation=organisation, name=demo_data.PROJECT_NAME
    )
    environment, _ = Environment.objects.get_or_create(
        api_key=demo_data.ENVIRONMENT_API_KEY,
        defaults={"project": project, "name": demo_data.ENVIRONMENT_NAME},
    )
    for name, enabled in demo_data.FEATURES:
        Feature.objects.get_or_create(project=project, name=name, defaults={"enabled": enabled})
    OrganisationAPIKey.objects.get_or_create(
        key=demo_data.ORGANISATION_API_KEY, defaults={"organisation": organisation}
    )
    _seed_session_users()
    usernames = [*demo_data.PASSWORDS, *map(demo_data.load_username, range(load_users))]
    _seed_load_users(usernames)
    _seed_memberships_and_tokens(organisation, usernames)
    return Seeded(organisation.pk, project.pk, environment.pk, len(usernames))


def _seed_session_users() -> None:
    user_model = get_user_model()
    for username, password in demo_data.PASSWORDS.items():
        if not user_model.objects.filter(username=username).exists():
            user_model.objects.create_user(username=username, password=password)


def _seed_load_users(usernames: list[str]) -> None:
    # One bulk insert: hashing 400 passwords would take minutes; these users use tokens only.
    user_model = get_user_model()
    unusable = make_password(None)
    user_model.objects.bulk_create(
        [user_model(username=name, password=unusable) for name in usernames],
        ignore_conflicts=True,
    )


def _seed_memberships_and_tokens(organisation: Organisation, usernames: list[str]) -> None:
    users = get_user_model().objects.filter(username__in=usernames).only("pk", "username")
    Membership.objects.bulk_create(
        [Membership(user=user, organisation=organisation) for user in users],
        ignore_conflicts=True,
    )
    UserToken.objects.bulk_create(
        [UserToken(user=user, key=demo_data.user_token(user.username)) for user in users],
        ignore_conflicts=True,
    )
