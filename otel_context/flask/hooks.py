"""The request functions and the WSGI layer that :func:`~otel_context.flask.instrument_app` adds.

``before_request`` attaches the request scope (:func:`otel_context.request.begin`) and binds
URL-kwarg and resolver ids; ``after_request`` hands a streamed body the scope;
``teardown_request`` ends the scope just before the instrumentation ends the span;
:class:`ContextGuard`, the outermost WSGI layer, echoes the correlation id and restores the
context a request found if a teardown function raised and skipped ours.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import logging
import sys
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, cast

import flask
from opentelemetry import context as otel_context
from werkzeug.wsgi import ClosingIterator

from otel_context import _private
from otel_context import request as lifecycle
from otel_context._url_kwargs import Route, view_path
from otel_context.conf import get_config
from otel_context.flight_recorder import held_lines, note_status
from otel_context.identifiers import bind_derived, from_url_kwargs, run_resolvers
from otel_context.streaming import ScopedChunks, hand_over

if TYPE_CHECKING:
    from collections.abc import Hashable, Iterable, Mapping

    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment
    from opentelemetry.trace import Span

    from otel_context._parsers import UrlKwargRule
    from otel_context._url_kwargs import UrlKwargs
    from otel_context.conf import Config

__all__ = [
    "STATE_KEY",
    "ContextGuard",
    "RequestState",
    "after_request",
    "before_request",
    "teardown_request",
]

# The logger keeps the name it had before the code moved here: filters on it still apply.
_logger = logging.getLogger("otel_context.flask")
_private.require(_private.FLASK_NAMES)  # all missing ones in one error, at import
# The instrumentation's WSGI environ keys, per request: the server span it started (absent:
# the request is not traced) and the ``use_span`` activation its teardown exits.
_ENVIRON_SPAN_KEY: Final[str] = _private.resolve(_private.FLASK_SPAN_KEY)
_ENVIRON_ACTIVATION_KEY: Final[str] = _private.resolve(_private.FLASK_ACTIVATION_KEY)
#: The ``environ`` key of a request's :class:`RequestState`.
STATE_KEY: Final = "otel_context.request"


@dataclass(slots=True)
class RequestState:
    """What the ``before_request`` function leaves in the WSGI environ for the rest."""

    request: lifecycle.Request
    config: Config
    #: The Flask request context that began the request: only its teardown ends it.
    owner: weakref.ReferenceType[object]
    #: Resolvers that found nothing after routing, run once more when the response starts.
    retry: tuple[str, ...] = field(default=())
    #: Whether a streamed body took the scope over (it closes the scope when it is done).
    handed_over: bool = False


def _request_context() -> object:
    return cast("Any", flask.globals.request_ctx)._get_current_object()  # noqa: SLF001


def _header(environ: WSGIEnvironment, name: str) -> str | None:
    value = environ.get("HTTP_" + name.upper().replace("-", "_"))
    return value if isinstance(value, str) else None


def _bind_routed(state: RequestState) -> None:
    """Bind the URL-kwarg ids and run the resolvers, if the request found a route."""
    if flask.request.url_rule is None:
        return  # a 404 or 405: as with Django, no view, so no resolvers (scanners cost nothing)
    config = state.config
    ids = from_url_kwargs(flask.request.view_args or {}, _url_rules(config.url_kwargs))
    resolved = run_resolvers(tuple(config.resolvers), config.resolvers, flask.request)
    state.retry = tuple(name for name in config.resolvers if resolved.get(name) is None)
    bind_derived(state.request.scope, ids, resolved, config.resolvers.over_url)


def _url_rules(rules: UrlKwargs) -> Mapping[str, UrlKwargRule]:
    """``URL_KWARGS`` on this request's route; a dict lookup once the route was seen."""
    rule = flask.request.url_rule
    if not rules.scoped or rule is None:
        return rules
    key = (rule.rule, rule.endpoint, flask.current_app.view_functions.get(rule.endpoint))
    return rules.for_route(key, _describe_route)


def _describe_route(key: Hashable) -> Route:
    """A Flask route for ``URL_KWARGS`` scopes: its name is the endpoint (``bp.view``)."""
    pattern, endpoint, view = cast("tuple[str, str, object]", key)
    return Route(endpoint, "", pattern, view_path(view))


def before_request() -> None:
    """Begin the request once it is routed and its span current. Never raises."""
    environ = flask.request.environ
    span: Span | None = environ.get(_ENVIRON_SPAN_KEY)
    if span is None:
        return  # not traced (an excluded URL): no span, no ids, as with Django
    try:
        config = get_config()
        begun = lifecycle.begin(
            span, lambda name: _header(environ, name), environ.get("REMOTE_ADDR"), config
        )
        if config.hold_lines:  # the flight recorder, as for a Django request
            begun.scope.held = held_lines(span, config)
        state = environ[STATE_KEY] = RequestState(begun, config, weakref.ref(_request_context()))
        _bind_routed(state)
    except Exception:
        _logger.exception("otel_context: beginning the Flask request failed; ids may be missing")


