"""otel_context.celery in one process: the header on publish, the scope around the task body.

Tasks run through ``celery.app.trace.build_tracer``, the function a worker runs each task
with, so the real ``task_prerun`` / ``task_failure`` / ``task_postrun`` signals fire in the
real order; messages go to Celery's in-memory transport. The real worker process is in
``tests/integration/test_celery.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from typing import TYPE_CHECKING, Any

import pytest
import structlog
from celery import Celery, signals
from celery.app.trace import build_tracer
from celery.exceptions import Retry
from opentelemetry import baggage, trace
from opentelemetry import context as context_api
from opentelemetry.instrumentation.celery import CeleryInstrumentor

import otel_context
import otel_context.celery
import otel_context.celery.hooks
from otel_context import conf, flight_recorder
from otel_context import task_carrier as tasks
from otel_context.propagation import parse_baggage
from otel_context.scope import RequestScope, scoped
from tests._logging import holding_logger

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

IDS = {"correlation.id": "req-1", "user.id": "42", "organisation.id": "7"}


@pytest.fixture
def app() -> Iterator[Celery]:
    """A Celery app on the in-memory transport, current (the instrumentor looks tasks up)."""
    celery = Celery("unit", broker="memory://", set_as_current=True)
    celery.conf.update(task_ignore_result=True, task_default_queue="unit")
    yield celery
    celery.close()


@pytest.fixture
def job(app: Celery) -> Any:
    """A task whose body is whatever the test sets as ``job.body``."""

    @app.task(name="unit.job", bind=True, shared=False)
    def run(self: Any) -> object:
        return self.body()

    run.body = lambda: None
    return run


@pytest.fixture
def instrumented_celery(provider: TracerProvider) -> Iterator[TracerProvider]:
    otel_context.celery.instrument(tracer_provider=provider)
    yield provider
    otel_context.celery.uninstrument()


def run_in_worker(job: Any, body: Callable[[], object], **headers: object) -> Any:
    """Run *job* as a worker does, with message *headers*; return what *body* returned."""
    seen: list[object] = []

    def record() -> object:
        seen.append(body())
        return None

    job.body = record
    task_id = uuid.uuid4().hex
    build_tracer(job.name, job, eager=False, app=job.app)(
        task_id, (), {}, {"id": task_id, **headers}
    )
    return seen[0] if seen else None


def inside() -> dict[str, object]:
    span = trace.get_current_span()
    return {"ids": otel_context.get_identifiers(), "span": getattr(span, "name", None)}


def published_headers(app: Celery) -> dict[str, Any]:
    with app.connection_for_read() as connection:
        message = connection.SimpleQueue("unit").get(timeout=1)
        message.ack()
        return dict(message.headers)


def _receivers(signal: Any) -> list[Any]:
    return list(signal._live_receivers(None))


@pytest.mark.usefixtures("instrumented_celery")
class TestInstrument:
    def test_our_handlers_run_after_the_instrumentors(self) -> None:
        """Our prerun needs the task span the instrumentor's prerun makes current."""
        receivers = _receivers(signals.task_prerun)
        ours = receivers.index(otel_context.celery.hooks.on_prerun)
        theirs = next(
            i
            for i, r in enumerate(receivers)
            if isinstance(getattr(r, "__self__", None), CeleryInstrumentor)
        )
        assert theirs < ours

    def test_instrument_again_connects_once_and_stays_last(self) -> None:
        """A second instrument() is harmless: one handler each, still after the instrumentor."""
        otel_context.celery.instrument()
        receivers = _receivers(signals.task_postrun)
        assert receivers.count(otel_context.celery.hooks.on_postrun) == 1
        assert receivers[-1] is otel_context.celery.hooks.on_postrun

    def test_uninstrument_leaves_an_instrumentor_it_did_not_enable(
        self, provider: TracerProvider
    ) -> None:
        """Whoever enabled CeleryInstrumentor first keeps it."""
        otel_context.celery.uninstrument()
        CeleryInstrumentor().instrument(tracer_provider=provider)
        try:
            otel_context.celery.instrument()
            otel_context.celery.uninstrument()
            assert CeleryInstrumentor().is_instrumented_by_opentelemetry
            assert otel_context.celery.hooks.on_prerun not in _receivers(signals.task_prerun)
        finally:
            CeleryInstrumentor().uninstrument()
            otel_context.celery.instrument()  # what the fixture's teardown undoes


