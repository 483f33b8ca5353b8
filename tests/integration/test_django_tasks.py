"""A real django-tasks-db worker on PostgreSQL: django.tasks tasks keep their request's ids.

Django 6.0+ only. A throw-away PostgreSQL cluster (``_postgres.py``) is migrated, then a
``db_worker`` process (one thread, ``--max-tasks 4``) waits for tasks while a producer
process sends three requests whose views enqueue a task each (the third fails) and enqueues
a fourth task outside any request. Both processes write their log lines and spans as JSON
lines (``tests/djtasks_process.py``). The worker runs the tasks one after the other in one
thread, so a context one task left behind would show on the next task's or the worker's
lines.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import django
import pytest

from otel_context.propagation import parse_baggage
from tests._servers import read_json_lines

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.integration._postgres import Postgres

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(
        django.VERSION < (6, 0),
        reason=f"django.tasks needs Django 6.0+ (this is {django.get_version()})",
    ),
]

REPO_DIR = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0
#: What the worker may take, from the producer's first request to its exit after 4 tasks.
SCENARIO_BUDGET = 60.0
IDS = ("correlation.id", "organisation.id", "tenant.id", "order.id")
CALLS = {"a": 1, "b": 2, "c": 3}


def request_ids(label: str) -> dict[str, str]:
    return {
        "correlation.id": f"req-{label}",
        "organisation.id": str(CALLS[label]),
        "tenant.id": f"tenant-{label}",
        "order.id": f"order-{label}",
    }


@dataclass
class Run:
    """What the producer answered, and what both processes logged and traced."""

    answers: dict[str, Any]
    producer_spans: list[dict[str, Any]]
    lines: list[dict[str, Any]]
    spans: list[dict[str, Any]]
    seconds: float
    exit_code: int
    ids: dict[str, str] = field(init=False)

    def __post_init__(self) -> None:
        self.ids = {label: answer["task_id"] for label, answer in self.answers.items()}

    def enqueue_span(self, label: str) -> dict[str, Any]:
        (span,) = (
            s
            for s in self.producer_spans
            if s["name"].startswith("enqueue/")
            and s["attributes"].get("messaging.message.id") == self.ids[label]
        )
        return span

    def run_span(self, label: str) -> dict[str, Any]:
        """The worker's run span of *label*'s task: the one its task lines were logged in."""
        span_ids = {f"0x{line['span_id']}" for line in self.task_lines(label)}
        matches = [s for s in self.spans if s["name"].startswith("run/")]
        (span,) = (s for s in matches if s["context"]["span_id"] in span_ids)
        return span

    def task_lines(self, label: str) -> list[dict[str, Any]]:
        return [
            line
            for line in self.lines
            if line.get("label") == label and line.get("event") != "task.child"
        ]


@pytest.fixture(scope="module")
def postgres() -> Iterator[Postgres]:
    """A private PostgreSQL server; skipped (failed under CI=true) without one or the extra."""
    from tests.integration._postgres import postgres_server, unavailable

    for module, package in (("django_tasks_db", "django-tasks-db"), ("psycopg", "psycopg")):
        if importlib.util.find_spec(module) is None:
            unavailable(f"{package} is not installed (extra [django-tasks])")

    with postgres_server() as server:
        yield server


def _env(postgres: Postgres, directory: Path) -> dict[str, str]:
    return dict(
        os.environ,
        **postgres.env(),
        DJANGO_SETTINGS_MODULE="tests.djtasks_settings",
        OTEL_CONTEXT_TEST_LOG_FILE=str(directory / "log.jsonl"),
        OTEL_CONTEXT_TEST_SPAN_FILE=str(directory / "spans.jsonl"),
    )


def _migrate(env: dict[str, str]) -> None:
    command = [sys.executable, "-m", "django", "migrate", "--no-input", "-v", "0"]
    done = subprocess.run(command, cwd=REPO_DIR, env=env, capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode()[-3000:]


def _wait_for_worker(directory: Path, worker: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    log_file = directory / "log.jsonl"
    while not any("Starting worker" in str(ln.get("event")) for ln in read_json_lines(log_file)):
        if worker.poll() is not None or time.monotonic() > deadline:
            worker.kill()
            pytest.fail(f"db_worker not ready:\n{(directory / 'stderr').read_text()[-3000:]}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def run(postgres: Postgres, tmp_path_factory: pytest.TempPathFactory) -> Run:
    """Migrate, start the worker, produce four tasks; wait for the worker to run them and exit."""
    worker_dir, producer_dir = (tmp_path_factory.mktemp(name) for name in ("worker", "producer"))
    _migrate(_env(postgres, worker_dir))
    command = [sys.executable, "-m", "tests.djtasks_process", "worker"]
    command += ["--max-tasks", "4", "--interval", "0.1", "--no-startup-delay", "--no-reload"]
    with (worker_dir / "stderr").open("wb") as stderr:
        worker = subprocess.Popen(
            command, cwd=REPO_DIR, env=_env(postgres, worker_dir), stdout=stderr, stderr=stderr
        )
    try:
        _wait_for_worker(worker_dir, worker)
        started = time.monotonic()
        answers = producer_dir / "answers.json"
        produce = [sys.executable, "-m", "tests.djtasks_process", "produce", str(answers)]
        done = subprocess.run(
            produce,
            cwd=REPO_DIR,
            env=_env(postgres, producer_dir),
            capture_output=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr.decode()[-3000:]
        exit_code = worker.wait(timeout=SCENARIO_BUDGET)
        seconds = time.monotonic() - started
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    return Run(
        answers=json.loads(answers.read_text()),
        producer_spans=read_json_lines(producer_dir / "spans.jsonl"),
        lines=read_json_lines(worker_dir / "log.jsonl"),
        spans=read_json_lines(worker_dir / "spans.jsonl"),
        seconds=seconds,
        exit_code=exit_code,
    )


class TestTaskEvents:
    def test_task_events_carry_the_request_trace_and_ids(self, run: Run) -> None:
        """Every event a task logs (also in a child span) has its request's trace and ids."""
        for label in CALLS:
            trace_id = run.enqueue_span(label)["context"]["trace_id"][2:]
            lines = [line for line in run.lines if line.get("label") == label]
            assert len(lines) == (1 if label == "c" else 2), lines
            for line in lines:
                assert line["trace_id"] == trace_id
                assert {key: line.get(key) for key in IDS} == request_ids(label)

    def test_the_worker_ran_every_task_and_exited(self, run: Run) -> None:
        """Four tasks, the third failed; the worker stopped by itself after --max-tasks 4."""
        assert run.exit_code == 0
        states = [
            str(line["event"]).rsplit("state=", 1)[1]
            for line in run.lines
            if line.get("logger") == "django.tasks" and "state=" in str(line["event"])
        ]
        assert sorted(states) == sorted(["RUNNING"] * 4 + ["SUCCESSFUL"] * 3 + ["FAILED"])


