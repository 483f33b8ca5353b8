"""``IdentifiersMiddleware``: binds what is known only after authentication and routing.

The instrumentation's ``request_hook`` runs before both, so this middleware sits after
``AuthenticationMiddleware`` and does its work in ``process_view``. It is sync and async
capable and adds no work to the request/response path itself.

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

from otel_context.django.checks import asgi_hint, asgi_supported, require_usable_config
from otel_context.django.hooks import request_state

_logger = logging.getLogger(__name__)
PATH = "otel_context.django.middleware.IdentifiersMiddleware"
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
                msg = f"otel_context: ASGI needs opentelemetry-instrumentation-asgi. {asgi_hint()}"
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
        state = request_state(request)
        if state is None:
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


@functools.cache
def report_untraced_asgi() -> None:
    """Log, once per process, that ASGI requests go untraced."""
    _logger.error("otel_context: ASGI requests are not traced. %s", asgi_hint())
