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
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from django.http import HttpResponse
from opentelemetry import context as otel_context

from otel_context import conf, correlation
from otel_context import request as lifecycle
from otel_context.attributes import CORRELATION_ID
from otel_context.baggage import peer_is_trusted
from otel_context.conf import get_config
from otel_context.django.identifiers import DjangoIdentifiers
from otel_context.django.streaming import hand_over, wants_hand_over
from otel_context.django.trace_response import add_trace_response_header
from otel_context.ended import REJECTED_ATTR, ended_fields, mark_ended, mark_rejected
from otel_context.flight_recorder import held_lines

if TYPE_CHECKING:
    from collections.abc import Mapping

    from django.http import HttpRequest, HttpResponseBase
    from opentelemetry.trace import Span

_logger = logging.getLogger(__name__)
STATE_ATTR = "_otel_context"
#: ``(correlation id, header it came in)``, set by ``CorrelationMiddleware`` before the chain.
CORRELATION_ATTR = "_otel_context_correlation"
#: The status recorded for a request whose client went away (nginx's "client closed request").
CLIENT_CLOSED_REQUEST = 499


class RequestState(NamedTuple):
    """What ``request_hook`` leaves on the request for the middleware and ``response_hook``.

    A named tuple, made without running Python code (:data:`_new_state`), once a request.
    """

    request: lifecycle.Request
    identifiers: DjangoIdentifiers


#: ``RequestState(*fields)`` from a tuple of its fields, without the Python ``__new__``.
_new_state: Final = functools.partial(tuple.__new__, RequestState)


def request_state(request: HttpRequest) -> RequestState | None:
    """The state ``request_hook`` attached to *request*, if it ran."""
    state = request.__dict__.get(STATE_ATTR)
    return state if isinstance(state, RequestState) else None


@functools.cache
def meta_key(header: str) -> str:
    """The ``request.META`` key of a request header (``X-Request-ID`` -> ``HTTP_X_REQUEST_ID``)."""
    return "HTTP_" + header.upper().replace("-", "_")


@functools.cache
def meta_names(headers: tuple[str, ...]) -> dict[str, str]:
    """``request.META`` key -> header name, in the headers' order (once per configuration).

    Two spellings of one header read one key: the first spelling is the one reported.
    """
    names: dict[str, str] = {}
    for header in headers:
        names.setdefault(meta_key(header), header)
    return names


def meta_headers(meta: Mapping[str, Any]) -> lifecycle.HeaderGetter:
    """Reads a request header from *meta* (``request.META``) by its name."""
    return lambda name: meta.get(meta_key(name))


def _no_header(name: str) -> None:
    """The header reader ``begin()`` never calls: ``CorrelationMiddleware`` derived the id."""


def establish_correlation_id(request: HttpRequest) -> None:
    """Derive the correlation id before anything can reject *request*; never raises.

    ``CorrelationMiddleware`` calls it first thing; ``request_hook`` then reuses the id, and
    a request rejected before the hooks ran (``DisallowedHost``) still has it.
    """
    try:
        config = conf._cached or get_config()  # noqa: SLF001 - per request: no call
        meta = request.META
        names = meta_names(config.correlation_id_headers)
        if names.keys().isdisjoint(meta.keys()):  # no correlation header: the common request
            generator = config.correlation_id_generator
            cid = (
                correlation.random_id()
                if generator is correlation.random_id
                else correlation.generate(generator)
            )
            request.__dict__[CORRELATION_ATTR] = (cid, None)
            return
        trusted = config.trust_correlation_id and peer_is_trusted(
            meta.get("REMOTE_ADDR"), config.trusted_networks
        )
        cid, key = correlation.from_headers(
            meta.get, names, trusted=trusted, generator=config.correlation_id_generator
        )  # lifecycle.correlation_from_headers, reading META by its own keys
        request.__dict__[CORRELATION_ATTR] = (cid, None if key is None else names[key])
    except Exception:
        _logger.exception("otel_context: deriving the correlation id failed")


def header_value(response: HttpResponseBase, name: str) -> str | None:
    """The value of header *name* that *response* already has (``None`` if absent).

    Django's ``response.get`` answers an absent header (the common case) with a ``KeyError``
    raised and caught in Python; its case-insensitive store is read directly when it has the
    known shape.
    """
    store = getattr(getattr(response, "headers", None), "_store", None)
    if type(store) is not dict:
        return response.get(name)
    found = store.get(name.lower())
    return found[1] if type(found) is tuple else None


