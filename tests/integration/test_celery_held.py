"""A real Celery worker holds a sampled-out task's lines (``HOLD_LINES``): written if it failed.

``UNSAMPLED_LOG_RATIO`` 0 and ``HOLD_LINES`` on in the producer and in a real worker (``-P
solo``, see ``test_celery.py``), whose structlog chain ends in ``FlightRecorder``. Two requests
of sampled-out traces each enqueue a task: one succeeds, one raises. The worker drops the first
task's ``INFO`` lines and writes the failing one's, marked as held, with the request's ids.
"""

from __future__ import annotations

import secrets
import time
import uuid
from typing import Any

import pytest
import structlog
from django.test import Client
from opentelemetry import context as context_api
from structlog.testing import LogCapture

from otel_context import LogSamplingProcessor, StructlogOTelProcessor, conf
from tests import celery_app
from tests._servers import read_json_lines
from tests.integration.test_celery import TASK_TIMEOUT, producer, running_worker

pytestmark = pytest.mark.integration

#: label -> whether its task raises
TASKS = {"fine": False, "failing": True}
#: The producer's and the worker's settings (environment): every trace's chatter dropped or held.
HOLDING = {"UNSAMPLED_LOG_RATIO": "0", "HOLD_LINES": "true", "HOLD_SLOW_MS": "0"}


@pytest.fixture(scope="module")
def worker_lines(broker_url: str, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The worker's lines, after both requests and tasks."""
    queue = f"otel-context-tests-{uuid.uuid4().hex}"
    token = context_api.attach(context_api.Context())
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "UNSAMPLED_LOG_RATIO": "0",
            "HOLD_LINES": "true",
            "HOLD_SLOW_MS": "0",
        }.items():
            patch.setenv(f"OTEL_CONTEXT_{name}", value)  # the worker's too
        conf.configure()
        structlog.configure(
            processors=[LogSamplingProcessor(), StructlogOTelProcessor(), LogCapture()],
            cache_logger_on_first_use=False,
        )
        try:
            with (
                producer(broker_url, queue),
                running_worker(broker_url, queue, "solo", tmp_path_factory.mktemp("w")) as where,
            ):
                for label, fails in TASKS.items():
                    response = Client().get(
                        "/orgs/7/enqueue/",
                        {"label": label, **({"fail": "1"} if fails else {})},
                        HTTP_TRACEPARENT=f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-00",
                    )
                    assert response.status_code == 200, response.content
                    result = celery_app.app.AsyncResult(response.json()["task_id"])
                    result.get(TASK_TIMEOUT, propagate=False)
                time.sleep(0.2)  # the last task's lines are written before its result is
        finally:
            structlog.reset_defaults()
            context_api.detach(token)
            conf.configure()
    return read_json_lines(where / "log.jsonl")


def test_the_failing_task_writes_its_held_lines_with_the_ids(
    worker_lines: list[dict[str, Any]],
) -> None:
    """The task that raised: its INFO line written at its end, marked, with the request's ids."""
    (line,) = [line for line in worker_lines if line["event"] == "task.failing"]
    assert line["log.held"] is True
    assert line["log.held.written"] == "error"
    assert line["organisation.id"] == "7"
    assert line["trace_sampled"] is False


def test_the_fine_task_drops_them(worker_lines: list[dict[str, Any]]) -> None:
    """The task that succeeded: its INFO lines held, then dropped; Celery's own lines still come."""
    fine = [line for line in worker_lines if line.get("label") == "fine"]
    assert fine == []
    assert any("succeeded" in line["event"] for line in worker_lines)
