"""otel_context/sdk/_default_provider.py and truthful trace fields without a span of our own."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from otel_context import OTelContextFilter, StructlogOTelProcessor, conf
from otel_context.sdk import _default_provider as _default_providers
from otel_context.sdk import providers as providers_module
from otel_context.trace_fields import set_unexported, span_fields
from tests.otlp_receiver import fresh_global_providers

if TYPE_CHECKING:
    from collections.abc import Iterator

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parent.parent
TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736
CALLER_SPAN_ID = 0x00F067AA0BA902B7
ANNOUNCEMENT = "otel_context: no OpenTelemetry TracerProvider was set"
OTEL_VARIABLES = (
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_CONTEXT_SPAN_FILE",
    "OTEL_TRACES_SAMPLER",
    "OTEL_SERVICE_NAME",
)


def _remote(flags: int = TraceFlags.SAMPLED) -> NonRecordingSpan:
    """The span a caller's ``traceparent`` gives when no provider starts one here."""
    context = SpanContext(TRACE_ID, CALLER_SPAN_ID, is_remote=True, trace_flags=TraceFlags(flags))
    return NonRecordingSpan(context)


class TestSpanFields:
    def test_a_callers_span_gives_the_trace_id_only_and_not_sampled(self) -> None:
        """No span of ours: the caller's span id is not presented as ours; nothing recorded."""
        assert span_fields(_remote()) == {
            "trace_id": f"{TRACE_ID:032x}",
            "trace_sampled": False,
        }

    def test_a_dropped_span_of_ours_keeps_its_span_id(self) -> None:
        """The sampler dropped our span: its id is ours (sent downstream), not sampled."""
        context = SpanContext(TRACE_ID, 0x1234, is_remote=False, trace_flags=TraceFlags(0))
        assert span_fields(NonRecordingSpan(context)) == {
            "trace_id": f"{TRACE_ID:032x}",
            "span_id": f"{0x1234:016x}",
            "trace_sampled": False,
        }

    def test_a_local_non_recording_span_is_never_sampled(self) -> None:
        """Whatever its flag says, a non-recording span stored nothing here."""
        context = SpanContext(TRACE_ID, 0x1234, is_remote=False, trace_flags=TraceFlags(1))
        assert span_fields(NonRecordingSpan(context))["trace_sampled"] is False

    def test_a_recorded_span_is_unchanged(self, provider: TracerProvider) -> None:
        """An SDK span: its own ids and the sampled flag, as before."""
        with provider.get_tracer("t").start_as_current_span("s") as span:
            fields = span_fields(span)
        assert fields["span_id"] == f"{span.get_span_context().span_id:016x}"
        assert fields["trace_sampled"] is True

    def test_structlog_and_stdlib_under_a_callers_span(self) -> None:
        """Both log paths: the caller's trace id, no span id of the caller's, not sampled."""
        token = otel_context.attach(trace.set_span_in_context(_remote()))
        try:
            event = StructlogOTelProcessor()(None, "info", {"event": "e"})
            record = logging.LogRecord("l", logging.INFO, __file__, 1, "m", None, None)
            OTelContextFilter().filter(record)
        finally:
            otel_context.detach(token)
        assert event == {"event": "e", "trace_id": f"{TRACE_ID:032x}", "trace_sampled": False}
        assert record.trace_id == f"{TRACE_ID:032x}"  # type: ignore[attr-defined]
        assert record.span_id == "-"  # type: ignore[attr-defined]
        assert record.trace_sampled is False  # type: ignore[attr-defined]


