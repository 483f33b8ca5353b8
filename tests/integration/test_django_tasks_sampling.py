"""A real django.tasks worker follows its request's log sampling (issue 24): one trace, one choice.

Django 6.0+ only; the processes of ``test_django_tasks.py`` (a django-tasks-db ``db_worker``
on a throw-away PostgreSQL, and a producer sending requests through Django's test client),
both with ``UNSAMPLED_LOG_RATIO`` 0.5 and ``LogSamplingProcessor`` first in their chain. Three
requests enqueue a task each: one sampled, one sampled out whose trace id :func:`trace_keeps`
keeps at 0.5, one it does not. The task row carries its request's ``traceparent`` with the
``sampled`` flag, so the worker, keyed on the same trace id, decides as the request did: the
request that wrote its ``INFO`` line has its task's ``INFO`` lines written too, the other has
neither. As ``test_celery_sampling.py`` does for a real Celery worker.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import django
import pytest

from otel_context.log_sampling import trace_keeps
from tests._servers import read_json_lines
from tests.integration.test_django_tasks import (
    REPO_DIR,
    SCENARIO_BUDGET,
    _env,
    _migrate,
    _wait_for_worker,
    postgres,
)

if TYPE_CHECKING:
    from tests.integration._postgres import Postgres

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        django.VERSION < (6, 0),
        reason=f"django.tasks needs Django 6.0+ (this is {django.get_version()})",
    ),
]
__all__ = ["postgres"]  # the fixture, shared with test_django_tasks.py

RATIO = "0.5"


def trace_id_where(*, kept: bool) -> str:
    """A random trace id that the ratio keeps (or drops)."""
    while True:
        trace_id = secrets.token_hex(16)
        if trace_keeps(int(trace_id, 16), float(RATIO)) is kept:
            return trace_id


#: label -> (trace id, sampled, INFO lines written?)
CASES = {
    "sampled": (secrets.token_hex(16), True, True),
    "kept": (trace_id_where(kept=True), False, True),
    "dropped": (trace_id_where(kept=False), False, False),
}


def _sampled_env(postgres: Postgres, directory: Path) -> dict[str, str]:
    return {**_env(postgres, directory), "OTEL_CONTEXT_UNSAMPLED_LOG_RATIO": RATIO}


@pytest.fixture(scope="module")
def lines(
    postgres: Postgres, tmp_path_factory: pytest.TempPathFactory
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int]:
    """The producer's lines, the worker's lines and its exit code, after the three tasks."""
    worker_dir, producer_dir = (tmp_path_factory.mktemp(name) for name in ("worker", "producer"))
    _migrate(_sampled_env(postgres, worker_dir))
    command = [sys.executable, "-m", "tests.djtasks_process", "worker"]
    command += ["--max-tasks", str(len(CASES)), "--interval", "0.1", "--no-startup-delay"]
    with (worker_dir / "stderr").open("wb") as stderr:
        worker = subprocess.Popen(
            [*command, "--no-reload"],
            cwd=REPO_DIR,
            env=_sampled_env(postgres, worker_dir),
            stdout=stderr,
            stderr=stderr,
        )
    try:
        _wait_for_worker(worker_dir, worker)
        parents = {
            label: f"00-{trace_id}-{secrets.token_hex(8)}-0{int(sampled)}"
            for label, (trace_id, sampled, _written) in CASES.items()
        }
        produce = [sys.executable, "-m", "tests.djtasks_process", "produce-traced"]
        produce += [str(producer_dir / "answers.json"), json.dumps(parents)]
        done = subprocess.run(
            produce,
            cwd=REPO_DIR,
            env=_sampled_env(postgres, producer_dir),
            capture_output=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr.decode()[-3000:]
        exit_code = worker.wait(timeout=SCENARIO_BUDGET)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    producer = read_json_lines(producer_dir / "log.jsonl")
    return producer, read_json_lines(worker_dir / "log.jsonl"), exit_code


def test_the_worker_decides_as_the_request_did(
    lines: tuple[list[dict[str, Any]], list[dict[str, Any]], int],
) -> None:
    """Per request: its INFO line and its task's INFO lines are both written, or neither."""
    producer, worker, _exit_code = lines
    for label, (trace_id, _sampled, written) in CASES.items():
        request = [line["event"] for line in producer if line.get("trace_id") == trace_id]
        assert ("view.enqueued" in request) is written, (label, request)
        task = [line["event"] for line in worker if line.get("trace_id") == trace_id]
        expected = ["task.ran", "task.child"] if written else []
        assert [event for event in task if event.startswith("task.")] == expected, (label, task)


def test_every_task_ran(lines: tuple[list[dict[str, Any]], list[dict[str, Any]], int]) -> None:
    """The dropped task's lines are gone, not the task: the worker ran all three and exited."""
    _producer, worker, exit_code = lines
    assert exit_code == 0
    finished = [line for line in worker if line.get("event") == "worker.between_tasks"]
    assert len(finished) == len(CASES)
