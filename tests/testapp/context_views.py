"""Views where request context usually gets lost: DRF, streaming, threads, async."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor

import structlog
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    JsonResponse,
    StreamingHttpResponse,
)
from rest_framework.authentication import BaseAuthentication, TokenAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

import otel_context

log = structlog.get_logger("tests.context")


class ApiKeyPrincipal:
    """A principal that is authenticated but is not a user (Flagsmith's API keys)."""

    is_authenticated = True
    pk = 999


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[ApiKeyPrincipal, str] | None:
        key = request.headers.get("X-Api-Key")
        return (ApiKeyPrincipal(), key) if key else None


class TokenView(APIView):
    authentication_classes = [TokenAuthentication]  # noqa: RUF012

    def get(self, request: Request) -> Response:
        log.info("drf.after_auth")
        return Response({"identifiers": otel_context.get_identifiers()})


class ApiKeyView(APIView):
    authentication_classes = [ApiKeyAuthentication]  # noqa: RUF012
    permission_classes = []  # noqa: RUF012

    def get(self, request: Request) -> Response:
        log.info("drf.api_key")
        return Response({"identifiers": otel_context.get_identifiers()})


def streaming(request: HttpRequest) -> StreamingHttpResponse:
    def body() -> Iterator[str]:
        for index in range(5):
            log.info("stream.chunk", index=index)
            yield f"chunk {index}\n"

    return StreamingHttpResponse(body())


def file_download(request: HttpRequest) -> FileResponse:
    """A file body: sent with wsgi.file_wrapper when the server offers it (sendfile)."""
    return FileResponse(io.BytesIO(b"file bytes"), filename="report.txt")


async def async_streaming(request: HttpRequest) -> StreamingHttpResponse:
    async def body() -> AsyncIterator[str]:
        for index in range(5):
            await asyncio.sleep(0)
            log.info("stream.chunk", index=index)
            yield f"chunk {index}\n"

    return StreamingHttpResponse(body())


async def async_view(request: HttpRequest, **kwargs: object) -> HttpResponse:
    log.info("async.start")
    await asyncio.sleep(0)
    otel_context.bind(feature="async")
    log.info("async.end")
    return JsonResponse({"identifiers": otel_context.get_identifiers()})


async def async_user(request: HttpRequest) -> HttpResponse:
    """Django's ``await request.auser()``: loads the user without ``request.user``."""
    log.info("async.anonymous")
    user = await request.auser()
    log.info("async.user", authenticated=user.is_authenticated)
    return JsonResponse({"identifiers": otel_context.get_identifiers()})


POOL = ThreadPoolExecutor(max_workers=1)


def _task(name: str) -> dict[str, str]:
    log.info("task.ran", task=name)
    return otel_context.get_identifiers()


def in_thread_pool(request: HttpRequest) -> HttpResponse:
    plain = POOL.submit(_task, "plain").result()
    carried = otel_context.ContextExecutor(POOL).submit(_task, "carried").result()
    return JsonResponse({"plain": plain, "carried": carried})
