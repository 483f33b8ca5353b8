"""Fixtures the Django tests share: a logged-in client, a resolver that needs the user."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client


@pytest.fixture
def alice_client() -> tuple[Client, str]:
    """A client logged in (a session) as a new user "alice", and her pk."""
    user = get_user_model().objects.create_user("alice", password="pw")  # noqa: S106
    client = Client()
    client.get("/login/alice/")
    return client, str(user.pk)


@pytest.fixture
def organisation_of_user(settings: Any) -> None:
    """``organisation.id`` from a resolver that needs the loaded user (``org-of-<pk>``)."""
    settings.OTEL_CONTEXT = {
        "RESOLVERS": {"organisation.id": "tests.testapp.identifiers.organisation_of_user"}
    }
