"""Business logic, deliberately unaware of request ids: its log lines get them anyway."""

from __future__ import annotations

import logging
from typing import Any, NoReturn

import requests
import structlog

from example.app.auth import APIKeyPrincipal
from example.app.models import Environment, Feature, Membership, Project

log = structlog.get_logger(__name__)
stdlib_log = logging.getLogger(__name__)
#: Seconds the quote view waits for the pricing service.
PRICING_TIMEOUT = 5


def _may_access(principal: Any, organisation_id: int) -> bool:
    if isinstance(principal, APIKeyPrincipal):
        return principal.organisation_id == organisation_id
    return Membership.objects.filter(user=principal, organisation_id=organisation_id).exists()


def find_project(principal: Any, organisation_id: int, project_id: int) -> Project | None:
    project = Project.objects.filter(pk=project_id, organisation_id=organisation_id).first()
    if project is None or not _may_access(principal, organisation_id):
        log.info("project.not_accessible", project=project_id)
        return None
    log.info("project.loaded", project_name=project.name)
    return project


def summarise_project(project: Project) -> dict[str, Any]:
    features = list(project.features.values_list("name", flat=True))
    # A stdlib record, to show ProcessorFormatter's foreign_pre_chain gets the ids too.
    stdlib_log.info("project summary computed for %d features", len(features))
    return {"id": project.pk, "name": project.name, "features": features}


def find_environment(principal: Any, api_key: str) -> Environment | None:
    environment = Environment.objects.select_related("project").filter(api_key=api_key).first()
    if environment is None or not _may_access(principal, environment.project.organisation_id):
        log.info("environment.not_accessible")
        return None
    log.info("environment.loaded", environment_name=environment.name)
    return environment


def evaluate_flags(environment: Environment, identifier: str | None = None) -> dict[str, bool]:
    flags = dict(
        Feature.objects.filter(project_id=environment.project_id).values_list("name", "enabled")
    )
    log.info("flags.evaluated", count=len(flags), for_identity=identifier is not None)
    return flags


def fetch_quote(pricing_url: str, project: Project) -> dict[str, Any]:
    """Ask the pricing service for *project*'s price; no ids are passed, the baggage has them.

    Raises:
        requests.RequestException: the pricing service is unreachable or answered an error.
    """
    response = requests.get(
        f"{pricing_url.rstrip('/')}/api/v1/pricing/quote/",
        params={"features": project.features.count()},
        timeout=PRICING_TIMEOUT,
    )
    response.raise_for_status()
    quote: dict[str, Any] = response.json()
    return quote


def enqueue_quote_report(project: Project, quote: dict[str, Any]) -> str:
    """Enqueue the Celery task recording *quote*; returns the task id."""
    from example.tasks import record_quote  # noqa: PLC0415 - Celery only with a broker set

    result = record_quote.delay(project.pk, quote["total"])
    log.info("quote.report.enqueued", task_id=result.id)
    return str(result.id)


def explode() -> NoReturn:
    log.warning("boom.about_to_fail")
    msg = "deliberate failure in the service layer"
    raise RuntimeError(msg)