def _streams_from_the_app(response: flask.Response) -> bool:
    """Whether the body is the app's own iterator, still to run (not a ready-made body).

    An error response (``abort(404)``, an unhandled exception's 500) is a werkzeug response
    run through ``force_type``: its ready body comes back wrapped in a ``ClosingIterator``.
    """
    return (
        response.is_streamed
        and not response.direct_passthrough
        and not isinstance(response.response, ClosingIterator)
    )


def after_request(response: flask.Response) -> flask.Response:
    """Hand a streamed body the request scope, under a ``stream`` child span. Never raises.

    The instrumentation ends the server span in its teardown, before the body streams. Not for
    ``send_file`` responses (``direct_passthrough``): their bytes log nothing, and wrapping
    them would turn off the server's ``wsgi.file_wrapper``.
    """
    try:
        environ = flask.request.environ
        state = environ.get(STATE_KEY)
        span = environ.get(_ENVIRON_SPAN_KEY)
        if isinstance(state, RequestState):
            note_status(state.request.scope, response.status_code)
        if (
            isinstance(state, RequestState)
            and span is not None
            and _streams_from_the_app(response)
            and state.owner() is _request_context()
        ):
            context, finish = hand_over(state.request.scope, span)
            body = cast("Iterable[bytes]", response.response)
            response.response = ScopedChunks(body, context, finish)
            state.handed_over = True
    except Exception:
        _logger.exception("otel_context: handing the scope to a streamed body failed")
    return response


def teardown_request(exc: BaseException | None) -> None:
    """End the request's scope, before the instrumentation detaches its context. Never raises."""
    try:
        environ = flask.request.environ
        state = environ.get(STATE_KEY)
        # A copy of the request context (copy_current_request_context) tears down in its own
        # thread: the request is not over, and its token belongs to this thread's context.
        if isinstance(state, RequestState) and state.owner() is _request_context():
            lifecycle.settle_span(state.request.scope)  # the span is still open here
            if state.handed_over:  # the body closes the scope once it is done
                otel_context.detach(state.request.token)
            else:
                lifecycle.end(state.request)
            del environ[STATE_KEY]  # only now: if end() failed, the WSGI guard cleans up
    except Exception:
        _logger.exception("otel_context: ending the Flask request failed")


def _on_response(environ: WSGIEnvironment, headers: list[tuple[str, str]]) -> None:
    """Late resolvers, then the correlation header (unless the app set it). Never raises."""
    state = environ.get(STATE_KEY)
    if not isinstance(state, RequestState):
        return
    try:
        if state.retry:
            retry, state.retry = state.retry, ()
            resolved = run_resolvers(retry, state.config.resolvers, flask.request)
            bind_derived(state.request.scope, {}, resolved, state.config.resolvers.over_url)
        echo = state.request.echo(state.config, _response_header, headers)
        if echo is not None:  # a correlation header the app set is left as it is
            headers.append(echo)
    except Exception:
        _logger.exception("otel_context: echoing the correlation id failed")


def _response_header(headers: list[tuple[str, str]], name: str) -> str | None:
    lowered = name.lower()
    return next((value for key, value in headers if key.lower() == lowered), None)


class ContextGuard:
    """The outermost WSGI layer: correlation header, and no context outlives the request.

    Args:
        wsgi_app: The app's WSGI callable (already wrapped by the instrumentation).
    """

    __slots__ = ("wsgi_app",)

    def __init__(self, wsgi_app: WSGIApplication) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Any:
        """Run the request; echo the correlation id; restore the context if it leaked."""
        entry = otel_context.get_current()
        # Resetting this token restores *entry* whatever was attached on top and not detached.
        bookmark = otel_context.attach(entry)

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            _on_response(environ, headers)
            return start_response(status, headers, exc_info)

        try:
            return self.wsgi_app(environ, start)
        finally:
            _restore(environ, entry, bookmark)


def _restore(environ: WSGIEnvironment, entry: otel_context.Context, bookmark: Any) -> None:
    """After the app returned: if our teardown never ran, close the scope, restore *entry*."""
    state = environ.pop(STATE_KEY, None)
    if isinstance(state, RequestState):
        state.request.scope.close()
    elif otel_context.get_current() is entry:
        return  # the normal case: every attach of the request was detached
    _logger.warning(
        "otel_context: a teardown_request function raised or the context leaked; the request's"
        " context was discarded"
    )
    try:
        _end_abandoned_span(environ)
    finally:
        otel_context.detach(bookmark)


def _end_abandoned_span(environ: WSGIEnvironment) -> None:
    """Exit the instrumentation's ``use_span`` if its teardown was skipped too.

    Left alone, the abandoned generator would end the span and reset its token whenever the
    garbage collector finalizes it: in another request's context, or another thread's.
    """
    activation = environ.pop(_ENVIRON_ACTIVATION_KEY, None)
    if activation is not None:
        activation.__exit__(*sys.exc_info())
