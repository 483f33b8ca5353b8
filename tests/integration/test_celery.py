"""A real Celery worker process: tasks run in their request's trace and with its ids.

One scenario runs once per worker pool against Redis (see ``_broker.py``): three Django
requests each enqueue a task (the third one fails), then a task is enqueued outside any
request. The worker (solo, then prefork with one child) runs them one after the other in
one thread, so a context left behind by one task would show up on the next task's lines or
on the worker's own lines.
The worker writes structlog JSON lines and span JSON lines to files; the producer's spans
are in memory.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from django.test import Client, override_settings
from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import otel_context.celery
from otel_context.propagation import parse_baggage
from tests import celery_app
from tests._servers import read_json_lines

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.integration

REPO_DIR = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0
TASK_TIMEOUT = 15.0
#: What the whole scenario (worker start to worker stop) may take.
SCENARIO_BUDGET = 60.0
IDS = ("correlation.id", "organisation.id", "tenant.id", "order.id")


@dataclass(frozen=True)
class Call:
    """One request that enqueues a task, and the ids it must show on the worker."""

    label: str
    organisation: int
    fail: bool = False

    @property
    def ids(self) -> dict[str, str]:
        return {
            "correlation.id": f"req-{self.label}",
            "organisation.id": str(self.organisation),
            "tenant.id": f"tenant-{self.label}",
            "order.id": f"order-{self.label}",
        }


CALLS = (Call("a", 1), Call("b", 2), Call("c", 3, fail=True))


@dataclass
class Run:
    """Everything the scenario produced."""

    task_ids: dict[str, str] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    producer_spans: list[ReadableSpan] = field(default_factory=list)
    lines: list[dict[str, Any]] = field(default_factory=list)
    spans: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def publish_span(self, label: str) -> ReadableSpan:
        (span,) = (
            s
            for s in self.producer_spans
            if s.attributes and s.attributes.get("messaging.message.id") == self.task_ids[label]
        )
        return span

    def run_span(self, label: str) -> dict[str, Any]:
        (span,) = (
            s
            for s in self.spans
            if s["name"].startswith("run/")
            and s["attributes"].get("messaging.message.id") == self.task_ids[label]
        )
        return span

    def task_lines(self, label: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line.get("label") == label]


def _hex(value: int) -> str:
    return f"0x{value:032x}"


def _wait_for_line(path: Path, event: str, process: subprocess.Popen[bytes], stderr: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not any(line.get("event") == event for line in read_json_lines(path)):
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"Celery worker not ready:\n{stderr.read_text()[-3000:]}")
        time.sleep(0.1)


@contextlib.contextmanager
def running_worker(broker_url: str, queue: str, pool: str, directory: Path) -> Iterator[Path]:
    """A worker (one process or thread of *pool*) consuming *queue*; stopped warm (SIGTERM)."""
    log_file, span_file, stderr = (directory / n for n in ("log.jsonl", "spans.jsonl", "stderr"))
    env = dict(
        os.environ,
        OTEL_CONTEXT_TEST_BROKER_URL=broker_url,
        OTEL_CONTEXT_TEST_LOG_FILE=str(log_file),
        OTEL_CONTEXT_TEST_SPAN_FILE=str(span_file),
    )
    command = [sys.executable, "-m", "celery", "-A", "tests.celery_app", "worker", "-P", pool]
    command += ["-c", "1", "-Q", queue, "-n", f"{queue}@%h", "-l", "INFO"]
    command += ["--without-heartbeat", "--without-gossip", "--without-mingle"]
    with stderr.open("wb") as output:
        process = subprocess.Popen(
            command, cwd=REPO_DIR, env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        _wait_for_line(log_file, "worker.ready", process, stderr)
        yield directory
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _enqueue(client: Client, call: Call) -> str:
    response = client.get(
        f"/orgs/{call.organisation}/enqueue/",
        {
            "label": call.label,
            "order": f"order-{call.label}",
            **({"fail": "1"} if call.fail else {}),
        },
        HTTP_X_REQUEST_ID=f"req-{call.label}",
        HTTP_X_TENANT=f"tenant-{call.label}",
    )
    assert response.status_code == 200, response.content
    return str(response.json()["task_id"])


@contextlib.contextmanager
def producer(broker_url: str, queue: str) -> Iterator[InMemorySpanExporter]:
    """This process as the producer: Django requests traced in memory, Celery instrumented."""
    from opentelemetry.instrumentation.django.middleware.otel_middleware import _DjangoMiddleware

    provider = TracerProvider()
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    app = celery_app.app
    app.conf.update(broker_url=broker_url, result_backend=broker_url, task_default_queue=queue)
    with (
        pytest.MonkeyPatch.context() as patch,
        override_settings(ROOT_URLCONF="tests.celery_app"),
    ):
        patch.setattr(_DjangoMiddleware, "_tracer", provider.get_tracer("django"))
        otel_context.celery.instrument(tracer_provider=provider)
        try:
            yield exporter
        finally:
            otel_context.celery.uninstrument()
            app.close()
            provider.shutdown()


@pytest.fixture(scope="module", params=["solo", "prefork"])
def run(
    request: pytest.FixtureRequest, broker_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Run:
    """Run the scenario once per pool: three requests, then a task outside any request.

    ``solo`` runs tasks in the worker's main thread, ``prefork`` in one forked child.
    """
    queue = f"otel-context-tests-{uuid.uuid4().hex}"  # other test runs may share the broker
    result = Run()
    started = time.monotonic()
    token = context_api.attach(context_api.Context())
    try:
        with (
            producer(broker_url, queue) as exporter,
            running_worker(
                broker_url, queue, request.param, tmp_path_factory.mktemp("worker")
            ) as directory,
        ):
            client = Client()
            for call in CALLS:
                task_id = result.task_ids[call.label] = _enqueue(client, call)
                async_result = celery_app.app.AsyncResult(task_id)
                result.results[call.label] = async_result.get(TASK_TIMEOUT, propagate=False)
            bare = celery_app.record.delay("bare")
            result.task_ids["bare"] = bare.id
            result.results["bare"] = bare.get(TASK_TIMEOUT)
            assert dict(context_api.get_current()) == {}, "the producer leaked a context"
            result.producer_spans = list(exporter.get_finished_spans())
    finally:
        context_api.detach(token)
    result.lines = read_json_lines(directory / "log.jsonl")
    result.spans = read_json_lines(directory / "spans.jsonl")
    result.seconds = time.monotonic() - started
    return result


class TestTaskEvents:
    def test_task_events_carry_the_request_trace_id_and_ids(self, run: Run) -> None:
        """Every event a task logs (also in a child span) has its request's trace and ids."""
        for call in CALLS:
            trace_id = f"{run.publish_span(call.label).context.trace_id:032x}"
            lines = run.task_lines(call.label)
            assert len(lines) == (1 if call.fail else 2), lines
            for line in lines:
                assert line["trace_id"] == trace_id
                assert {key: line.get(key) for key in IDS} == call.ids

    def test_celery_records_inside_the_task_carry_the_ids(self, run: Run) -> None:
        """Celery's own 'succeeded' / 'raised' records are logged inside the task: ids too."""
        for call in CALLS:
            task_id = run.task_ids[call.label]
            outcome = "raised unexpected" if call.fail else "succeeded"
            (line,) = (
                ln
                for ln in run.lines
                if task_id in str(ln.get("event")) and outcome in str(ln.get("event"))
            )
            assert {key: line.get(key) for key in IDS} == call.ids

    def test_the_task_sees_the_ids_and_binds_nothing_else(self, run: Run) -> None:
        """get_identifiers() inside the task is exactly what the request bound."""
        for call in CALLS:
            if not call.fail:
                assert run.results[call.label]["identifiers"] == call.ids


