"""RecordClientSpans: sampled-out outgoing calls keep their destination, and stay unexported."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    Decision,
    ParentBased,
    TraceIdRatioBased,
)
from opentelemetry.trace import SpanKind

from otel_context import RecordClientSpans
from otel_context.propagation import destination_host
from otel_context.sampling import (
    SAMPLER_FACTORIES,
    parentbased_always_on,
    parentbased_traceidratio,
    sampler_from_env,
)

URL = {"url.full": "https://billing.internal:8443/charge", "http.request.method": "POST"}


class TestDecision:
    def test_dropped_client_span_is_recorded_with_its_attributes(self) -> None:
        result = RecordClientSpans(ALWAYS_OFF).should_sample(None, 1, "POST", SpanKind.CLIENT, URL)
        assert result.decision is Decision.RECORD_ONLY
        assert dict(result.attributes) == URL

    @pytest.mark.parametrize(
        "kind", [SpanKind.SERVER, SpanKind.INTERNAL, SpanKind.PRODUCER, SpanKind.CONSUMER, None]
    )
    def test_other_kinds_keep_the_inner_drop(self, kind: SpanKind | None) -> None:
        result = RecordClientSpans(ALWAYS_OFF).should_sample(None, 1, "x", kind, URL)
        assert result.decision is Decision.DROP

    @pytest.mark.parametrize("kind", [SpanKind.CLIENT, SpanKind.SERVER])
    def test_a_sampled_decision_is_the_inner_one(self, kind: SpanKind) -> None:
        result = RecordClientSpans(ALWAYS_ON).should_sample(None, 1, "x", kind, URL)
        assert result.decision is Decision.RECORD_AND_SAMPLE

    def test_ratio_sampler_decides_per_trace_id(self) -> None:
        sampler = RecordClientSpans(TraceIdRatioBased(0.5))
        low, high = 1, (1 << 128) - 1
        assert sampler.should_sample(None, low, "x", SpanKind.CLIENT).decision.is_sampled()
        assert sampler.should_sample(None, high, "x", SpanKind.CLIENT).decision is (
            Decision.RECORD_ONLY
        )

    def test_description_names_the_inner_sampler(self) -> None:
        description = RecordClientSpans(ParentBased(TraceIdRatioBased(0.25))).get_description()
        assert description.startswith("RecordClientSpans{ParentBased{")
        assert "0.25" in description


class TestWithTheSdk:
    @pytest.fixture
    def sdk(self) -> tuple[TracerProvider, InMemorySpanExporter]:
        tracer_provider = TracerProvider(sampler=RecordClientSpans(ParentBased(ALWAYS_OFF)))
        exporter = InMemorySpanExporter()
        tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
        return tracer_provider, exporter

    def test_client_span_under_a_sampled_out_request_shows_its_destination(
        self, sdk: tuple[TracerProvider, InMemorySpanExporter]
    ) -> None:
        tracer_provider, exporter = sdk
        tracer = tracer_provider.get_tracer("t")
        with tracer.start_as_current_span("GET /", kind=SpanKind.SERVER) as server:
            assert not server.is_recording()
            with tracer.start_as_current_span("POST", kind=SpanKind.CLIENT, attributes=URL) as out:
                assert out.is_recording()
                assert not out.get_span_context().trace_flags.sampled
                assert out.get_span_context().trace_id == server.get_span_context().trace_id
                assert destination_host() == "billing.internal"
                with tracer.start_as_current_span("inner") as child:
                    assert not child.is_recording(), "only CLIENT spans are recorded"
        tracer_provider.shutdown()
        assert exporter.get_finished_spans() == ()


class TestFactories:
    @pytest.mark.parametrize(("arg", "rate"), [("0.1", 0.1), ("0", 0.0), ("1", 1.0), ("", 1.0)])
    def test_ratio(self, arg: str, rate: float) -> None:
        sampler = parentbased_traceidratio(arg)
        assert isinstance(sampler, RecordClientSpans)
        assert f"TraceIdRatioBased{{{rate}}}" in sampler.get_description()

    @pytest.mark.parametrize("arg", ["ten percent", "1.5", "-0.1", "nan"])
    def test_unusable_ratio_warns_and_samples_everything(
        self, arg: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        sampler = parentbased_traceidratio(arg)
        assert "TraceIdRatioBased{1.0}" in sampler.get_description()
        assert f"OTEL_TRACES_SAMPLER_ARG={arg!r}" in caplog.text

    def test_always_on(self) -> None:
        description = parentbased_always_on(None).get_description()
        assert description == f"RecordClientSpans{{{ParentBased(ALWAYS_ON).get_description()}}}"

    @pytest.mark.parametrize("name", sorted(SAMPLER_FACTORIES))
    def test_the_sdk_loads_them_by_name(
        self, name: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        """What ``opentelemetry-instrument`` does with OTEL_TRACES_SAMPLER: entry points."""
        from opentelemetry.sdk._configuration import _import_sampler

        monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.5")
        sampler = _import_sampler(name)
        assert isinstance(sampler, RecordClientSpans), caplog.text
        assert sampler.get_description() == SAMPLER_FACTORIES[name]("0.5").get_description()


class TestFromEnvironment:
    @pytest.mark.parametrize(
        ("name", "arg", "inner"),
        [
            ("", "", "ParentBased{root:AlwaysOnSampler"),
            ("always_off", "", "AlwaysOffSampler"),
            ("parentbased_traceidratio", "0.2", "TraceIdRatioBased{0.2}"),
            ("otel_context_parentbased_traceidratio", "0.4", "TraceIdRatioBased{0.4}"),
        ],
    )
    def test_wrapped_once(
        self, name: str, arg: str, inner: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("OTEL_TRACES_SAMPLER", name)
        monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", arg)
        description = sampler_from_env().get_description()
        assert description.startswith("RecordClientSpans{")
        assert inner in description
        assert description.count("RecordClientSpans") == 1
