"""The trace follows the lines: a sampled-out request that failed or was slow keeps its spans."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest
from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, Decision, ParentBased
from opentelemetry.trace import SpanKind, StatusCode

from otel_context.trace_keeping import KeepNotableTraces, RecordSampledOut

if TYPE_CHECKING:
    from collections.abc import Iterator


class Sdk:
    """Head sampling drops everything; kept spans and normally exported ones go to two sinks."""

    def __init__(self, slow_ms: int) -> None:
        self.provider = TracerProvider(
            sampler=RecordSampledOut(ParentBased(ALWAYS_OFF)), shutdown_on_exit=False
        )
        self.normal = InMemorySpanExporter()
        self.kept = InMemorySpanExporter()
        self.provider.add_span_processor(SimpleSpanProcessor(self.normal))
        self.keeper = KeepNotableTraces(self.kept, slow_ms=slow_ms)
        self.provider.add_span_processor(self.keeper)
        self.tracer = self.provider.get_tracer("t")

    def request(self, status: int, pause: float = 0.0) -> None:
        with self.tracer.start_as_current_span("GET /", kind=SpanKind.SERVER) as server:
            with self.tracer.start_as_current_span("db"):
                time.sleep(pause)
            server.set_attribute("http.response.status_code", status)

    def kept_names(self) -> list[str]:
        assert self.keeper.force_flush(5000)
        return sorted(span.name for span in self.kept.get_finished_spans())


#: Far above what a fine request takes even on a loaded machine (30 ms was once exceeded).
SLOW_MS = 500


@pytest.fixture
def sdk() -> Iterator[Sdk]:
    result = Sdk(slow_ms=SLOW_MS)
    yield result
    result.provider.shutdown()


class TestSampler:
    def test_drop_becomes_record_only(self) -> None:
        """What the inner sampler drops is recorded, its sampled flag off."""
        result = RecordSampledOut(ALWAYS_OFF).should_sample(None, 1, "x")
        assert result.decision is Decision.RECORD_ONLY
        assert RecordSampledOut(ALWAYS_ON).should_sample(None, 1, "x").decision.is_sampled()
        assert (
            RecordSampledOut(ALWAYS_OFF).get_description() == "RecordSampledOut{AlwaysOffSampler}"
        )


class TestKeep:
    def test_a_fine_request_is_not_kept(self, sdk: Sdk) -> None:
        """200, fast: nothing exported anywhere."""
        sdk.request(200)
        assert sdk.kept_names() == []
        assert sdk.normal.get_finished_spans() == ()

    def test_a_failed_request_keeps_all_its_spans(self, sdk: Sdk) -> None:
        """500: the server span and its child, unsampled as recorded, to the keeper's exporter."""
        sdk.request(500)
        assert sdk.kept_names() == ["GET /", "db"]
        assert sdk.normal.get_finished_spans() == ()
        assert not any(s.context.trace_flags.sampled for s in sdk.kept.get_finished_spans())  # type: ignore[union-attr]

    def test_a_slow_request_is_kept(self, sdk: Sdk) -> None:
        """Longer than slow_ms."""
        sdk.request(200, pause=SLOW_MS / 1000 + 0.05)
        assert sdk.kept_names() == ["GET /", "db"]

    def test_an_error_status_or_written_lines_keep_it(self, sdk: Sdk) -> None:
        """Status ERROR (an exception), or log.held.written from the flight recorder."""
        with sdk.tracer.start_as_current_span("task") as span:
            span.set_status(StatusCode.ERROR)
        with sdk.tracer.start_as_current_span("GET /held") as span:
            span.set_attribute("log.held.written", "error")
        assert sdk.kept_names() == ["GET /held", "task"]

    def test_a_remote_parent_makes_a_local_root(self, sdk: Sdk) -> None:
        """Under an inbound "not sampled" traceparent, the server span is the local root."""
        parent = trace.NonRecordingSpan(
            trace.SpanContext(0x4BF92F3577B34DA6A3CE929D0E0E4736, 0xF067AA0BA902B7, is_remote=True)
        )
        token = context_api.attach(trace.set_span_in_context(parent))
        try:
            sdk.request(503)
        finally:
            context_api.detach(token)
        assert sdk.kept_names() == ["GET /", "db"]

    def test_bounds(self) -> None:
        """max_spans per trace, max_traces at once: bounded, the request goes on."""
        sdk = Sdk(slow_ms=0)
        sdk.keeper._max_spans = 1
        try:
            sdk.request(500)
            assert sdk.kept_names() == ["db"]  # the first span ended; the root was not held
        finally:
            sdk.provider.shutdown()
