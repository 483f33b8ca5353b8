"""django.tasks (Django 6.0+) with the immediate backend: a task keeps its request's ids.

Requests go through the real DjangoInstrumentor middleware to ``tests.djtasks_app``, whose
view enqueues on Django's ``ImmediateBackend``: the task runs inside ``enqueue()``, through
the same ``Task.call`` a database worker uses. On Django 5.2 only :class:`TestWithoutDjangoTasks`
runs: the feature is absent there, without an import error.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

import django
import pytest
from django.test import Client, override_settings
from opentelemetry import trace

from otel_context import task_carrier as tasks
from otel_context.django import tasks as django_tasks
from otel_context.propagation import parse_baggage
from otel_context.scope import RequestScope, current_scope, scoped

if TYPE_CHECKING:
    from collections.abc import Iterator

    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

HAS_TASKS = django.VERSION >= (6, 0)
needs_tasks = pytest.mark.skipif(
    not HAS_TASKS, reason=f"django.tasks needs Django 6.0+ (this is {django.get_version()})"
)
IMMEDIATE = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
IDS = ("correlation.id", "organisation.id", "tenant.id", "order.id")
Events = list[dict[str, object]]


def request_ids(label: str, organisation: int) -> dict[str, str]:
    return {
        "correlation.id": f"req-{label}",
        "organisation.id": str(organisation),
        "tenant.id": f"tenant-{label}",
        "order.id": f"order-{label}",
    }


def enqueue(label: str, organisation: int, *, fail: bool = False) -> dict[str, Any]:
    """One request to the enqueueing view; its JSON answer."""
    response = Client().get(
        f"/orgs/{organisation}/enqueue/",
        {"label": label, "order": f"order-{label}", **({"fail": "1"} if fail else {})},
        headers={"Correlation-Id": f"req-{label}", "X-Tenant": f"tenant-{label}"},
    )
    assert response.status_code == 200, response.content
    return dict(response.json())


def by_name(spans: Any, prefix: str) -> list[ReadableSpan]:
    return [span for span in spans if span.name.startswith(prefix)]


def task_events(events: Events, label: str) -> Events:
    return [event for event in events if event.get("label") == label]


@pytest.fixture
def app() -> Iterator[Any]:
    """``tests.djtasks_app`` as URLconf, the immediate backend as default; instrumented."""
    with override_settings(ROOT_URLCONF="tests.djtasks_app", TASKS=IMMEDIATE):
        from tests import djtasks_app

        assert django_tasks.instrumented()
        yield djtasks_app


class TestWithoutDjangoTasks:
    @pytest.mark.skipif(HAS_TASKS, reason="Django 6.0+ has django.tasks")
    def test_absent_before_django_6_without_an_error(self) -> None:
        """Django 5.2: nothing to instrument, nothing patched, nothing raised at set-up."""
        assert not django_tasks.available()
        assert django_tasks.instrument() is False
        assert not django_tasks.instrumented()
        django_tasks.uninstrument()  # a no-op

    @needs_tasks
    def test_installed_app_instruments_django_tasks(self) -> None:
        """Django 6.0+: the app's ready() (via instrument()) has wrapped Task's methods."""
        from django.tasks import Task

        assert django_tasks.available()
        assert django_tasks.instrumented()
        assert Task.call.__wrapped__ is not None  # type: ignore[attr-defined]


@needs_tasks
@pytest.mark.django_db
@pytest.mark.usefixtures("instrumented")
class TestImmediateBackend:
    def test_task_events_carry_the_request_trace_and_ids(self, app: Any, events: Events) -> None:
        """Every event the task logs (also in a child span) has its request's trace and ids."""
        enqueue("a", 1)
        (view,) = [event for event in events if event["event"] == "view.enqueued"]
        lines = task_events(events, "a")
        assert len(lines) == 2
        for line in lines:
            assert line["trace_id"] == view["trace_id"]
            assert {key: line.get(key) for key in IDS} == request_ids("a", 1)
        assert {key: view.get(key) for key in IDS} == request_ids("a", 1)

    def test_the_task_sees_exactly_the_requests_ids(self, app: Any) -> None:
        """get_identifiers() inside the task is what the request bound, nothing else."""
        answer = enqueue("a", 1)
        assert answer["status"] == "SUCCESSFUL"
        assert answer["return_value"]["identifiers"] == request_ids("a", 1)
        assert answer["identifiers"] == request_ids("a", 1)

    def test_spans_request_then_enqueue_then_run(
        self, app: Any, exporter: InMemorySpanExporter
    ) -> None:
        """request (server) -> enqueue/<task> (producer) -> run/<task> with the ids, one trace."""
        answer = enqueue("a", 1)
        spans = exporter.get_finished_spans()
        (server,) = [span for span in spans if span.kind == trace.SpanKind.SERVER]
        (producer,) = by_name(spans, "enqueue/tests.djtasks_app.record")
        (run,) = by_name(spans, "run/tests.djtasks_app.record")
        assert producer.kind == trace.SpanKind.PRODUCER
        assert producer.parent is not None
        assert producer.parent.span_id == server.context.span_id
        assert producer.attributes is not None
        assert producer.attributes["messaging.message.id"] == answer["task_id"]
        assert run.parent is not None
        assert run.parent.span_id == producer.context.span_id
        assert run.context.trace_id == server.context.trace_id
        assert run.attributes is not None
        assert {key: run.attributes.get(key) for key in IDS} == request_ids("a", 1)

    def test_a_failing_task_is_recorded_and_leaves_the_request_intact(
        self, app: Any, events: Events, exporter: InMemorySpanExporter
    ) -> None:
        """The task fails, its span is an error; the request's later lines keep its own ids."""
        answer = enqueue("c", 3, fail=True)
        assert answer["status"] == "FAILED"
        (run,) = by_name(exporter.get_finished_spans(), "run/tests.djtasks_app.fail")
        assert run.status.status_code == trace.StatusCode.ERROR
        (line,) = task_events(events, "c")
        assert {key: line.get(key) for key in IDS} == request_ids("c", 3)
        (view,) = [event for event in events if event["event"] == "view.enqueued"]
        assert {key: view.get(key) for key in IDS} == request_ids("c", 3)
        assert current_scope() is None

    def test_an_enqueue_django_refuses_raises_as_before(
        self, app: Any, exporter: InMemorySpanExporter
    ) -> None:
        """Arguments that are no JSON: Django's error reaches the caller, the span records it."""
        with pytest.raises(TypeError):
            app.record.enqueue(object())
        (producer,) = by_name(exporter.get_finished_spans(), "enqueue/")
        assert producer.status.status_code == trace.StatusCode.ERROR
        assert not by_name(exporter.get_finished_spans(), "run/")

    def test_consecutive_tasks_never_mix_ids(self, app: Any, events: Events) -> None:
        """Two requests, two tasks, one thread: each task's lines have only its request's ids."""
        enqueue("a", 1)
        enqueue("b", 2)
        for label, organisation in (("a", 1), ("b", 2)):
            lines = task_events(events, label)
            assert len(lines) == 2
            for line in lines:
                assert {key: line.get(key) for key in IDS} == request_ids(label, organisation)
        assert len({event["trace_id"] for event in events}) == 2
        assert current_scope() is None

    def test_the_task_function_never_sees_the_carrier(self, app: Any) -> None:
        """The carrier is in the stored kwargs (it must travel) but not in the call."""
        with (
            trace.get_tracer("tests").start_as_current_span("GET /") as span,
            scoped(RequestScope(span), correlation__id="req-1", user__id="7"),
        ):
            result = app.record.enqueue("a")
        assert result.return_value["identifiers"] == {"correlation.id": "req-1", "user.id": "7"}
        carrier = result.kwargs[tasks.CARRIER_KEY]
        assert set(carrier) == {"traceparent", "baggage"}
        assert parse_baggage(carrier["baggage"]) == {"correlation.id": "req-1", "user.id": "7"}
        assert len(json.dumps(carrier, separators=(",", ":"))) < 256

    def test_a_task_that_declares_the_keyword_receives_the_carrier(self, app: Any) -> None:
        """A parameter named like the carrier keyword gets it, as with tasks.restored()."""
        with trace.get_tracer("tests").start_as_current_span("GET /"):
            result = app.wants_carrier.enqueue("a")
        assert set(result.return_value["carrier"]) == {"traceparent"}

    def test_coroutine_tasks_and_aenqueue(self, app: Any) -> None:
        """An async task, enqueued from async code: the ids travel too."""

        async def produce() -> Any:
            with scoped(RequestScope(trace.get_current_span()), correlation__id="req-async"):
                return await app.record_async.aenqueue("x")

        result = asyncio.run(produce())
        assert result.return_value["identifiers"] == {"correlation.id": "req-async"}

    def test_outside_a_request_the_task_gets_a_fresh_correlation_id_only(
        self, app: Any, exporter: InMemorySpanExporter
    ) -> None:
        """Enqueued by a script: a generated correlation id, no other ids, a new trace."""
        first = app.record.enqueue("x").return_value["identifiers"]
        second = app.record.enqueue("y").return_value["identifiers"]
        assert set(first) == set(second) == {"correlation.id"}
        assert first != second
        runs = by_name(exporter.get_finished_spans(), "run/")
        assert len({span.context.trace_id for span in runs}) == 2


