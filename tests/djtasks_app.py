"""Tasks of Django's task framework (Django 6.0+ only), and the view that enqueues them.

Imported only where ``django.tasks`` exists. The view binds an application id, enqueues
:func:`record` (or :func:`fail`) on the configured default backend and answers with the task
result's id and stored keyword arguments. It is the ``ROOT_URLCONF`` of the unit tests and
of ``tests.djtasks_settings``.
"""

from __future__ import annotations

import structlog
from django.http import HttpRequest, JsonResponse
from django.tasks import TaskContext, task
from django.urls import path
from opentelemetry import trace

import otel_context

log = structlog.get_logger("tests.djtasks_app")


@task
def record(label: str) -> dict[str, object]:
    """Log an event, and one in a child span; return the identifiers the task sees."""
    log.info("task.ran", label=label)
    with trace.get_tracer("tests").start_as_current_span("task.child"):
        log.info("task.child", label=label)
    return {"identifiers": otel_context.get_identifiers()}


@task
async def record_async(label: str) -> dict[str, object]:
    """The coroutine flavour of :func:`record` (without the child span)."""
    log.info("task.ran", label=label)
    return {"identifiers": otel_context.get_identifiers()}


@task
def fail(label: str) -> None:
    """Log an event, then raise: the failure path must detach the task's context too."""
    log.info("task.failing", label=label)
    msg = "task failed on purpose"
    raise RuntimeError(msg)


@task
def wants_carrier(label: str, otel_context: object = None) -> dict[str, object]:
    """A task that declares the carrier's keyword: it receives it."""
    return {"carrier": otel_context}


@task(takes_context=True)
def with_context(context: TaskContext, label: str) -> dict[str, object]:
    """A task that takes Django's task context as its first argument."""
    return {"attempt": context.attempt, "identifiers": otel_context.get_identifiers()}


def enqueue(request: HttpRequest, organisation_pk: int) -> JsonResponse:
    """Bind an application id, then enqueue :func:`record` (or :func:`fail`)."""
    otel_context.bind(order__id=request.GET.get("order"))
    chosen = fail if request.GET.get("fail") else record
    result = chosen.enqueue(request.GET.get("label", ""))
    log.info("view.enqueued", task_id=result.id)
    return JsonResponse(
        {
            "task_id": result.id,
            "kwargs": result.kwargs,
            "status": str(result.status),
            "return_value": result.return_value if result.status == "SUCCESSFUL" else None,
            "identifiers": otel_context.get_identifiers(),
        }
    )


urlpatterns = [path("orgs/<int:organisation_pk>/enqueue/", enqueue)]