class TestTaskSpans:
    def test_task_span_is_a_child_of_the_publish_span_in_the_request_trace(self, run: Run) -> None:
        """request span -> apply_async span (producer) -> run span (worker), one trace."""
        server_spans = {
            s.context.span_id: s for s in run.producer_spans if s.kind == trace.SpanKind.SERVER
        }
        for call in CALLS:
            publish = run.publish_span(call.label)
            assert publish.parent is not None
            assert publish.parent.span_id in server_spans
            task = run.run_span(call.label)
            assert task["context"]["trace_id"] == _hex(publish.context.trace_id)
            assert task["parent_id"] == f"0x{publish.context.span_id:016x}"

    def test_task_span_has_the_ids_as_attributes(self, run: Run) -> None:
        """The run span carries the identifiers, written when the task starts."""
        for call in CALLS:
            attributes = run.run_span(call.label)["attributes"]
            assert {key: attributes.get(key) for key in IDS} == call.ids

    def test_failed_task_span_is_an_error(self, run: Run) -> None:
        """The instrumentor still records the failure: our handlers do not get in its way."""
        assert run.run_span("c")["status"]["status_code"] == "ERROR"
        assert run.run_span("a")["status"]["status_code"] == "UNSET"


class TestIsolation:
    def test_consecutive_tasks_never_mix_ids(self, run: Run) -> None:
        """Each line with a correlation id has exactly that request's other ids, nothing else."""
        by_correlation = {call.ids["correlation.id"]: call.ids for call in CALLS}
        for line in run.lines:
            cid = line.get("correlation.id")
            if cid in by_correlation:
                assert {key: line.get(key) for key in IDS} == by_correlation[cid], line

    def test_lines_outside_tasks_carry_no_ids(self, run: Run) -> None:
        """Worker start-up, 'Task ... received' and after-task lines: no trace, no ids."""
        outside = [
            line
            for line in run.lines
            if line.get("event") in {"worker.ready", "worker.between_tasks"}
            or str(line.get("event")).endswith(("] received", " ready."))
        ]
        tasks = len(CALLS) + 1
        assert len(outside) == 2 + 2 * tasks, [line["event"] for line in outside]
        for line in outside:
            assert not {"trace_id", "span_id", *IDS} & line.keys(), line

    def test_task_without_a_request_gets_fresh_ids_only(self, run: Run) -> None:
        """A task enqueued outside a request (after a failed one): a new correlation id only."""
        (line, _child) = run.task_lines("bare")
        assert line["correlation.id"] not in {call.ids["correlation.id"] for call in CALLS}
        assert not {"organisation.id", "tenant.id", "order.id"} & line.keys()
        assert line["trace_id"] == run.run_span("bare")["context"]["trace_id"][2:]


class TestMessage:
    def test_only_the_trace_context_and_the_ids_travel(self, run: Run) -> None:
        """Our header holds traceparent + baggage of the ids; Celery's own carries no baggage."""
        result = run.results["a"]
        carrier = result["carrier"]
        assert set(carrier) == {"traceparent", "baggage"}
        assert parse_baggage(carrier["baggage"]) == Call("a", 1).ids
        assert result["baggage_header"] is None  # the outbound policy: unknown destination
        size = len(json.dumps(carrier, separators=(",", ":")).encode())
        assert size < 256, f"carrier of {size} bytes"

    def test_the_scenario_is_bounded_in_time(self, run: Run) -> None:
        """Worker start, four tasks and a warm shutdown stay within the budget."""
        assert run.seconds < SCENARIO_BUDGET
