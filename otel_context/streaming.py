"""Streamed bodies: the request scope handed to a child span that covers the body's iteration.

A streamed body is produced after the view returned, and the server instrumentations end
the request span by then (``DjangoInstrumentor`` in ``process_response``, contrib #4681;
Flask's in ``teardown_request``). A framework adapter calls :func:`hand_over` while the
server span is still current: the scope lives on under a child span,
``<server span name> stream``, and :class:`ScopedChunks` produces every chunk with that span
and the scope current. The span ends, and the scope closes, when the body is exhausted,
fails or is closed, also when it is closed before its first chunk (a client gone early).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import trace

from otel_context.scope import SCOPE_KEY, RequestScope
from otel_context.work import TRACER_NAME

if TYPE_CHECKING:
    from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator

    from opentelemetry.context import Context

Chunk = TypeVar("Chunk")


def hand_over(scope: RequestScope, span: trace.Span) -> tuple[Context, Callable[[], None]]:
    """Start *span*'s ``stream`` child span and move *scope* onto it.

    Returns:
        The context each chunk is produced in (the child span and *scope* current), and the
        function that ends the child span and closes *scope* (call it once).
    """
    name = getattr(span, "name", "response")
    stream = trace.get_tracer(TRACER_NAME).start_span(
        f"{name} stream", context=trace.set_span_in_context(span)
    )
    scope.span = stream  # late binds now go to a span that is still open
    context = otel_context.set_value(SCOPE_KEY, scope, trace.set_span_in_context(stream))

    def finish() -> None:
        stream.end()
        scope.close()

    return context, finish


class ScopedChunks(Generic[Chunk]):
    """Iterates *chunks* with *context* attached around each step; *finish* runs exactly once.

    A class rather than a generator: a generator closed before its first ``next()`` never
    runs its ``finally``, so a body closed unread would leave the span open for good.

    Args:
        chunks: The body.
        context: What :func:`hand_over` returned.
        finish: What :func:`hand_over` returned.
    """

    __slots__ = ("_chunks", "_context", "_finish", "_source")

    def __init__(
        self, chunks: Iterable[Chunk], context: Context, finish: Callable[[], None]
    ) -> None:
        self._source = chunks
        self._chunks: Iterator[Chunk] | None = None
        self._context = context
        self._finish: Callable[[], None] | None = finish

    def __iter__(self) -> ScopedChunks[Chunk]:
        return self

    def __next__(self) -> Chunk:
        if self._finish is None:
            raise StopIteration
        token = otel_context.attach(self._context)
        try:
            if self._chunks is None:
                self._chunks = iter(self._source)
            return next(self._chunks)
        except BaseException:  # exhausted (StopIteration) or failed: the body is over
            self._end()
            raise
        finally:
            otel_context.detach(token)

    def close(self) -> None:
        """Close the body (its own ``close``, if any), then end the span and the scope."""
        token = otel_context.attach(self._context)  # a body's cleanup may log, too
        try:
            close = getattr(self._source, "close", None)
            if callable(close):
                close()
        finally:
            self._end()
            otel_context.detach(token)

    def _end(self) -> None:
        finish, self._finish = self._finish, None
        if finish is not None:
            finish()


class AsyncScopedChunks(Generic[Chunk]):
    """:class:`ScopedChunks` for an async body (ASGI): *finish* runs exactly once.

    Besides ``aclose()`` it has a sync ``close()``, which Django's ``response.close()`` calls
    even when a client went away before the first chunk and nothing iterated the body.
    """

    __slots__ = ("_chunks", "_context", "_finish", "_source")

    def __init__(
        self, chunks: AsyncIterable[Chunk], context: Context, finish: Callable[[], None]
    ) -> None:
        self._source = chunks
        self._chunks: AsyncIterator[Chunk] | None = None
        self._context = context
        self._finish: Callable[[], None] | None = finish

    def __aiter__(self) -> AsyncScopedChunks[Chunk]:
        return self

    async def __anext__(self) -> Chunk:
        if self._finish is None:
            raise StopAsyncIteration
        token = otel_context.attach(self._context)
        try:
            if self._chunks is None:
                self._chunks = aiter(self._source)
            return await anext(self._chunks)
        except BaseException:  # exhausted, failed or cancelled: the body is over
            self._end()
            raise
        finally:
            otel_context.detach(token)

    async def aclose(self) -> None:
        """Close the body (its own ``aclose``, if any), then end the span and the scope."""
        token = otel_context.attach(self._context)
        try:
            close = getattr(
                self._chunks if self._chunks is not None else self._source, "aclose", None
            )
            if callable(close):
                await close()
        finally:
            self._end()
            otel_context.detach(token)

    def close(self) -> None:
        """End the span and the scope (the body is over; it is not awaited here)."""
        self._end()

    def _end(self) -> None:
        finish, self._finish = self._finish, None
        if finish is not None:
            finish()
