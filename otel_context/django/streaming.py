"""Streaming responses: the body is produced after the request span has ended.

``DjangoInstrumentor`` ends the server span in ``process_response``, before a
``StreamingHttpResponse`` body is iterated (opentelemetry-python-contrib #4681). So
``response_hook`` hands the request scope to a child span, ``<server span name> stream``,
that covers the iteration: every chunk is produced with that span and the scope current,
and the span ends (and the scope closes) when the body is exhausted, fails or is closed.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from opentelemetry import context as otel_context
from opentelemetry import trace

from otel_context.scope import SCOPE_KEY, RequestScope
from otel_context.work import TRACER_NAME

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator

    from django.http import StreamingHttpResponse


def hand_over(response: StreamingHttpResponse, scope: RequestScope, span: trace.Span) -> None:
    """Let *scope* live on, under a child span, until *response*'s body is done."""
    name = getattr(span, "name", "response")
    stream = trace.get_tracer(TRACER_NAME).start_span(
        f"{name} stream", context=trace.set_span_in_context(span)
    )
    scope.span = stream  # late binds now go to a span that is still open
    ctx = otel_context.set_value(SCOPE_KEY, scope, trace.set_span_in_context(stream))

    def finish() -> None:
        stream.end()
        scope.close()

    if response.is_async:
        response.streaming_content = _async_chunks(response.streaming_content, ctx, finish)  # type: ignore[arg-type]
    else:
        response.streaming_content = _chunks(response.streaming_content, ctx, finish)  # type: ignore[arg-type]


def _chunks(
    chunks: Iterator[bytes], ctx: otel_context.Context, finish: Callable[[], None]
) -> Iterator[bytes]:
    try:
        while True:
            token = otel_context.attach(ctx)
            try:
                chunk = next(chunks)
            except StopIteration:
                return
            finally:
                otel_context.detach(token)
            yield chunk
    finally:
        finish()


async def _async_chunks(
    chunks: AsyncIterator[bytes], ctx: otel_context.Context, finish: Callable[[], None]
) -> AsyncIterator[bytes]:
    try:
        while True:
            token = otel_context.attach(ctx)
            try:
                chunk = await anext(chunks)
            except StopAsyncIteration:
                return
            finally:
                otel_context.detach(token)
            yield chunk
    finally:
        finish()
