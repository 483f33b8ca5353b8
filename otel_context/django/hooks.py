"""The ``request_hook`` / ``response_hook`` pair given to ``DjangoInstrumentor``.

``request_hook`` runs right after the middleware made the server span current and begins
the request (:func:`otel_context.request.begin`). Its pair, ``response_hook``, runs while
the span is still current (on 500s too), echoes the correlation id, and ends the request
before the middleware ends the span: last in, first out.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.http import HttpResponse
from opentelemetry import context as otel_context

from otel_context import request as lifecycle
from otel_context.conf import get_config
from otel_context.django.identifiers import DjangoIdentifiers
from otel_context.django.streaming import hand_over, wants_hand_over
from otel_context.django.trace_response import add_trace_response_header
from otel_context.scope import mark_ended

if TYPE_CHECKING:
    from django.http import HttpRequest
    from opentelemetry.trace import Span

_logger = logging.getLogger(__name__)
STATE_ATTR = "_otel_context"
#: The status recorded for a request whose client went away (nginx's "client closed request").
CLIENT_CLOSED_REQUEST = 499


@dataclass(slots=True)
class RequestState:
    """What ``request_hook`` leaves on the request for the middleware and ``response_hook``."""

    request: lifecycle.Request
    identifiers: DjangoIdentifiers


def request_state(request: HttpRequest) -> RequestState | None:
    """The state ``request_hook`` attached to *request*, if it ran."""
    state = request.__dict__.get(STATE_ATTR)
    return state if isinstance(state, RequestState) else None


@functools.cache
def meta_key(header: str) -> str:
    """The ``request.META`` key of a request header (``X-Request-ID`` -> ``HTTP_X_REQUEST_ID``)."""
    return "HTTP_" + header.upper().replace("-", "_")


def request_hook(span: Span, request: HttpRequest) -> None:
    """Begin the request. Never raises into the request."""
    try:
        config = get_config()
        meta = request.META
        begun = lifecycle.begin(
            span, lambda name: meta.get(meta_key(name)), meta.get("REMOTE_ADDR"), config
        )
        identifiers = DjangoIdentifiers(request, begun.scope, config)
        begun.scope.refresh = identifiers
        request.__dict__[STATE_ATTR] = RequestState(begun, identifiers)
    except Exception:
        _logger.exception("otel_context: request_hook failed; this request has no identifiers")


def response_hook(span: Span, request: HttpRequest, response: HttpResponse) -> None:
    """Echo the correlation id (unless the app set it) and end the request. Never raises."""
    state = request.__dict__.pop(STATE_ATTR, None)
    if not isinstance(state, RequestState):
        return
    handed_over = False
    try:
        # Django logs a returned 4xx after this: its record finds the ids on the request.
        mark_ended(request, state.request.scope, span)
        state.identifiers()  # the user may have been loaded since the last log event
        lifecycle.settle_span(state.request.scope)
        config = get_config()
        echo = state.request.echo(config, response.get)
        if echo is not None:  # a correlation header the app set is left as it is
            response[echo[0]] = echo[1]
        if config.trace_response_header:
            add_trace_response_header(span, response, config.trace_response_header)
        if wants_hand_over(response):
            hand_over(response, state.request.scope, span)  # type: ignore[arg-type]
            handed_over = True
    except Exception:
        _logger.exception("otel_context: response_hook failed")
    finally:
        if handed_over:
            otel_context.detach(state.request.token)  # the body's wrapper closes the scope
        else:
            lifecycle.end(state.request)


def finish_abandoned(middleware: Any, request: HttpRequest, error: BaseException) -> None:
    """End a request that left the OTel middleware by an exception, as ``process_response`` would.

    Under ASGI a client disconnect cancels the request: ``CancelledError`` goes up through the
    instrumentation's middleware, so its ``process_response`` and our ``response_hook`` never
    run. The span would stay open and the span's ``use_span()`` generator would be closed later
    by the garbage collector, in whatever context is current then: "Failed to detach context"
    (opentelemetry-python-contrib #4102). Called from the middleware's ``__call__``, this runs
    in the context the request was attached in, so every token is reset where it was set.
    """
    if middleware._environ_activation_key not in request.META:  # noqa: SLF001
        return  # process_response already ran, or the request was not traced
    status = CLIENT_CLOSED_REQUEST if isinstance(error, asyncio.CancelledError) else 500
    try:
        middleware.process_response(request, HttpResponse(status=status))
    except Exception:
        _logger.exception("otel_context: ending an abandoned request failed")
