"""otel_context's two middleware, both sync and async capable.

``IdentifiersMiddleware`` binds what is known only after authentication and routing. The
instrumentation's ``request_hook`` runs before both, so it sits after
``AuthenticationMiddleware`` and does its work in ``process_view``.

``CorrelationMiddleware`` sits right before the instrumentation's middleware (outermost). It
derives the correlation id once, before anything can reject the request; ``request_hook``
reuses it. A request the instrumentation rejects before its hooks run (``DisallowedHost``,
raised while it builds the URL) still gets the id on its response and its log line.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.core.exceptions import ImproperlyConfigured
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponseBase

from otel_context.django.checks import ASGI_HINT, asgi_supported, require_usable_config
from otel_context.django.hooks import (
    CORRELATION_ATTR,
    STATE_ATTR,
    RequestState,
    echo_if_rejected,
    establish_correlation_id,
)
from otel_context.ended import REJECTED_ATTR

_logger = logging.getLogger(__name__)
PATH = "otel_context.django.middleware.IdentifiersMiddleware"
CORRELATION_PATH = "otel_context.django.middleware.CorrelationMiddleware"
GetResponse = Callable[[HttpRequest], HttpResponseBase | Awaitable[HttpResponseBase]]


class IdentifiersMiddleware:
    """Bind URL-kwarg and resolver identifiers once the view is known."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse) -> None:
        require_usable_config()  # a server that runs no checks starts with one clear error
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            if not asgi_supported():  # fail at start-up rather than trace nothing
                msg = f"otel_context: ASGI needs opentelemetry-instrumentation-asgi. {ASGI_HINT}"
                raise ImproperlyConfigured(msg)
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        """Pass the request on (sync or async, like the chain around it)."""
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> None:
        """Derive identifiers from the resolved view; never raises into the request."""
        state = request.__dict__.get(STATE_ATTR)  # request_state() inlined: per request
        if not isinstance(state, RequestState):
            self._check_asgi(request)
            return
        try:
            state.identifiers.on_view(view_kwargs)
        except Exception:
            _logger.exception("otel_context: deriving identifiers after routing failed")

    @staticmethod
    def _check_asgi(request: HttpRequest) -> None:
        if isinstance(request, ASGIRequest) and not asgi_supported():
            report_untraced_asgi()


class CorrelationMiddleware:
    """Derive the correlation id before the instrumentation; echo it if that rejects the request.

    .. versionadded:: 0.1.0
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: GetResponse) -> None:
        require_usable_config()
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        """Derive the id, pass the request on, echo the id if the instrumentation failed."""
        if self.is_async:
            return self._acall(request)
        establish_correlation_id(request)
        response = self.get_response(request)
        values = request.__dict__
        if REJECTED_ATTR not in values:  # echo_if_rejected's common case inlined: per request
            values.pop(CORRELATION_ATTR, None)
            return response
        return echo_if_rejected(request, response)  # type: ignore[arg-type]

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        establish_correlation_id(request)
        return echo_if_rejected(request, await self.get_response(request))  # type: ignore[misc]


@functools.cache
def report_untraced_asgi() -> None:
    """Log, once per process, that ASGI requests go untraced."""
    _logger.error("otel_context: ASGI requests are not traced. %s", ASGI_HINT)
