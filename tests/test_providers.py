"""configure_providers / shutdown_providers: providers from the standard environment, bounded."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING

import pytest
from opentelemetry import _logs, trace
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogs
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpSpans
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk.trace import TracerProvider, sampling
from opentelemetry.trace import SpanKind

from otel_context import RecordClientSpans, conf
from otel_context.conf import ConfigurationError
from otel_context.sdk import Providers, configure_providers, providers, shutdown_providers
from tests.otlp_receiver import closed_port, fresh_global_providers, http_receiver

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

OTEL_VARIABLES = (
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
    "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
    "OTEL_EXPORTER_OTLP_TIMEOUT",
    "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    "OTEL_EXPORTER_OTLP_LOGS_TIMEOUT",
    "OTEL_SERVICE_NAME",
    "OTEL_RESOURCE_ATTRIBUTES",
    "OTEL_TRACES_SAMPLER",
    "OTEL_TRACES_SAMPLER_ARG",
    "OTEL_PROPAGATORS",
    "OTEL_CONTEXT_SPAN_FILE",
    "OTEL_CONTEXT_LOG_FILE",
)


@pytest.fixture
def grpc_exporters() -> tuple[type, type]:
    """The gRPC exporter classes, or a skip without the [grpc] extra."""
    spans = pytest.importorskip("opentelemetry.exporter.otlp.proto.grpc.trace_exporter")
    logs = pytest.importorskip("opentelemetry.exporter.otlp.proto.grpc._log_exporter")
    return spans.OTLPSpanExporter, logs.OTLPLogExporter


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in OTEL_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def private() -> Iterator[list[Providers]]:
    """Providers made with set_global=False in the test, shut down after it."""
    made: list[Providers] = []
    yield made
    for item in made:
        shutdown_providers(timeout_s=1, providers=item)


def build(made: list[Providers], **options: object) -> Providers:
    result = configure_providers(set_global=False, **options)  # type: ignore[arg-type]
    made.append(result)
    return result


class TestWithoutEndpoint:
    def test_spans_go_to_the_span_file_as_json_lines(
        self, tmp_path: Path, private: list[Providers]
    ) -> None:
        """No endpoint: each finished span is one JSON line in span_file."""
        path = tmp_path / "spans.jsonl"
        result = build(private, span_file=str(path))
        with result.tracer_provider.get_tracer("t").start_as_current_span("one"):
            pass
        assert shutdown_providers(timeout_s=2, providers=result)
        lines = path.read_text().splitlines()
        assert [json.loads(line)["name"] for line in lines] == ["one"]

    def test_span_file_from_the_environment(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, private: list[Providers]
    ) -> None:
        """OTEL_CONTEXT_SPAN_FILE names the file when no argument does."""
        path = tmp_path / "env-spans.jsonl"
        monkeypatch.setenv("OTEL_CONTEXT_SPAN_FILE", str(path))
        conf.reset()  # options are resolved once; read the variable anew
        result = build(private)
        with result.tracer_provider.get_tracer("t").start_as_current_span("env"):
            pass
        shutdown_providers(timeout_s=2, providers=result)
        assert json.loads(path.read_text())["name"] == "env"

    def test_spans_default_to_stdout(
        self, capsys: pytest.CaptureFixture[str], private: list[Providers]
    ) -> None:
        """Neither argument nor variable: spans are printed, one JSON line each."""
        result = build(private)
        with result.tracer_provider.get_tracer("t").start_as_current_span("printed"):
            pass
        shutdown_providers(timeout_s=2, providers=result)
        assert json.loads(capsys.readouterr().out.splitlines()[-1])["name"] == "printed"

    def test_no_log_destination_means_no_logger_provider(self, private: list[Providers]) -> None:
        """Log lines are already rendered locally: without a log file no LoggerProvider is made."""
        result = build(private)
        assert len(result.owned) == 1
        assert isinstance(result.owned[0], TracerProvider)
        assert not isinstance(result.logger_provider, LoggerProvider)

    def test_log_records_go_to_the_log_file(self, tmp_path: Path, private: list[Providers]) -> None:
        """log_file: each OTel log record is one JSON line there."""
        path = tmp_path / "logs.jsonl"
        result = build(private, log_file=str(path))
        assert isinstance(result.logger_provider, LoggerProvider)
        result.logger_provider.get_logger("t").emit(body="hello")
        shutdown_providers(timeout_s=2, providers=result)
        assert json.loads(path.read_text())["body"] == "hello"


class TestOtlpSelection:
    def test_endpoint_variable_selects_http_protobuf(
        self, monkeypatch: pytest.MonkeyPatch, private: list[Providers]
    ) -> None:
        """OTEL_EXPORTER_OTLP_ENDPOINT alone: both signals over OTLP/HTTP, signal paths added."""
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
        spans, logs = build(private).exporters
        assert isinstance(spans, HttpSpans)
        assert isinstance(logs, HttpLogs)
        assert spans._endpoint == "http://collector:4318/v1/traces"
        assert logs._endpoint == "http://collector:4318/v1/logs"

    def test_explicit_endpoint_wins(
        self, monkeypatch: pytest.MonkeyPatch, private: list[Providers]
    ) -> None:
        """The keyword argument beats the variable; the signal path is appended for HTTP."""
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
        spans, _ = build(private, endpoint="http://other:4318/").exporters
        assert isinstance(spans, HttpSpans)
        assert spans._endpoint == "http://other:4318/v1/traces"

    def test_per_signal_endpoint(
        self, monkeypatch: pytest.MonkeyPatch, private: list[Providers]
    ) -> None:
        """Only the traces endpoint set: traces over OTLP, no log exporter."""
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:4318/custom/traces")
        result = build(private)
        (spans,) = result.exporters
        assert isinstance(spans, HttpSpans)
        assert spans._endpoint == "http://c:4318/custom/traces"

    def test_logs_endpoint_alone(
        self, monkeypatch: pytest.MonkeyPatch, private: list[Providers], tmp_path: Path
    ) -> None:
        """Only the logs endpoint set: logs over OTLP, spans to the local default."""
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "http://c:4318/v1/logs")
        spans, logs = build(private, span_file=str(tmp_path / "s")).exporters
        assert not isinstance(spans, HttpSpans)
        assert isinstance(logs, HttpLogs)

    def test_empty_endpoint_is_unset(
        self, monkeypatch: pytest.MonkeyPatch, private: list[Providers], tmp_path: Path
    ) -> None:
        """OTel: an empty variable means unset."""
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", " ")
        (spans,) = build(private, span_file=str(tmp_path / "s")).exporters
        assert not isinstance(spans, HttpSpans)

    def test_grpc_protocol(
        self,
        monkeypatch: pytest.MonkeyPatch,
        private: list[Providers],
        grpc_exporters: tuple[type, type],
    ) -> None:
        """OTEL_EXPORTER_OTLP_PROTOCOL=grpc: the gRPC exporters, endpoint as given."""
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        spans, logs = build(private).exporters
        assert isinstance(spans, grpc_exporters[0])
        assert isinstance(logs, grpc_exporters[1])
        assert spans._endpoint == "collector:4317"

    def test_per_signal_protocol(
        self,
        monkeypatch: pytest.MonkeyPatch,
        private: list[Providers],
        grpc_exporters: tuple[type, type],
    ) -> None:
        """A per-signal protocol beats the general one."""
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4317")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/protobuf")
        spans, logs = build(private).exporters
        assert isinstance(spans, grpc_exporters[0])
        assert isinstance(logs, HttpLogs)

    def test_unsupported_protocol(self, private: list[Providers]) -> None:
        """http/json has no Python exporter: a clear configuration error."""
        with pytest.raises(ConfigurationError, match="http/json"):
            build(private, endpoint="http://c:4318", protocol="http/json")

    def test_missing_grpc_extra(
        self, monkeypatch: pytest.MonkeyPatch, private: list[Providers]
    ) -> None:
        """grpc without its exporter installed names the extra to install."""
        monkeypatch.setitem(
            sys.modules, "opentelemetry.exporter.otlp.proto.grpc.trace_exporter", None
        )
        with pytest.raises(ConfigurationError, match="otlp-proto-grpc=="):
            build(private, endpoint="http://c:4317", protocol="grpc")


def _http_timeout(exporter: HttpSpans | HttpLogs) -> float:
    """An HTTP exporter's timeout: on its HTTP client since 1.45, on the exporter before."""
    holder = getattr(exporter, "_client", exporter)
    return float(holder._timeout)