class TestTaskSpans:
    def test_run_span_is_a_child_of_the_enqueue_span_in_the_request_trace(self, run: Run) -> None:
        """request span -> enqueue/<task> (producer) -> run/<task> (worker), one trace."""
        servers = {
            s["context"]["span_id"] for s in run.producer_spans if s["kind"] == "SpanKind.SERVER"
        }
        for label in CALLS:
            enqueue = run.enqueue_span(label)
            assert enqueue["kind"] == "SpanKind.PRODUCER"
            assert enqueue["parent_id"] in servers
            task = run.run_span(label)
            assert task["context"]["trace_id"] == enqueue["context"]["trace_id"]
            assert task["parent_id"] == enqueue["context"]["span_id"]

    def test_run_span_has_the_ids_as_attributes(self, run: Run) -> None:
        """The run span carries the identifiers, written when the task starts."""
        for label in CALLS:
            attributes = run.run_span(label)["attributes"]
            assert {key: attributes.get(key) for key in IDS} == request_ids(label)

    def test_failed_task_span_is_an_error(self, run: Run) -> None:
        """The task's exception is recorded on its span; a successful one is not an error."""
        assert run.run_span("c")["status"]["status_code"] == "ERROR"
        assert run.run_span("a")["status"]["status_code"] == "UNSET"


class TestIsolation:
    def test_consecutive_tasks_never_mix_ids(self, run: Run) -> None:
        """Each line with a request's correlation id has exactly that request's other ids."""
        by_correlation = {f"req-{label}": request_ids(label) for label in CALLS}
        seen = set()
        for line in run.lines:
            cid = line.get("correlation.id")
            if cid in by_correlation:
                seen.add(cid)
                assert {key: line.get(key) for key in IDS} == by_correlation[cid], line
        assert seen == set(by_correlation)

    def test_lines_outside_tasks_carry_no_ids(self, run: Run) -> None:
        """Worker start-up, Django's started/finished records, after-task lines: no ids."""
        outside = [
            line
            for line in run.lines
            if line.get("event") == "worker.between_tasks"
            or line.get("logger") in {"django.tasks", "django_tasks_db"}
        ]
        assert len(outside) >= 1 + 3 * 4, [line.get("event") for line in outside]
        for line in outside:
            assert not {"trace_id", "span_id", *IDS} & line.keys(), line

    def test_task_without_a_request_gets_a_fresh_correlation_id_only(self, run: Run) -> None:
        """Enqueued outside a request: a new correlation id, no other ids, its own trace."""
        (line,) = run.task_lines("bare")
        assert line["correlation.id"] not in {f"req-{label}" for label in CALLS}
        assert not {"organisation.id", "tenant.id", "order.id"} & line.keys()
        request_traces = {run.enqueue_span(label)["context"]["trace_id"] for label in CALLS}
        assert run.run_span("bare")["context"]["trace_id"] not in request_traces


class TestStoredTask:
    def test_only_the_trace_context_and_the_ids_are_stored(self, run: Run) -> None:
        """The task row's kwargs hold the carrier: traceparent + baggage of the ids, < 256 B."""
        carrier = run.answers["a"]["kwargs"]["otel_context"]
        assert set(carrier) == {"traceparent", "baggage"}
        assert parse_baggage(carrier["baggage"]) == request_ids("a")
        size = len(json.dumps(carrier, separators=(",", ":")).encode())
        assert size < 256, f"carrier of {size} bytes"

    def test_the_scenario_is_bounded_in_time(self, run: Run) -> None:
        """Four requests' tasks through PostgreSQL and a polling worker stay within the budget."""
        assert run.seconds < SCENARIO_BUDGET
