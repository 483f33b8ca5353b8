"""The known credentials of the seeded demo data (no Django imports: clients use it too)."""

from __future__ import annotations

import hashlib
from typing import Final

ORGANISATION_NAME: Final = "Acme"
PROJECT_NAME: Final = "Rockets"
ENVIRONMENT_NAME: Final = "Production"
#: The environment's public key: in admin-API URLs and in the SDK's ``X-Environment-Key``.
ENVIRONMENT_API_KEY: Final = "env-9f8e7d6c5b4a"
#: A server-side organisation key: ``Authorization: Api-Key <key>``, a principal without a user.
ORGANISATION_API_KEY: Final = "org-key-1a2b3c4d5e6f"
#: Session users (log in with these passwords) who are members of the organisation.
PASSWORDS: Final = {"alice": "alice-demo-password", "bob": "bob-demo-password"}
FEATURES: Final = (("dark_mode", True), ("new_checkout", False), ("beta_banner", True))


def load_username(number: int) -> str:
    """The name of the *number*-th seeded load-test user: ``user000``, ``user001``, ..."""
    return f"user{number:03d}"


def user_token(username: str) -> str:
    """The ``Authorization: Token`` key seeded for *username* (derived, so clients know it)."""
    return hashlib.sha256(f"example-token:{username}".encode()).hexdigest()[:40]