def _global_propagator_fields() -> list[str]:
    code = "import json; from opentelemetry import propagate as p; "
    code += "print(json.dumps(sorted(p.get_global_textmap().fields)))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    fields: list[str] = json.loads(run.stdout)
    return fields


class TestTimeouts:
    def test_default_is_short(self, private: list[Providers]) -> None:
        """Unset: DEFAULT_EXPORT_TIMEOUT_S, not the SDK's 10 s."""
        spans, logs = build(private, endpoint="http://c:4318").exporters
        assert isinstance(spans, HttpSpans)
        assert isinstance(logs, HttpLogs)
        assert _http_timeout(spans) == providers.DEFAULT_EXPORT_TIMEOUT_S
        assert _http_timeout(logs) == providers.DEFAULT_EXPORT_TIMEOUT_S

    def test_variable_is_honoured(
        self,
        monkeypatch: pytest.MonkeyPatch,
        private: list[Providers],
        grpc_exporters: tuple[type, type],
    ) -> None:
        """OTEL_EXPORTER_OTLP_TIMEOUT is left to the exporters, which read it (in seconds)."""
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "2")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "3")
        spans, logs = build(private, endpoint="http://c:4317", protocol="grpc").exporters
        assert isinstance(spans, grpc_exporters[0])
        assert isinstance(logs, grpc_exporters[1])
        assert spans._timeout == 2.0
        assert logs._timeout == 3.0

    def test_argument_wins(self, monkeypatch: pytest.MonkeyPatch, private: list[Providers]) -> None:
        """export_timeout_s beats the variable."""
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "2")
        spans, _ = build(private, endpoint="http://c:4318", export_timeout_s=0.5).exporters
        assert isinstance(spans, HttpSpans)
        assert _http_timeout(spans) == 0.5