@pytest.fixture
def fresh(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No global provider, no exporter in the environment, the set-up armed and not opted out."""
    for name in OTEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OTEL_CONTEXT_SET_UP_PROVIDERS", "")
    conf.reset()  # the configuration is read from the environment just changed
    with fresh_global_providers():
        monkeypatch.setattr(_default_providers, "armed", True)
        yield
        set_unexported(None)
    conf.reset()


def _set_up() -> trace.TracerProvider:
    _default_providers.set_up()
    return trace.get_tracer_provider()


@pytest.mark.usefixtures("fresh")
class TestSetUp:
    def test_sets_up_the_sdk_exporting_nothing_and_says_so(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """An SDK provider with no span processor; one line with what it did and the opt-out."""
        provider = _set_up()
        assert isinstance(provider, TracerProvider)
        assert provider._active_span_processor._span_processors == ()
        (line,) = capsys.readouterr().err.splitlines()
        assert line.startswith(ANNOUNCEMENT)
        assert "sampler=RecordClientSpans{ParentBased{root:AlwaysOnSampler" in line
        assert "spans are exported nowhere" in line
        assert "OTEL_CONTEXT_SET_UP_PROVIDERS=false" in line
        assert _default_providers.armed is False

    def test_its_spans_say_not_sampled_until_something_exports_them(self) -> None:
        """Recorded but exported nowhere: trace_sampled false; true once a processor is added."""
        provider = _set_up()
        tracer = provider.get_tracer("t")
        with tracer.start_as_current_span("s") as span:
            assert span.is_recording()
            assert span_fields(span)["trace_sampled"] is False
        provider.add_span_processor(SimpleSpanProcessor(InMemorySpanExporter()))  # type: ignore[attr-defined]
        with tracer.start_as_current_span("s") as span:
            assert span_fields(span)["trace_sampled"] is True

    def test_a_provider_already_set_is_left_alone(self, capsys: pytest.CaptureFixture[str]) -> None:
        """The application's provider stays; nothing is said."""
        theirs = TracerProvider()
        trace.set_tracer_provider(theirs)
        assert _set_up() is theirs
        assert ANNOUNCEMENT not in capsys.readouterr().err

    def test_opt_out_sets_none(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """SET_UP_PROVIDERS false: the API's proxy stays."""
        monkeypatch.setenv("OTEL_CONTEXT_SET_UP_PROVIDERS", "false")
        conf.reset()
        assert isinstance(_set_up(), trace.ProxyTracerProvider)
        assert ANNOUNCEMENT not in capsys.readouterr().err

    def test_unarmed_does_nothing(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Not a Django process that got ready: nothing is set up."""
        monkeypatch.setattr(_default_providers, "armed", False)
        assert isinstance(_set_up(), trace.ProxyTracerProvider)

    def test_decides_once(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A second call changes nothing and says nothing."""
        first = _set_up()
        assert _set_up() is first
        assert len(capsys.readouterr().err.splitlines()) == 1

    def test_a_span_file_is_an_exporter(
        self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """SPAN_FILE configured: configure_providers() does the work; spans reach the file."""
        span_file = tmp_path / "spans.jsonl"
        monkeypatch.setenv("OTEL_CONTEXT_SPAN_FILE", str(span_file))
        conf.reset()
        provider = _set_up()
        assert providers_module._configured is not None
        assert provider is providers_module._configured.tracer_provider
        with provider.get_tracer("t").start_as_current_span("s") as span:
            assert span_fields(span)["trace_sampled"] is True
        providers_module.shutdown_providers(timeout_s=2)
        (exported,) = [json.loads(line) for line in span_file.read_text().splitlines()]
        assert exported["name"] == "s"
        assert f"spans are exported to {span_file} (SPAN_FILE)" in capsys.readouterr().err

    @pytest.mark.parametrize(
        ("exporter", "where"),
        [
            ("none", "nowhere (OTEL_TRACES_EXPORTER=none)"),
            ("zipkin", "OTEL_TRACES_EXPORTER=zipkin needs opentelemetry-instrument"),
        ],
    )
    def test_traces_exporters_that_export_nothing(
        self,
        monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str],
        exporter: str,
        where: str,
    ) -> None:
        """``none``, and exporters otel_context cannot build: a provider exporting nothing."""
        monkeypatch.setenv("OTEL_TRACES_EXPORTER", exporter)
        provider = _set_up()
        assert provider._active_span_processor._span_processors == ()  # type: ignore[attr-defined]
        assert where in capsys.readouterr().err

    def test_an_endpoint_without_its_exporter_still_gives_ids(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """gRPC asked for, its extra missing: the line says so; ids still come, nothing sent."""
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        monkeypatch.setitem(
            sys.modules, "opentelemetry.exporter.otlp.proto.grpc.trace_exporter", None
        )
        provider = _set_up()
        assert isinstance(provider, TracerProvider)
        assert provider._active_span_processor._span_processors == ()
        assert "OTLP export over grpc needs its exporter" in capsys.readouterr().err


SCRIPT = """
import django
from django.test import Client
from opentelemetry import trace

django.setup()
assert Client().get("/plain/").status_code == 200
provider = trace.get_tracer_provider()
print("PROVIDER", type(provider).__name__, len(provider._active_span_processor._span_processors))
"""


def _instrumented(**env: str) -> subprocess.CompletedProcess[str]:
    """``opentelemetry-instrument python -c SCRIPT`` on the test project; one request."""
    base = {
        "PATH": str(BIN),
        "PYTHONPATH": str(REPO),
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
    }
    return subprocess.run(
        [str(BIN / "opentelemetry-instrument"), sys.executable, "-c", SCRIPT],
        env={**base, **env},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


class TestUnderOpentelemetryInstrument:
    def test_the_distros_provider_is_left_alone(self) -> None:
        """opentelemetry-distro set the provider (console exporter): it is the one in use."""
        result = _instrumented()
        assert "PROVIDER TracerProvider 1" in result.stdout.splitlines()
        assert ANNOUNCEMENT not in result.stderr

    def test_without_a_configurator_ours_is_set_up(self) -> None:
        """No configurator (as without the distro): ours at the first request, exporting nothing.

        ``OTEL_TRACES_EXPORTER=console`` is the SDK configurator's variable; otel_context's
        set-up reads it too, so the spans go to stdout.
        """
        result = _instrumented(OTEL_PYTHON_CONFIGURATOR="no-such-configurator")
        assert "PROVIDER TracerProvider 1" in result.stdout.splitlines()
        assert ANNOUNCEMENT in result.stderr
        assert "spans are exported to stdout (OTEL_TRACES_EXPORTER=console)" in result.stderr
