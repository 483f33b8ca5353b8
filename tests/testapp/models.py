"""A multi-tenant API's models, shaped like Flagsmith's: organisations, members, API keys."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Organisation(models.Model):
    """A tenant."""

    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user belongs to one or more organisations; the first (lowest id) is their default."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE)

    def __str__(self) -> str:
        return f"{self.user_id} in {self.organisation_id}"


class MasterAPIKey(models.Model):
    """An organisation's API key: authenticates as the organisation, not as a user."""

    key = models.CharField(max_length=64, unique=True)
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE)

    def __str__(self) -> str:
        return f"key of {self.organisation_id}"


class Environment(models.Model):
    """An environment of an organisation, addressed by its client-side API key."""

    api_key = models.CharField(max_length=64, unique=True)
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE)

    def __str__(self) -> str:
        return f"environment {self.pk}"