def echo_if_rejected(request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
    """Echo the correlation id on a response Django made from an error in the instrumentation.

    The hooks never echoed it there (``DisallowedHost`` is raised before ``request_hook``, and
    an abandoned request's ``response_hook`` saw another response). A header already set is
    left alone. Never raises. Called after the middleware chain: a request that was not
    rejected drops its correlation tuple then (nothing reads it later), so it is freed at once
    rather than by the collector with Django's request (a reference cycle).
    """
    values = request.__dict__
    if REJECTED_ATTR not in values:  # the common case: one dict lookup
        values.pop(CORRELATION_ATTR, None)
        return response
    try:
        given = values.get(CORRELATION_ATTR)
        fields = ended_fields(request) or {}
        value = fields.get(CORRELATION_ID)
        if isinstance(given, tuple) and isinstance(value, str):
            config = get_config()
            name = config.correlation_id_response_header or given[1]
            name = name or config.correlation_id_headers[0]
            if not response.has_header(name):
                response[name] = value
    except Exception:
        _logger.exception("otel_context: echoing the correlation id of a rejected request failed")
    return response


def request_hook(span: Span, request: HttpRequest) -> None:
    """Begin the request. Never raises into the request."""
    try:
        config = conf._cached or get_config()  # noqa: SLF001 - per request: no call
        meta = request.META
        given = request.__dict__.get(CORRELATION_ATTR)
        derived = given if type(given) is tuple else None
        begun = lifecycle.begin(
            span,
            _no_header if derived else meta_headers(meta),  # no closure when it goes unread
            meta.get("REMOTE_ADDR"),
            config,
            derived,
        )
        identifiers = DjangoIdentifiers(request, begun.scope, config)
        begun.scope.refresh = identifiers.__call__  # a bound method: cheaper to call per event
        if config.hold_lines:
            begun.scope.held = held_lines(span, config)
        request.__dict__[STATE_ATTR] = _new_state((begun, identifiers))
    except Exception:
        _logger.exception("otel_context: request_hook failed; this request has no identifiers")


def response_hook(span: Span, request: HttpRequest, response: HttpResponse) -> None:
    """Echo the correlation id (unless the app set it) and end the request. Never raises."""
    state = request.__dict__.pop(STATE_ATTR, None)
    if not isinstance(state, RequestState):
        return
    begun = state.request
    scope = begun.scope
    handed_over = False
    try:
        # Django logs a returned 4xx after this: its record finds the ids on the request.
        mark_ended(request, scope, span)
        if scope.held is not None:
            scope.held.status = response.status_code
        # the user may have been loaded since the last log event: refresh (once), then settle
        lifecycle.settle_span(scope, scope.identifiers(settling=True))
        config = conf._cached or get_config()  # noqa: SLF001 - per request: no call
        echo = begun.echo(config, header_value, response)
        if echo is not None:  # a correlation header the app set is left as it is
            response[echo[0]] = echo[1]
        if config.trace_response_header:
            add_trace_response_header(span, response, config.trace_response_header)
        if getattr(response, "streaming", False) and wants_hand_over(response):
            hand_over(response, scope, span)  # type: ignore[arg-type]
            handed_over = True
    except Exception:
        _logger.exception("otel_context: response_hook failed")
    finally:
        if not handed_over:  # else the body's wrapper closes the scope
            scope.close()  # lifecycle.end(), inlined: per request
        otel_context.detach(begun.token)


def finish_abandoned(middleware: Any, request: HttpRequest, error: BaseException) -> None:
    """End a request that left the OTel middleware by an exception, as ``process_response`` would.

    Under ASGI a client disconnect cancels the request: ``CancelledError`` goes up through the
    instrumentation's middleware, so its ``process_response`` and our ``response_hook`` never
    run. The span would stay open and the span's ``use_span()`` generator would be closed later
    by the garbage collector, in whatever context is current then: "Failed to detach context"
    (opentelemetry-python-contrib #4102). Called from the middleware's ``__call__``, this runs
    in the context the request was attached in, so every token is reset where it was set.

    Any error leaving the instrumentation (``DisallowedHost`` from its ``process_request``,
    before ``request_hook``) marks the request rejected: Django's response to it, and its log
    line (``record.request``), get the correlation id (:func:`echo_if_rejected`).
    """
    given = request.__dict__.get(CORRELATION_ATTR)
    if type(given) is tuple:  # Django makes a response of the error: echo_if_rejected
        mark_rejected(request, given[0])
    if middleware._environ_activation_key not in request.META:  # noqa: SLF001
        return  # process_response already ran, or the request was not traced
    status = CLIENT_CLOSED_REQUEST if isinstance(error, asyncio.CancelledError) else 500
    try:
        middleware.process_response(request, HttpResponse(status=status))
    except Exception:
        _logger.exception("otel_context: ending an abandoned request failed")
