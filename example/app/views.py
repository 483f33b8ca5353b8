"""Views: each logs a few events; the ids on them come from otel_context, not from here."""

from __future__ import annotations

import asyncio
import time

import requests
import structlog
from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

import otel_context
from example.app import services
from example.app.identifiers import sdk_environment

log = structlog.get_logger(__name__)
#: Longest pause ``async_work`` accepts between its events.
MAX_PAUSE_MS = 2000


@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain")


@require_GET
@login_required
def project_detail(request: HttpRequest, organisation_pk: int, project_pk: int) -> JsonResponse:
    log.info("project.requested")
    project = services.find_project(request.user, organisation_pk, project_pk)
    if project is None:
        raise Http404
    summary = services.summarise_project(project)
    log.info("project.served", features=len(summary["features"]))
    return JsonResponse({"project": summary, "identifiers": otel_context.get_identifiers()})


@require_GET
@login_required
def project_quote(request: HttpRequest, organisation_pk: int, project_pk: int) -> JsonResponse:
    """Price a project with the pricing service (HTTP), then record the quote in a task.

    503 without ``EXAMPLE_PRICING_URL``, 502 if the pricing service fails; the task is
    enqueued only with ``EXAMPLE_BROKER_URL``.
    """
    log.info("quote.requested")
    project = services.find_project(request.user, organisation_pk, project_pk)
    if project is None:
        raise Http404
    if settings.EXAMPLE_PRICING_URL is None:
        return JsonResponse({"detail": "no pricing service configured"}, status=503)
    try:
        quote = services.fetch_quote(settings.EXAMPLE_PRICING_URL, project)
    except requests.RequestException as error:
        log.warning("quote.pricing_failed", error=type(error).__name__)
        return JsonResponse({"detail": "the pricing service failed"}, status=502)
    task_id = services.enqueue_quote_report(project, quote) if settings.EXAMPLE_BROKER_URL else None
    # Existing call sites pass the ids as ints: logged as strings, like the bound ones.
    log.info(
        "quote.served",
        total=quote.get("total"),
        organisation__id=organisation_pk,
        project__id=project_pk,
    )
    return JsonResponse(
        {"quote": quote, "task_id": task_id, "identifiers": otel_context.get_identifiers()}
    )


@require_GET
@login_required
def environment_flags(request: HttpRequest, environment_api_key: str) -> JsonResponse:
    log.info("environment.flags.requested")
    environment = services.find_environment(request.user, environment_api_key)
    if environment is None:
        raise Http404
    flags = services.evaluate_flags(environment)
    log.info("environment.flags.served", count=len(flags))
    return JsonResponse({"flags": flags, "identifiers": otel_context.get_identifiers()})


@require_GET
def sdk_flags(request: HttpRequest) -> JsonResponse:
    """SDK endpoint: the environment key header is the only credential; there is no user."""
    environment = sdk_environment(request)  # cached: the RESOLVERS already looked it up
    if environment is None:
        log.info("sdk.rejected")
        return JsonResponse({"detail": "unknown environment key"}, status=401)
    identifier = request.GET.get("identifier") or None
    if identifier:
        otel_context.bind(identity__identifier=identifier)  # known only now, mid-request
    log.info("sdk.flags.requested")
    flags = services.evaluate_flags(environment, identifier)
    log.info("sdk.flags.served", count=len(flags))
    return JsonResponse({"flags": flags, "identifiers": otel_context.get_identifiers()})


def boom(request: HttpRequest) -> HttpResponse:
    log.info("boom.requested", authenticated=request.user.is_authenticated)
    services.explode()


def _authenticated_user(request: HttpRequest) -> object | None:
    user = request.user  # evaluating it may query the database: call it from a thread
    return user if user.is_authenticated else None


def _pause_s(request: HttpRequest) -> float:
    try:
        pause_ms = int(request.GET.get("sleep_ms", "5"))
    except ValueError:
        pause_ms = 5
    return min(max(pause_ms, 0), MAX_PAUSE_MS) / 1000


@require_GET
async def async_work(request: HttpRequest) -> HttpResponse:
    """An async view: pauses between its events and binds ``job.id`` mid-request.

    ``?job=<id>`` is bound after the first pause; ``?sleep_ms=<n>`` sets each pause (default 5).
    A client disconnect cancels it mid-pause: it logs that and lets the cancellation through.
    """
    if await sync_to_async(_authenticated_user)(request) is None:
        return JsonResponse({"detail": "authentication required"}, status=401)
    pause = _pause_s(request)
    log.info("async.started")
    try:
        await asyncio.sleep(pause)
        otel_context.bind(job__id=request.GET.get("job") or None)
        log.info("async.bound")
        await asyncio.sleep(pause)
    except asyncio.CancelledError:
        log.info("async.cancelled")
        raise
    log.info("async.finished")
    return JsonResponse({"identifiers": otel_context.get_identifiers()})


@require_GET
def chatter(request: HttpRequest) -> HttpResponse:
    """A request of the log-sampling mix (issue 24): ``?lines=`` lines, the last a WARNING.

    ``?sleep_ms=<n>`` pauses after them (slow); ``?fail=1`` then raises (a 500). Anonymous.
    """
    try:
        lines = min(max(int(request.GET.get("lines", "20")), 1), 1000)
    except ValueError:
        lines = 20
    for index in range(lines - 1):
        log.info("chatter.step", index=index)
    log.warning("chatter.done", lines=lines)
    if "sleep_ms" in request.GET:
        time.sleep(_pause_s(request))
    if request.GET.get("fail"):
        msg = "chatter failed on purpose"
        raise RuntimeError(msg)
    return HttpResponse("ok", content_type="text/plain")