@needs_tasks
@pytest.mark.usefixtures("instrumented")
class TestCarriers:
    def test_a_direct_call_inside_a_scope_keeps_that_scope(self, app: Any) -> None:
        """Task.call() without a carrier inside a request: nothing restored, the ids stay."""
        with scoped(RequestScope(trace.get_current_span()), correlation__id="req-1"):
            assert app.record.call("a")["identifiers"] == {"correlation.id": "req-1"}

    def test_no_carrier_outside_a_scope_is_a_new_unit_of_work(self, app: Any) -> None:
        """A task enqueued without otel_context (an older producer): its own correlation id."""
        ids = app.record.call("a")["identifiers"]
        assert set(ids) == {"correlation.id"}
        assert current_scope() is None

    @pytest.mark.parametrize(
        "carrier",
        [
            "user.id=42\r\nX-Evil: 1",
            ["traceparent", "baggage"],
            {"baggage": "user.id=7%0D%0AX-Evil%3A%201,correlation.id=%3Cscript%3E"},
            {"traceparent": "00-zz-zz-01", "tracestate": "\x00" * 600},
            {"baggage": "user.id=" + "7" * 9000},
        ],
    )
    def test_a_tampered_carrier_is_sanitised(self, app: Any, carrier: object) -> None:
        """A worker reading a forged carrier: a generated correlation id and nothing else."""
        ids = app.record.call("a", **{tasks.CARRIER_KEY: carrier})["identifiers"]
        assert set(ids) == {"correlation.id"}
        assert ids["correlation.id"].isalnum()

    def test_a_task_that_takes_context_gets_it_and_the_ids(self, app: Any) -> None:
        """takes_context=True: the TaskContext comes first, the carrier is still taken off."""
        with scoped(RequestScope(trace.get_current_span()), correlation__id="req-1"):
            result = app.with_context.enqueue("a")
        assert result.return_value == {"attempt": 1, "identifiers": {"correlation.id": "req-1"}}

    def test_a_carrier_of_an_older_version_keeps_what_it_can(self, app: Any) -> None:
        """Unknown entries (e.g. a whole contextvars dict) are ignored; the known ones used."""
        carrier = {"baggage": "user.id=7", "contextvars": {"user.id": "99", "x": "y"}}
        ids = app.record.call("a", **{tasks.CARRIER_KEY: carrier})["identifiers"]
        assert ids["user.id"] == "7"
        assert set(ids) == {"correlation.id", "user.id"}

    def test_a_failing_restore_still_runs_the_task(
        self, app: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        """An internal error restoring the context is logged; the task runs, without ids."""

        def broken(*args: object, **kwargs: object) -> Any:
            msg = "boom"
            raise RuntimeError(msg)

        monkeypatch.setattr(tasks, "restore", broken)
        result = app.record.call("a", **{tasks.CARRIER_KEY: {}})
        assert result["identifiers"] == {}
        assert "restoring the task context failed" in caplog.text


@needs_tasks
class TestInstrument:
    def test_uninstrument_restores_django_and_instrument_again_is_idempotent(
        self, app: Any
    ) -> None:
        """uninstrument() puts Task's methods back; instrument() twice wraps once."""
        from django.tasks import Task

        wrapped = Task.call
        django_tasks.uninstrument()
        try:
            assert not django_tasks.instrumented()
            assert not hasattr(Task.call, "__wrapped__")
            assert app.record.enqueue("a").kwargs == {}
        finally:
            assert django_tasks.instrument() is True
            assert django_tasks.instrument() is True
        assert Task.call.__wrapped__ is wrapped.__wrapped__  # type: ignore[attr-defined]

    def test_zero_code_post_instrument_instruments_django_tasks(self, app: Any) -> None:
        """opentelemetry-instrument without the app in INSTALLED_APPS: tasks carry ids too."""
        from otel_context.django.instrumentation import post_instrument

        django_tasks.uninstrument()
        try:
            post_instrument()
            assert django_tasks.instrumented()
            assert tasks.CARRIER_KEY in app.record.enqueue("a").kwargs
        finally:
            django_tasks.instrument()

    def test_a_failing_instrument_is_logged_not_raised(
        self, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        """An unexpected django.tasks shape: logged, False, nothing half-patched."""
        django_tasks.uninstrument()
        try:
            monkeypatch.delattr("django.tasks.Task.acall")
            assert django_tasks.instrument() is False
            assert not django_tasks.instrumented()
            assert "instrumenting django.tasks failed" in caplog.text
        finally:
            monkeypatch.undo()
            assert django_tasks.instrument() is True