class TestStandardVariables:
    def test_service_name_variable(
        self, monkeypatch: pytest.MonkeyPatch, private: list[Providers]
    ) -> None:
        """OTEL_SERVICE_NAME beats default_service_name."""
        monkeypatch.setenv("OTEL_SERVICE_NAME", "from-env")
        result = build(private, default_service_name="fallback")
        assert isinstance(result.tracer_provider, TracerProvider)
        assert result.tracer_provider.resource.attributes["service.name"] == "from-env"

    def test_resource_attributes_variable(
        self, monkeypatch: pytest.MonkeyPatch, private: list[Providers]
    ) -> None:
        """OTEL_RESOURCE_ATTRIBUTES is read, service.name in it included."""
        monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "service.name=attr,deployment.env=ci")
        result = build(private, default_service_name="fallback")
        assert isinstance(result.tracer_provider, TracerProvider)
        attrs = result.tracer_provider.resource.attributes
        assert (attrs["service.name"], attrs["deployment.env"]) == ("attr", "ci")

    def test_default_service_name(self, private: list[Providers], tmp_path: Path) -> None:
        """Nothing in the environment: default_service_name, on both providers."""
        result = build(private, default_service_name="demo", log_file=str(tmp_path / "l"))
        assert isinstance(result.tracer_provider, TracerProvider)
        assert isinstance(result.logger_provider, LoggerProvider)
        assert result.tracer_provider.resource.attributes["service.name"] == "demo"
        assert result.logger_provider.resource.attributes["service.name"] == "demo"

    def test_sampler_variables(
        self, monkeypatch: pytest.MonkeyPatch, private: list[Providers]
    ) -> None:
        """OTEL_TRACES_SAMPLER(_ARG) are read by TracerProvider() itself."""
        monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
        monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.25")
        result = build(private)
        assert isinstance(result.tracer_provider, TracerProvider)
        sampler = result.tracer_provider.sampler
        assert isinstance(sampler, RecordClientSpans), "sampled-out calls keep their destination"
        assert isinstance(sampler.inner, sampling.ParentBased)
        assert "0.25" in sampler.inner.get_description()

    @pytest.mark.parametrize(
        ("name", "ratio"),
        [
            ("otel_context_parentbased_traceidratio", "0.3"),
            ("OTEL_CONTEXT_PARENTBASED_ALWAYS_ON", ""),
        ],
    )
    def test_our_sampler_names(
        self, name: str, ratio: str, monkeypatch: pytest.MonkeyPatch, private: list[Providers]
    ) -> None:
        """The names registered for opentelemetry-instrument work here too, not wrapped twice."""
        monkeypatch.setenv("OTEL_TRACES_SAMPLER", name)
        monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", ratio)
        result = build(private)
        assert isinstance(result.tracer_provider, TracerProvider)
        sampler = result.tracer_provider.sampler
        assert isinstance(sampler, RecordClientSpans)
        assert isinstance(sampler.inner, sampling.ParentBased)
        assert ("0.3" in sampler.get_description()) == bool(ratio)

    def test_sampled_out_client_spans_are_recorded_not_sampled(
        self, monkeypatch: pytest.MonkeyPatch, private: list[Providers]
    ) -> None:
        """always_off: a CLIENT span still records its attributes for the outbound policy."""
        monkeypatch.setenv("OTEL_TRACES_SAMPLER", "always_off")
        result = build(private)
        assert isinstance(result.tracer_provider, TracerProvider)
        tracer = result.tracer_provider.get_tracer("t")
        with tracer.start_as_current_span("in", kind=SpanKind.SERVER) as server:
            assert not server.is_recording()
        attributes = {"server.address": "pricing"}
        with tracer.start_as_current_span(
            "out", kind=SpanKind.CLIENT, attributes=attributes
        ) as out:
            assert out.is_recording()
            assert not out.get_span_context().trace_flags.sampled

    def test_propagators_default_to_trace_context_and_baggage(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """opentelemetry.propagate reads OTEL_PROPAGATORS; unset means tracecontext,baggage.

        In a fresh interpreter: older APIs (1.40) read the variable once, at import.
        """
        monkeypatch.delenv("OTEL_PROPAGATORS", raising=False)
        assert _global_propagator_fields() == ["baggage", "traceparent", "tracestate"]
        monkeypatch.setenv("OTEL_PROPAGATORS", "tracecontext")
        assert _global_propagator_fields() == ["traceparent", "tracestate"]


class TestGlobalProviders:
    def test_installs_and_returns_the_same_on_a_second_call(self, tmp_path: Path) -> None:
        """set_global: the providers become global; a second call configures nothing more."""
        with fresh_global_providers():
            first = configure_providers(span_file=str(tmp_path / "s"), log_file=str(tmp_path / "l"))
            assert trace.get_tracer_provider() is first.tracer_provider
            assert _logs.get_logger_provider() is first.logger_provider
            assert configure_providers() is first
            assert shutdown_providers(timeout_s=2)
            assert shutdown_providers(timeout_s=2)  # nothing left: still fine

    def test_uses_providers_set_by_someone_else(self, tmp_path: Path) -> None:
        """Providers already set (opentelemetry-instrument): used as they are, nothing owned."""
        with fresh_global_providers():
            tracer_provider, logger_provider = TracerProvider(), LoggerProvider()
            trace.set_tracer_provider(tracer_provider)
            _logs.set_logger_provider(logger_provider)
            result = configure_providers(log_file=str(tmp_path / "l"))
            assert result.tracer_provider is tracer_provider
            assert result.logger_provider is logger_provider
            assert result.owned == ()
            assert shutdown_providers(timeout_s=1)
            tracer_provider.shutdown()
            logger_provider.shutdown()

    def test_adds_only_what_is_missing(self, tmp_path: Path) -> None:
        """A tracer provider set elsewhere, no logger provider: only the logger provider is ours."""
        with fresh_global_providers():
            theirs = TracerProvider()
            trace.set_tracer_provider(theirs)
            result = configure_providers(log_file=str(tmp_path / "l"))
            assert result.tracer_provider is theirs
            assert result.owned == (result.logger_provider,)
            assert _logs.get_logger_provider() is result.logger_provider
            theirs.shutdown()

    def test_a_configuration_error_sets_nothing(self) -> None:
        """An unusable logs protocol raises before any provider is installed."""
        with fresh_global_providers():
            with pytest.raises(ConfigurationError):
                configure_providers(endpoint="http://c:4318", protocol="http/json")
            assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
            assert providers._configured is None

    def test_warns_when_reused_after_fork(
        self, tmp_path: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Providers inherited from a parent process are reused, with a warning."""
        with fresh_global_providers():
            first = configure_providers(span_file=str(tmp_path / "s"))
            providers._configured = Providers(
                first.tracer_provider, first.logger_provider, first.owned, first.exporters, pid=-1
            )
            with caplog.at_level(logging.WARNING, logger="otel_context.providers"):
                assert configure_providers().tracer_provider is first.tracer_provider
            assert "before fork" in caplog.text
            assert os.getpid() != -1


class _StuckProvider(TracerProvider):
    """A provider whose shutdown blocks until released (a worst case: a wedged exporter)."""

    def __init__(self) -> None:
        super().__init__(shutdown_on_exit=False)
        self.release = threading.Event()

    def shutdown(self) -> None:
        self.release.wait(30)


class TestShutdownBound:
    def test_collector_down_is_bounded(self, private: list[Providers]) -> None:
        """Closed port, 100 spans: shutdown ends within its bound instead of retrying ~30 s."""
        result = build(private, endpoint=f"http://127.0.0.1:{closed_port()}", export_timeout_s=10)
        tracer = result.tracer_provider.get_tracer("t")
        for index in range(100):
            with tracer.start_as_current_span(f"s{index}"):
                pass
        started = time.monotonic()
        assert shutdown_providers(timeout_s=1, providers=result)
        assert time.monotonic() - started < 2.5

    def test_returns_false_when_shutdown_will_not_end(self) -> None:
        """Even a shutdown that never ends cannot hold the caller past the bound."""
        stuck = _StuckProvider()
        started = time.monotonic()
        try:
            done = shutdown_providers(
                timeout_s=0.5, providers=Providers(stuck, _logs.get_logger_provider(), (stuck,))
            )
            elapsed = time.monotonic() - started
        finally:
            stuck.release.set()
        assert not done
        assert 0.4 < elapsed < 1.5

    def test_a_failing_shutdown_is_logged(self, caplog: pytest.LogCaptureFixture) -> None:
        """A provider whose shutdown raises: logged, the call still returns in time."""

        class Failing(TracerProvider):
            def shutdown(self) -> None:
                raise RuntimeError  # a broken exporter behind it

        failing = Failing(shutdown_on_exit=False)
        with caplog.at_level(logging.ERROR, logger="otel_context.providers"):
            assert shutdown_providers(
                timeout_s=1, providers=Providers(failing, _logs.get_logger_provider(), (failing,))
            )
        assert "shutting down" in caplog.text

    @pytest.fixture
    def no_new_threads(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Shutdown threads refused as CPython 3.12.0/3.12.1 refuse them at exit (gh-113964)."""
        start = threading.Thread.start

        def refuse(thread: threading.Thread) -> None:
            if thread.name == "otel_context-shutdown":
                message = "can't create new thread at interpreter shutdown"
                raise RuntimeError(message)
            start(thread)

        monkeypatch.setattr(threading.Thread, "start", refuse)

    @pytest.mark.usefixtures("no_new_threads")
    def test_without_new_threads_what_is_queued_is_still_delivered(
        self, private: list[Providers]
    ) -> None:
        """At exit on Python 3.12.1 (no new threads): the queued spans still reach the receiver.

        Before, the shutdown raised in its atexit hook and every span still queued was lost
        (the demo's Celery worker exported none under Python 3.12.1).
        """
        with http_receiver() as (endpoint, received):
            result = build(private, endpoint=endpoint)
            tracer = result.tracer_provider.get_tracer("t")
            for index in range(20):
                with tracer.start_as_current_span(f"s{index}"):
                    pass
            assert shutdown_providers(timeout_s=5, providers=result)
            names = {span.name for span in received.spans}
        assert names == {f"s{index}" for index in range(20)}

    @pytest.mark.usefixtures("no_new_threads")
    def test_without_new_threads_collector_down_is_bounded_by_the_export_timeout(
        self, private: list[Providers]
    ) -> None:
        """No new threads and a closed port: bounded by the exporter's timeout, no exception.

        (Nothing can interrupt the export in the calling thread: the exporter's own timeout,
        here 2 s, is the bound instead of shutdown's.)
        """
        result = build(private, endpoint=f"http://127.0.0.1:{closed_port()}", export_timeout_s=2)
        tracer = result.tracer_provider.get_tracer("t")
        for index in range(100):
            with tracer.start_as_current_span(f"s{index}"):
                pass
        started = time.monotonic()
        shutdown_providers(timeout_s=1, providers=result)
        assert time.monotonic() - started < 2 + 1.5

    def test_without_providers_is_a_no_op(self) -> None:
        """Nothing configured: nothing to do, immediately."""
        with fresh_global_providers():
            assert shutdown_providers(timeout_s=0.1)
