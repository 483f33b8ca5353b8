"""A Django site with stdlib ``logging`` and an app that sets its own response ids (issue 22).

Served by real gunicorn and uvicorn in ``tests/integration/test_stdlib_formats.py`` and
``tests/integration/test_app_headers.py``, with ``DJANGO_SETTINGS_MODULE=tests.formats_settings``
(that module's ``ROOT_URLCONF`` is this module). Views log through stdlib ``logging`` only.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import TYPE_CHECKING

from django.http import HttpResponse, StreamingHttpResponse
from django.urls import path

import otel_context

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from django.http import HttpRequest
    from django.http.response import HttpResponseBase

log = logging.getLogger("formats.app")
#: The id the app answers with on ``/app-ids/unsafe/``: 2 KB, spaces, markup.
UNSAFE_APP_ID = "app id <b>" + "x" * 2048
#: The ``traceresponse`` the app sets itself on ``/app-ids/traceresponse/``.
APP_TRACERESPONSE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def work(request: HttpRequest, **kwargs: object) -> HttpResponse:
    """Logs in the request and from a plain thread (no context); ``?order=`` binds order.id."""
    if order := request.GET.get("order"):
        otel_context.bind(order__id=order)
    log.info("app.work")
    thread = threading.Thread(target=log.info, args=("app.thread",))
    thread.start()
    thread.join()
    return HttpResponse("ok")


def boom(request: HttpRequest, **kwargs: object) -> HttpResponse:
    log.info("app.boom")
    msg = "deliberate failure"
    raise RuntimeError(msg)


def refuses(request: HttpRequest) -> HttpResponse:
    """Returns a 401: Django logs "Unauthorized" after the middleware chain."""
    log.info("app.refuses")
    return HttpResponse(status=401)


def stream(request: HttpRequest, **kwargs: object) -> StreamingHttpResponse:
    def chunks() -> Iterator[bytes]:
        for number in range(2):
            log.info("app.chunk")
            yield f"chunk {number}\n".encode()

    return StreamingHttpResponse(chunks())


class AppRequestIdMiddleware:
    """The application's own request id on ``/app-ids/...`` responses, as a real app sets it.

    ``/app-ids/unsafe/...`` answers :data:`UNSAFE_APP_ID`; ``/app-ids/traceresponse/`` also
    sets :data:`APP_TRACERESPONSE`. Placed after the OpenTelemetry middleware (index 0).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if request.path.startswith("/app-ids/"):
            unsafe = request.path.startswith("/app-ids/unsafe/")
            response["X-Request-ID"] = UNSAFE_APP_ID if unsafe else f"app-{uuid.uuid4().hex}"
            if request.path == "/app-ids/traceresponse/":
                response["traceresponse"] = APP_TRACERESPONSE
        return response


urlpatterns = [
    path("healthz", healthz),
    path("shards/<str:shard_pk>/orgs/<int:organisation_pk>/", work),
    path("plain/", work),
    path("boom/", boom),
    path("refuses/", refuses),
    path("stream/", stream),
    path("app-ids/<str:kind>/", work),
    path("app-ids/<str:kind>/boom/", boom),
    path("app-ids/<str:kind>/stream/", stream),
]
