"""Requests rejected before the view keep their correlation id (issue 21, point 6).

``DisallowedHost`` is raised inside the instrumentation's ``process_request``, before
``request_hook``: ``CorrelationMiddleware`` (outermost) derived the id already, so Django's
400 carries it, and so does its ``django.security.DisallowedHost`` line.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import pytest
from asgiref.sync import async_to_sync
from django.http import HttpRequest, HttpResponse
from django.test import AsyncClient, Client
from opentelemetry import context as otel_context

from otel_context import OTelContextFilter
from otel_context.django import hooks
from otel_context.ended import mark_rejected

if TYPE_CHECKING:
    from collections.abc import Iterator

HEX_ID = re.compile(r"[0-9a-f]{32}")


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def security_records() -> Iterator[_Records]:
    """Records of Django's ``django.security`` and ``django.request`` loggers, filtered."""
    handler = _Records()
    handler.addFilter(OTelContextFilter())
    loggers = [logging.getLogger(name) for name in ("django.security", "django.request")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        yield handler
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


@pytest.fixture
def strict_hosts(settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["testserver"]


@pytest.mark.usefixtures("strict_hosts")
class TestDisallowedHost:
    @pytest.mark.parametrize(
        ("headers", "header", "expected"),
        [
            ({"Correlation-Id": "inbound-1"}, "Correlation-Id", "inbound-1"),
            ({"X-Request-ID": "nginx-2"}, "X-Request-ID", "nginx-2"),
            ({"Correlation-Id": "not valid!"}, "Correlation-Id", None),
            ({}, "Correlation-Id", None),
        ],
    )
    def test_400_and_its_line_carry_the_id(
        self,
        security_records: _Records,
        headers: dict[str, str],
        header: str,
        expected: str | None,
    ) -> None:
        """A valid inbound id is echoed, else a generated one; the security line has it too."""
        response = Client().get("/plain/", headers={"Host": "evil.example", **headers})
        assert response.status_code == 400
        value = response[header]
        if expected is None:
            assert HEX_ID.fullmatch(value)
        else:
            assert value == expected
        (record,) = security_records.records
        assert record.name == "django.security.DisallowedHost"
        assert record.correlation_id == value  # type: ignore[attr-defined]
        assert otel_context.get_current() == {}

    def test_async(self, security_records: _Records) -> None:
        """Under ASGI the same."""
        import asyncio

        async def get() -> Any:
            return await AsyncClient().get(
                "/plain/", headers={"Host": "evil.example", "Correlation-Id": "async-1"}
            )

        response = asyncio.run(get())
        assert response.status_code == 400
        assert response["Correlation-Id"] == "async-1"
        (record,) = security_records.records
        assert record.correlation_id == "async-1"  # type: ignore[attr-defined]

    def test_no_leak_to_the_next_request(self, security_records: _Records) -> None:
        """The next request on the thread has its own id; nothing stays in the context."""
        client = Client()
        client.get("/plain/", headers={"Host": "evil.example", "Correlation-Id": "first"})
        response = client.get("/plain/", headers={"Correlation-Id": "second"})
        assert response.status_code == 200
        assert response["Correlation-Id"] == "second"
        assert response.json()["identifiers"]["correlation.id"] == "second"
        assert otel_context.get_current() == {}


class TestEchoIfRejected:
    def test_a_header_already_set_is_left_alone(self) -> None:
        """The application's (or Django's) header wins over the echo."""
        request = HttpRequest()
        request.__dict__[hooks.CORRELATION_ATTR] = ("ours", None)
        mark_rejected(request, "ours")
        response = HttpResponse(status=400, headers={"Correlation-Id": "theirs"})
        assert hooks.echo_if_rejected(request, response)["Correlation-Id"] == "theirs"

    def test_a_request_that_was_not_rejected_is_untouched(self) -> None:
        """No mark, no header: an excluded URL keeps answering without one."""
        request = HttpRequest()
        request.__dict__[hooks.CORRELATION_ATTR] = ("ours", None)
        assert not hooks.echo_if_rejected(request, HttpResponse()).has_header("Correlation-Id")


class TestDerivedOnce:
    def test_request_hook_reuses_the_middlewares_id(self, settings: Any) -> None:
        """One generated id per request, the same on the response and in the scope."""
        calls: list[str] = []

        def generator() -> str:
            calls.append(f"gen-{len(calls)}")
            return calls[-1]

        settings.OTEL_CONTEXT = {**settings.OTEL_CONTEXT, "CORRELATION_ID_GENERATOR": generator}
        response = Client().get("/plain/")
        assert calls == ["gen-0"]
        assert response["Correlation-Id"] == "gen-0"
        assert response.json()["identifiers"]["correlation.id"] == "gen-0"

    @pytest.mark.parametrize("is_async", [False, True])
    def test_the_middlewares_id_is_dropped_after_the_chain(self, is_async: bool) -> None:
        """Nothing reads it after the chain: neither path leaves it to the collector."""
        from django.test import RequestFactory

        from otel_context.django.middleware import CorrelationMiddleware

        def view(request: HttpRequest) -> HttpResponse:
            assert hooks.CORRELATION_ATTR in request.__dict__  # derived before the chain
            return HttpResponse("ok")

        async def async_view(request: HttpRequest) -> HttpResponse:
            return view(request)

        request = RequestFactory().get("/", headers={"Correlation-Id": "mw-1"})
        if is_async:
            middleware = CorrelationMiddleware(async_view)
            response = async_to_sync(middleware)(request)
        else:
            response = CorrelationMiddleware(view)(request)
        assert response.status_code == 200
        assert hooks.CORRELATION_ATTR not in request.__dict__
