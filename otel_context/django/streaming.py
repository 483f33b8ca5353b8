"""Django streaming responses: the body is produced after the request span has ended.

``DjangoInstrumentor`` ends the server span in ``process_response``, before a
``StreamingHttpResponse`` body is iterated (opentelemetry-python-contrib #4681). So
``response_hook`` hands the request scope over (:mod:`otel_context.streaming`) to a child span,
``<server span name> stream``, that covers the iteration: every chunk is produced with that
span and the scope current, and the span ends (and the scope closes) when the body is
exhausted, fails or is closed.

A ``FileResponse`` the server sends with ``wsgi.file_wrapper`` (``sendfile``) is not handed
over: wrapping its body would turn that off, and a file's bytes log nothing.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from otel_context.streaming import AsyncScopedChunks, ScopedChunks
from otel_context.streaming import hand_over as hand_over_scope

if TYPE_CHECKING:
    from django.http import StreamingHttpResponse
    from opentelemetry import trace

    from otel_context.scope import RequestScope


def wants_hand_over(response: object) -> bool:
    """Whether *response* streams a body worth handing the scope over to."""
    return bool(getattr(response, "streaming", False)) and (
        getattr(response, "file_to_stream", None) is None
    )


def hand_over(response: StreamingHttpResponse, scope: RequestScope, span: trace.Span) -> None:
    """Let *scope* live on, under a child span, until *response*'s body is done."""
    ctx, finish = hand_over_scope(scope, span)
    if response.is_async:
        response.streaming_content = AsyncScopedChunks(response.streaming_content, ctx, finish)  # type: ignore[arg-type]
    else:
        response.streaming_content = ScopedChunks(response.streaming_content, ctx, finish)  # type: ignore[arg-type]
