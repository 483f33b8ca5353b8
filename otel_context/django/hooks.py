"""The ``request_hook`` / ``response_hook`` pair given to ``DjangoInstrumentor``.

``request_hook`` runs right after the middleware made the server span current: it filters
the inbound baggage, derives the correlation id, and attaches one request scope. Its pair,
``response_hook``, runs while the span is still current (on 500s too), echoes the correlation
id, and detaches that scope before the middleware ends the span: last in, first out.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from opentelemetry import baggage
from opentelemetry import context as otel_context

from otel_context import correlation
from otel_context.attributes import CORRELATION_ID
from otel_context.baggage import filter_inbound, peer_is_trusted
from otel_context.conf import get_config
from otel_context.django.identifiers import DjangoIdentifiers
from otel_context.django.streaming import hand_over
from otel_context.scope import RequestScope, attach_scope, detach_scope

if TYPE_CHECKING:
    from contextvars import Token

    from django.http import HttpRequest, HttpResponse
    from opentelemetry.context import Context
    from opentelemetry.trace import Span

    from otel_context.conf import Config

_logger = logging.getLogger(__name__)
STATE_ATTR = "_otel_context"
DROPPED_ATTRIBUTE = "otel_context.baggage.dropped"


@dataclass(slots=True)
class RequestState:
    """What ``request_hook`` leaves on the request for the middleware and ``response_hook``."""

    scope: RequestScope
    token: Token[Context]
    identifiers: DjangoIdentifiers
    correlation_id: str
    correlation_header: str | None


def request_state(request: HttpRequest) -> RequestState | None:
    """The state ``request_hook`` attached to *request*, if it ran."""
    state = request.__dict__.get(STATE_ATTR)
    return state if isinstance(state, RequestState) else None


def _header(request: HttpRequest, name: str) -> str | None:
    return request.META.get("HTTP_" + name.upper().replace("-", "_"))


def _begin(span: Span, request: HttpRequest, config: Config) -> RequestState:
    trusted_peer = peer_is_trusted(request.META.get("REMOTE_ADDR"), config.trusted_networks)
    inbound = filter_inbound(baggage.get_all(), config, trusted_peer=trusted_peer)
    cid, header = correlation.from_headers(
        lambda name: _header(request, name),
        config.correlation_id_headers,
        trusted=config.trust_correlation_id and trusted_peer,
        generator=config.correlation_id_generator,
    )
    if header is None and CORRELATION_ID in inbound.identifiers:
        cid = inbound.identifiers[CORRELATION_ID]  # a trusted upstream hop's id
    scope = RequestScope(span, span_attributes=config.span_attributes)
    scope.bind({**inbound.identifiers, CORRELATION_ID: cid})
    identifiers = DjangoIdentifiers(request, scope, config)
    scope.refresh = identifiers
    context = baggage.clear()
    for key, value in {**inbound.kept, CORRELATION_ID: cid}.items():
        context = baggage.set_baggage(key, value, context)
    if inbound.dropped and span.is_recording():
        span.set_attribute(DROPPED_ATTRIBUTE, inbound.dropped)
    token = attach_scope(scope, context)
    return RequestState(scope, token, identifiers, cid, header)


def request_hook(span: Span, request: HttpRequest) -> None:
    """Start the request scope. Never raises into the request."""
    try:
        request.__dict__[STATE_ATTR] = _begin(span, request, get_config())
    except Exception:
        _logger.exception("otel_context: request_hook failed; this request has no identifiers")


def response_hook(span: Span, request: HttpRequest, response: HttpResponse) -> None:
    """Echo the correlation id and end the request scope. Never raises into the request."""
    state = request.__dict__.pop(STATE_ATTR, None)
    if not isinstance(state, RequestState):
        return
    handed_over = False
    try:
        state.identifiers()  # the user may have been loaded since the last log event
        config = get_config()
        header = (
            config.correlation_id_response_header
            or state.correlation_header
            or config.correlation_id_headers[0]
        )
        response[header] = state.correlation_id
        if getattr(response, "streaming", False):
            hand_over(response, state.scope, span)  # type: ignore[arg-type]
            handed_over = True
    except Exception:
        _logger.exception("otel_context: response_hook failed")
    finally:
        if handed_over:
            otel_context.detach(state.token)  # the body's wrapper closes the scope when done
        else:
            detach_scope(state.scope, state.token)