@pytest.mark.usefixtures("instrumented_celery")
class TestPublish:
    def test_the_header_holds_the_trace_context_and_the_ids(
        self, app: Celery, job: Any, tracer: trace.Tracer, exporter: InMemorySpanExporter
    ) -> None:
        """Inside a request: our header has the publish span's traceparent and the ids."""
        with tracer.start_as_current_span("GET /") as span, scoped(RequestScope(span), **IDS):
            job.delay()
        headers = published_headers(app)
        carrier = headers[otel_context.celery.HEADER]
        assert parse_baggage(carrier["baggage"]) == IDS
        (publish,) = (s for s in exporter.get_finished_spans() if s.name == "apply_async/unit.job")
        assert publish.context is not None
        assert carrier["traceparent"] == headers["traceparent"]
        assert f"{publish.context.span_id:016x}" in carrier["traceparent"]
        assert "baggage" not in headers  # Celery's own header: unknown destination, no baggage

    def test_outside_a_request_only_the_trace_context_travels(self, app: Celery, job: Any) -> None:
        """No scope: the carrier has the publish span's traceparent and no ids."""
        job.delay()
        assert set(published_headers(app)[otel_context.celery.HEADER]) == {"traceparent"}

    def test_nothing_to_carry_adds_no_header(self) -> None:
        """No span and no scope (e.g. publishing without the instrumentor): no header."""
        headers: dict[str, object] = {}
        otel_context.celery.hooks.on_publish(headers=headers)
        otel_context.celery.hooks.on_publish(headers=None)
        assert headers == {}

    def test_a_failing_capture_never_breaks_publishing(
        self, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        """An error in our handler is logged; the message goes out without our header."""

        def broken() -> dict[str, str]:
            msg = "capture exploded"
            raise RuntimeError(msg)

        monkeypatch.setattr(tasks, "capture", broken)
        headers: dict[str, object] = {}
        otel_context.celery.hooks.on_publish(headers=headers)
        assert headers == {}
        assert "adding the task context header failed" in caplog.text


@pytest.mark.usefixtures("instrumented_celery")
class TestWorker:
    def test_the_body_runs_with_the_ids_and_the_task_span_current(self, job: Any) -> None:
        """Ids from our header, the instrumentor's task span current."""
        carrier = {"baggage": "correlation.id=req-1,user.id=42,organisation.id=7"}
        seen = run_in_worker(job, inside, otel_context=carrier)
        assert seen == {"ids": IDS, "span": "run/unit.job"}

    def test_the_ids_are_attributes_of_the_task_span(
        self, job: Any, exporter: InMemorySpanExporter
    ) -> None:
        """Bound in prerun, while the task span records; late binds land there too."""
        carrier = {"baggage": "correlation.id=req-1,user.id=42,organisation.id=7"}
        run_in_worker(job, lambda: otel_context.bind(step="2"), otel_context=carrier)
        (span,) = (s for s in exporter.get_finished_spans() if s.name == "run/unit.job")
        assert span.attributes is not None
        assert {key: span.attributes[key] for key in IDS} == IDS
        assert span.attributes["step"] == "2"

    def test_baggage_in_the_message_is_gated_like_a_request_s(self, job: Any) -> None:
        """Celery's extract goes through otel_context's propagator: no spoofed id in baggage."""
        carrier = {"baggage": "correlation.id=req-1,user.id=42,organisation.id=7"}
        seen = run_in_worker(
            job,
            lambda: (dict(baggage.get_all()), otel_context.get_identifiers()),
            otel_context=carrier,
            baggage="user.id=666,colour=blue",
        )
        assert seen == ({}, IDS)  # the ids come from otel_context's own header only

    def test_the_task_span_continues_the_carried_trace(
        self, job: Any, tracer: trace.Tracer, exporter: InMemorySpanExporter
    ) -> None:
        """The instrumentor's traceparent makes the task span the publish span's child."""
        with tracer.start_as_current_span("GET /") as span, scoped(RequestScope(span), **IDS):
            carrier = tasks.capture()
        seen = run_in_worker(job, inside, otel_context=carrier, traceparent=carrier["traceparent"])
        assert seen == {"ids": IDS, "span": "run/unit.job"}
        (task,) = (s for s in exporter.get_finished_spans() if s.name == "run/unit.job")
        assert task.parent is not None
        assert task.parent.span_id == span.get_span_context().span_id

    @pytest.mark.parametrize(
        ("flags", "written"), [("00", ["warning"]), ("01", ["info", "warning"])]
    )
    def test_log_sampling_follows_the_requests_trace(
        self, job: Any, flags: str, written: list[str]
    ) -> None:
        """A task of a sampled-out request drops its lines below WARNING; of a sampled one, not."""
        logger = structlog.wrap_logger(
            structlog.testing.CapturingLogger(),
            processors=[otel_context.LogSamplingProcessor(ratio=0.0), lambda _l, _m, e: e["event"]],
        )

        def body() -> None:
            logger.info("step")
            logger.warning("slow")

        parent = f"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-{flags}"
        run_in_worker(job, body, traceparent=parent)
        assert [call.method_name for call in logger._logger.calls] == written

    @pytest.mark.parametrize(
        ("outcome", "written"),
        [("ok", []), ("fails", ["error"]), ("retries", ["error"]), ("slow", ["slow"])],
    )
    def test_held_lines_of_a_sampled_out_task(
        self, job: Any, outcome: str, written: list[str]
    ) -> None:
        """HOLD_LINES: a task's dropped chatter is written if it failed, retried or was slow."""
        conf.configure(hold_lines=True, unsampled_log_ratio=0, hold_slow_ms=50)
        lines: list[dict[str, Any]] = []
        logger = holding_logger(lines)

        def body() -> None:
            logger.info("step", outcome=outcome)
            if outcome == "fails":
                raise ValueError(outcome)
            if outcome == "retries":  # what task.retry() raises once it sent the new message
                raise Retry(when=60)
            if outcome == "slow":
                time.sleep(0.1)

        unsampled = trace.NonRecordingSpan(
            trace.SpanContext(0x4BF92F3577B34DA6A3CE929D0E0E4736, 0xF067AA0BA902B7, False)
        )
        with trace.use_span(unsampled), scoped(RequestScope(unsampled), **IDS):
            carrier = tasks.capture()
        run_in_worker(job, body, otel_context=carrier, traceparent=carrier["traceparent"])
        assert [line.get("log.held.written") for line in lines] == written
        assert all(line["user.id"] == "42" and line["log.held"] for line in lines)
        assert flight_recorder.held_now() == (0, 0), "nothing stays held after the task"

    def test_a_failing_task_leaves_nothing_behind(
        self, job: Any, exporter: InMemorySpanExporter
    ) -> None:
        """The failure path detaches too: the next line outside a task has no ids."""

        def fail() -> None:
            msg = "task failed"
            raise RuntimeError(msg)

        run_in_worker(job, fail, otel_context={"baggage": "user.id=42"})
        assert dict(context_api.get_current()) == {}
        assert otel_context.get_identifiers() == {}
        (span,) = (s for s in exporter.get_finished_spans() if s.name == "run/unit.job")
        assert span.status.status_code is trace.StatusCode.ERROR

    def test_consecutive_tasks_never_mix_ids(self, job: Any) -> None:
        """Task 2 has no carrier: a fresh correlation id, nothing of task 1."""
        first = run_in_worker(job, inside, otel_context={"baggage": "user.id=42"})
        second = run_in_worker(job, inside)
        assert first["ids"]["user.id"] == "42"
        assert set(second["ids"]) == {"correlation.id"}
        assert second["ids"]["correlation.id"] != first["ids"]["correlation.id"]

    def test_a_tampered_header_is_sanitised(self, job: Any) -> None:
        """A header that is not a carrier: the task runs with a generated correlation id."""
        seen = run_in_worker(job, inside, otel_context="user.id=42\r\nX-Evil: 1")
        assert set(seen["ids"]) == {"correlation.id"}

    def test_an_eager_task_keeps_its_callers_scope(self, job: Any, tracer: trace.Tracer) -> None:
        """apply() runs in the caller's context: its ids stay, nothing is restored."""
        job.body = otel_context.get_identifiers
        with tracer.start_as_current_span("GET /") as span, scoped(RequestScope(span), **IDS):
            assert job.apply().get() == IDS

    def test_without_the_instrumentor_we_detach_ourselves(self, job: Any) -> None:
        """Our postrun detaches its own token when nothing reset the context below it."""
        CeleryInstrumentor().uninstrument()
        try:
            seen = run_in_worker(job, inside, otel_context={"baggage": "user.id=42"})
        finally:
            otel_context.celery.uninstrument()
            otel_context.celery.instrument()
        assert seen["ids"]["user.id"] == "42"
        assert dict(context_api.get_current()) == {}

    def test_handler_errors_are_logged_never_raised(self, caplog: pytest.LogCaptureFixture) -> None:
        """A task object that breaks our handlers: logged, the task goes on."""

        class Broken:
            @property
            def request(self) -> object:
                msg = "no request"
                raise RuntimeError(msg)

        otel_context.celery.hooks.on_prerun(task=Broken())
        otel_context.celery.hooks.on_postrun(task=Broken())
        otel_context.celery.hooks.on_postrun(task=None)
        assert "restoring the task context failed" in caplog.text
        assert "detaching the task context failed" in caplog.text


def test_a_worker_without_django_exports_records_with_the_ids() -> None:
    """``instrument()`` alone (no Django, no filter) makes OTel ``LoggingHandler`` s export the
    ids of the task's scope on stdlib records."""
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        [sys.executable, "-c", WORKER_WITHOUT_DJANGO],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**env, "OTEL_CONTEXT_LOG_FILE": ""},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    attributes = json.loads(done.stdout.strip().splitlines()[-1])
    assert attributes["correlation.id"] == "c-1"
    assert attributes["user.id"] == "42"


WORKER_WITHOUT_DJANGO = """
import json, logging, sys, warnings
import otel_context.celery
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import SimpleLogRecordProcessor
try:
    from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter as Exporter
except ImportError:
    from opentelemetry.sdk._logs.export import InMemoryLogExporter as Exporter
from opentelemetry.sdk.trace import TracerProvider
from otel_context.scope import RequestScope, scoped

otel_context.celery.instrument()
assert "django.conf" not in sys.modules or not __import__("django.conf").conf.settings.configured
try:
    from opentelemetry.instrumentation.logging.handler import LoggingHandler
except ImportError:
    from opentelemetry.sdk._logs import LoggingHandler
exporter = Exporter()
provider = LoggerProvider()
provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
logger = logging.getLogger("task")
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    logger.addHandler(LoggingHandler(logger_provider=provider))
with TracerProvider().get_tracer("t").start_as_current_span("task") as span:
    with scoped(RequestScope(span), **{"correlation.id": "c-1", "user.id": 42}):
        logger.warning("in the task")
(item,) = exporter.get_finished_logs()
print(json.dumps(dict(item.log_record.attributes)))
"""
