"""System checks and start-up errors for set-ups that would otherwise fail silently."""

from __future__ import annotations

import logging

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.http import HttpResponse
from django.test import AsyncRequestFactory

from otel_context.django import checks, middleware


@pytest.fixture
def no_asgi_support(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if opentelemetry-instrumentation-asgi were not installed."""
    monkeypatch.setattr(checks, "asgi_supported", lambda: False)
    monkeypatch.setattr(middleware, "asgi_supported", lambda: False)


class TestAsgiWithoutTheExtra:
    @pytest.mark.usefixtures("no_asgi_support")
    def test_system_check_errors(self, settings: pytest.FixtureRequest) -> None:
        """manage.py check fails with otel_context.E001 and the install hint."""
        settings.ASGI_APPLICATION = "example.asgi.application"  # type: ignore[attr-defined]
        with pytest.raises(SystemCheckError, match=r"otel_context\.E001"):
            call_command("check")

    @pytest.mark.usefixtures("no_asgi_support")
    def test_async_middleware_chain_refuses_to_start(self) -> None:
        """Building the middleware for an async handler raises at start-up."""

        async def get_response(request: object) -> HttpResponse:
            return HttpResponse()

        with pytest.raises(ImproperlyConfigured, match=r"otel-context\[asgi\]"):
            middleware.IdentifiersMiddleware(get_response)

    @pytest.mark.usefixtures("no_asgi_support")
    def test_untraced_asgi_request_is_reported_once(self, caplog: pytest.LogCaptureFixture) -> None:
        """A sync chain serving ASGI requests logs one error, not one per request."""
        middleware.report_untraced_asgi.cache_clear()
        monkey = middleware.IdentifiersMiddleware(lambda request: HttpResponse())
        request = AsyncRequestFactory().get("/")
        with caplog.at_level(logging.ERROR):
            for _ in range(3):
                monkey.process_view(request, lambda r: HttpResponse(), (), {})
        assert caplog.text.count("ASGI requests are not traced") == 1
        middleware.report_untraced_asgi.cache_clear()

    def test_silent_when_supported(self, settings: pytest.FixtureRequest) -> None:
        """With the extra installed the check is quiet."""
        settings.ASGI_APPLICATION = "example.asgi.application"  # type: ignore[attr-defined]
        assert checks.check_asgi() == []
        call_command("check")
