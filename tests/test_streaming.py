"""The hand-over of a request scope to a streamed body, sync and async, real SDK spans."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import pytest

from otel_context import get_identifiers
from otel_context.scope import RequestScope, current_scope
from otel_context.streaming import AsyncScopedChunks, ScopedChunks, hand_over

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

pytestmark = pytest.mark.usefixtures("instrumented")


def _handed_over(provider: TracerProvider) -> tuple[RequestScope, tuple[object, object]]:
    """A request span that ends before its body, as the server instrumentations do."""
    with provider.get_tracer("tests").start_as_current_span("GET body/") as span:
        scope = RequestScope(span)
        scope.bind({"correlation.id": "body-1"})
        handed = hand_over(scope, span)
    return scope, handed


def _names(exporter: InMemorySpanExporter) -> list[str]:
    return [span.name for span in exporter.get_finished_spans()]


class TestSyncBody:
    def test_each_chunk_runs_with_the_scope_and_the_stream_span(
        self, instrumented: TracerProvider, exporter: InMemorySpanExporter
    ) -> None:
        """Chunks see the ids; after the last one the stream span ends, the scope closes."""
        scope, (context, finish) = _handed_over(instrumented)
        seen: list[dict[str, str]] = []

        def body() -> Iterator[bytes]:
            for index in range(3):
                seen.append(get_identifiers())
                yield b"%d" % index

        chunks = ScopedChunks(body(), context, finish)  # type: ignore[arg-type]
        assert list(chunks) == [b"0", b"1", b"2"]
        assert seen == [{"correlation.id": "body-1"}] * 3
        assert _names(exporter) == ["GET body/", "GET body/ stream"]
        assert scope.closed
        assert current_scope() is None

    def test_closed_before_its_first_chunk_still_ends(
        self, instrumented: TracerProvider, exporter: InMemorySpanExporter
    ) -> None:
        """A client gone early: close() alone ends the span; the body never ran."""
        scope, (context, finish) = _handed_over(instrumented)
        ran: list[bool] = []

        def body() -> Iterator[bytes]:
            ran.append(True)
            yield b"never"

        ScopedChunks(body(), context, finish).close()  # type: ignore[arg-type]
        assert ran == []
        assert _names(exporter) == ["GET body/", "GET body/ stream"]
        assert scope.closed

    def test_a_failing_body_ends_once_and_close_after_it_is_harmless(
        self,
        instrumented: TracerProvider,
        exporter: InMemorySpanExporter,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """The error reaches the server; the span ends once (no "ended span" warning)."""
        _, (context, finish) = _handed_over(instrumented)

        def body() -> Iterator[bytes]:
            yield b"first"
            msg = "body failed"
            raise RuntimeError(msg)

        chunks = ScopedChunks(body(), context, finish)  # type: ignore[arg-type]
        assert next(chunks) == b"first"
        with pytest.raises(RuntimeError, match="body failed"), caplog.at_level(logging.WARNING):
            next(chunks)
        chunks.close()
        with pytest.raises(StopIteration):
            next(chunks)
        assert _names(exporter) == ["GET body/", "GET body/ stream"]
        assert "ended span" not in caplog.text


class TestAsyncBody:
    def test_each_chunk_runs_with_the_scope_and_the_stream_span(
        self, instrumented: TracerProvider, exporter: InMemorySpanExporter
    ) -> None:
        """The same for an async body: ids across awaits, span ends at exhaustion."""
        scope, (context, finish) = _handed_over(instrumented)
        seen: list[dict[str, str]] = []

        async def body() -> AsyncIterator[bytes]:
            for index in range(3):
                await asyncio.sleep(0)
                seen.append(get_identifiers())
                yield b"%d" % index

        async def consume() -> list[bytes]:
            return [chunk async for chunk in AsyncScopedChunks(body(), context, finish)]  # type: ignore[arg-type]

        assert asyncio.run(consume()) == [b"0", b"1", b"2"]
        assert seen == [{"correlation.id": "body-1"}] * 3
        assert _names(exporter) == ["GET body/", "GET body/ stream"]
        assert scope.closed

    def test_sync_close_before_its_first_chunk_still_ends(
        self, instrumented: TracerProvider, exporter: InMemorySpanExporter
    ) -> None:
        """Django's response.close() after a disconnect: the sync close() ends the span."""
        scope, (context, finish) = _handed_over(instrumented)

        async def body() -> AsyncIterator[bytes]:
            yield b"never"

        AsyncScopedChunks(body(), context, finish).close()  # type: ignore[arg-type]
        assert _names(exporter) == ["GET body/", "GET body/ stream"]
        assert scope.closed

    def test_aclose_after_a_chunk_runs_the_bodys_cleanup_with_the_ids(
        self, instrumented: TracerProvider, exporter: InMemorySpanExporter
    ) -> None:
        """aclose() reaches the body's finally in the scope, then ends the span."""
        _, (context, finish) = _handed_over(instrumented)
        cleanup: list[dict[str, str]] = []

        async def body() -> AsyncIterator[bytes]:
            try:
                yield b"first"
                yield b"second"
            finally:
                cleanup.append(get_identifiers())

        async def read_one_then_close() -> bytes:
            chunks = AsyncScopedChunks(body(), context, finish)  # type: ignore[arg-type]
            first = await anext(chunks)
            await chunks.aclose()
            return first

        assert asyncio.run(read_one_then_close()) == b"first"
        assert cleanup == [{"correlation.id": "body-1"}]
        assert _names(exporter) == ["GET body/", "GET body/ stream"]
