"""Documented usage of otel_context.task_carrier and .celery; mypy --strict accepts it."""

from __future__ import annotations

import json
from typing import Any

import otel_context.celery
from otel_context import task_carrier as tasks


def enqueue(save_row: Any) -> None:
    """At enqueue time: a small JSON-serialisable carrier, e.g. on the task's row."""
    carrier: dict[str, str] = tasks.capture()
    save_row(trace_context=json.dumps(carrier))


def run_row(row: Any) -> None:
    """A task runner we do not integrate: restore around the task body."""
    with tasks.restore(json.loads(row.trace_context), span_name=row.name) as scope:
        scope.bind({"task.id": row.pk})
        row.run()


@tasks.restored()
def send_mail(to: str) -> str:
    """Enqueued as ``queue.enqueue(send_mail, "a@example.com", otel_context=capture())``."""
    return to


@tasks.restored("trace_context", span_name="import_rows")
async def import_rows(batch: int, trace_context: dict[str, str]) -> int:
    """A coroutine task that also receives its carrier."""
    return batch


def in_a_worker() -> None:
    sent: str = send_mail("a@example.com", otel_context=tasks.capture())
    assert sent
    carried: tasks.Carried = tasks.read({"traceparent": "junk"})
    assert carried.parent is None
    otel_context.celery.instrument()
