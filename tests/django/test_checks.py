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

        with pytest.raises(ImproperlyConfigured, match="instrumentation-asgi=="):
            middleware.IdentifiersMiddleware(get_response)

    @pytest.mark.usefixtures("no_asgi_support")
    def test_building_the_asgi_handler_fails(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Whatever the middleware order, get_asgi_application() refuses to start."""
        from django.core.handlers.asgi import ASGIHandler

        monkeypatch.setattr(ASGIHandler, "__init__", ASGIHandler.__init__)  # restored after
        checks.refuse_asgi_without_extra()
        with pytest.raises(ImproperlyConfigured, match="instrumentation-asgi=="):
            ASGIHandler()

    def test_asgi_handler_untouched_when_supported(self) -> None:
        """With the extra installed the handler builds as usual."""
        from django.core.handlers.asgi import ASGIHandler

        checks.refuse_asgi_without_extra()
        assert ASGIHandler() is not None

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


def _ids(messages: list[object]) -> list[str]:
    return [message.id for message in messages]  # type: ignore[attr-defined]


class TestSettingsCheck:
    @pytest.mark.parametrize(
        ("setting", "fragment"),
        [
            ({"USER_ID_FEILD": "pk"}, "unknown option USER_ID_FEILD (did you mean USER_ID_FIELD?)"),
            ({"RESOLVERS": {"x.id": "no.such.module.func"}}, "cannot import 'no.such.module.func'"),
            ({"INBOUND_BAGGAGE_MAX_ENTRIES": "many"}, "expected a whole number"),
        ],
    )
    def test_broken_setting_reported(
        self, settings: pytest.FixtureRequest, setting: dict[str, object], fragment: str
    ) -> None:
        """Unknown keys (with a suggestion), resolvers that don't import, bad values: E002."""
        settings.OTEL_CONTEXT = setting  # type: ignore[attr-defined]
        (message,) = checks.check_settings()
        assert message.id == "otel_context.E002"
        assert fragment in message.msg

    def test_silent_on_a_valid_setting(self) -> None:
        """The test project's own setting passes."""
        assert checks.check_settings() == []


class TestMiddlewareCheck:
    def test_duplicated_middleware(self, settings: pytest.FixtureRequest) -> None:
        """Our middleware twice: E003."""
        settings.MIDDLEWARE = [*settings.MIDDLEWARE, middleware.PATH]  # type: ignore[attr-defined]
        assert _ids(checks.check_middleware()) == ["otel_context.E003"]

    def test_otel_middleware_not_first(self, settings: pytest.FixtureRequest) -> None:
        """Sessions before the OTel middleware: W001."""
        current = list(settings.MIDDLEWARE)  # type: ignore[attr-defined]
        current.remove(checks.OTEL_MIDDLEWARE)
        current.remove(checks.CORRELATION_MIDDLEWARE)
        settings.MIDDLEWARE = [current[0], checks.OTEL_MIDDLEWARE, *current[1:]]  # type: ignore[attr-defined]
        assert _ids(checks.check_middleware()) == ["otel_context.W001"]

    def test_silent_on_the_installed_order(self) -> None:
        """What INSTALLED_APPS set up passes."""
        assert checks.check_middleware() == []


class TestStructlogCheck:
    @pytest.fixture(autouse=True)
    def _reset(self) -> object:
        import structlog

        yield
        structlog.reset_defaults()

    def test_processor_after_renderer(self) -> None:
        """Renderer first, ours after: E004."""
        import structlog

        from otel_context import StructlogOTelProcessor

        structlog.configure(
            processors=[structlog.processors.JSONRenderer(), StructlogOTelProcessor()]
        )
        assert _ids(checks.check_structlog()) == ["otel_context.E004"]

    def test_processor_missing(self) -> None:
        """No StructlogOTelProcessor at all: W002."""
        import structlog

        structlog.configure(processors=[structlog.processors.JSONRenderer()])
        assert _ids(checks.check_structlog()) == ["otel_context.W002"]

    def test_silent_when_placed_right(self) -> None:
        """Ours before the renderer (also behind ProcessorFormatter.wrap_for_formatter)."""
        import structlog

        from otel_context import StructlogOTelProcessor

        structlog.configure(
            processors=[
                StructlogOTelProcessor(),
                structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
            ]
        )
        assert checks.check_structlog() == []


class TestExampleProject:
    def test_example_project_is_silent(self) -> None:
        """manage.py check on the example project reports nothing of ours."""
        import os
        import subprocess
        import sys
        from pathlib import Path

        root = Path(__file__).resolve().parents[2]
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "example.settings", "PYTHONPATH": str(root)}
        env["EXAMPLE_DB"] = os.devnull
        result = subprocess.run(
            [sys.executable, "-m", "django", "check", "--fail-level", "WARNING"],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "otel_context" not in result.stdout + result.stderr
