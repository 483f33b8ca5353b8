"""A Flagsmith-shaped tenancy: organisations own projects, projects own environments."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Organisation(models.Model):
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user belongs to organisations through memberships."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="memberships"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organisation"], name="unique_membership"),
        ]


class Project(models.Model):
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="projects"
    )
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.name


class Environment(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="environments")
    name = models.CharField(max_length=100)
    #: Public client-side key: SDKs send it in ``X-Environment-Key``, the admin API has it in URLs.
    api_key = models.CharField(max_length=100, unique=True)

    def __str__(self) -> str:
        return self.name


class Feature(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="features")
    name = models.CharField(max_length=100)
    enabled = models.BooleanField(default=False)


class UserToken(models.Model):
    """``Authorization: Token <key>`` authenticates as this user."""

    key = models.CharField(max_length=64, unique=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="token"
    )


class OrganisationAPIKey(models.Model):
    """``Authorization: Api-Key <key>``: a server-side key acting for an organisation, no user."""

    key = models.CharField(max_length=64, unique=True)
    organisation = models.ForeignKey(
        Organisation, on_delete=models.CASCADE, related_name="api_keys"
    )
