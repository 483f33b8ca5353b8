"""A real Celery worker follows its request's log sampling (issue 24): same trace, same choice.

``UNSAMPLED_LOG_RATIO`` 0.5 in the producer (Django requests through the test client) and in
a real worker (``-P solo``, Redis broker, see ``test_celery.py``). Three requests enqueue a
task each: one sampled, one sampled out whose trace id :func:`trace_keeps` keeps at 0.5, one
it does not. The task continues its request's trace (``traceparent`` in the message, with its
``sampled`` flag), so the worker, keyed on the same trace id, decides as the request did: the
request that wrote its ``INFO`` line has its task's lines written too, the other has neither.
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
from otel_context.log_sampling import trace_keeps
from tests import celery_app
from tests._servers import read_json_lines
from tests.integration.test_celery import TASK_TIMEOUT, producer, running_worker

pytestmark = pytest.mark.integration

RATIO = 0.5


def trace_id_where(*, kept: bool) -> str:
    """A random trace id that the ratio keeps (or drops)."""
    while True:
        trace_id = secrets.token_hex(16)
        if trace_keeps(int(trace_id, 16), RATIO) is kept:
            return trace_id


#: label -> (trace id, sampled, lines written?)
CASES = {
    "sampled": (secrets.token_hex(16), True, True),
    "kept": (trace_id_where(kept=True), False, True),
    "dropped": (trace_id_where(kept=False), False, False),
}


@pytest.fixture(scope="module")
def scenario(
    broker_url: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The producer's events and the worker's lines, after the three requests and tasks."""
    queue = f"otel-context-tests-{uuid.uuid4().hex}"
    capture = LogCapture()
    token = context_api.attach(context_api.Context())
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OTEL_CONTEXT_UNSAMPLED_LOG_RATIO", str(RATIO))  # the worker's too
        conf.configure()
        structlog.configure(
            processors=[LogSamplingProcessor(), StructlogOTelProcessor(), capture],
            cache_logger_on_first_use=False,
        )
        try:
            with (
                producer(broker_url, queue),
                running_worker(broker_url, queue, "solo", tmp_path_factory.mktemp("w")) as where,
            ):
                for label, (trace_id, sampled, _written) in CASES.items():
                    response = Client().get(
                        "/orgs/1/enqueue/",
                        {"label": label},
                        HTTP_TRACEPARENT=f"00-{trace_id}-{secrets.token_hex(8)}-0{int(sampled)}",
                    )
                    assert response.status_code == 200, response.content
                    task_id = response.json()["task_id"]
                    celery_app.app.AsyncResult(task_id).get(TASK_TIMEOUT)
                time.sleep(0.2)  # the last task's lines are written before its result is
        finally:
            structlog.reset_defaults()
            context_api.detach(token)
            conf.configure()
    return capture.entries, read_json_lines(where / "log.jsonl")


def test_the_worker_decides_as_the_request_did(
    scenario: tuple[list[dict[str, Any]], list[dict[str, Any]]],
) -> None:
    """Per request: its INFO line and its task's INFO lines are both written, or neither."""
    events, lines = scenario
    for label, (trace_id, _sampled, written) in CASES.items():
        request = [e for e in events if e.get("trace_id") == trace_id]
        task = [line["event"] for line in lines if line.get("trace_id") == trace_id]
        request_info = [e["event"] for e in request if e["event"] == "view.enqueued"]
        assert bool(request_info) is written, (label, request)
        task_info = [event for event in task if event in {"task.ran", "task.child"}]
        assert task_info == (["task.ran", "task.child"] if written else []), (label, task)


def test_celery_warnings_and_own_records_still_come(
    scenario: tuple[list[dict[str, Any]], list[dict[str, Any]]],
) -> None:
    """The policy drops the chatter only: the dropped task still ran and Celery said so."""
    _events, lines = scenario
    trace_id = CASES["dropped"][0]
    succeeded = [
        line for line in lines if line.get("trace_id") == trace_id and "succeeded" in line["event"]
    ]
    assert len(succeeded) == 1
