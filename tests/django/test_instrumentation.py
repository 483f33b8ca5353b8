"""Enabling: INSTALLED_APPS instruments once; an existing instrumentation keeps its hooks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from django.conf import settings
from django.test import Client
from opentelemetry.instrumentation.django.middleware.otel_middleware import _DjangoMiddleware

import otel_context
from otel_context.django import hooks
from otel_context.django.instrumentation import _Chained
from otel_context.django.middleware import CORRELATION_PATH, PATH

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("instrumented")]


@pytest.fixture
def foreign_hooks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Simulate Django instrumented by someone else, with their own hooks."""
    calls: list[str] = []

    def their_request_hook(span: Any, request: Any) -> None:
        calls.append("their_request:" + str(otel_context.get_identifiers().get("correlation.id")))

    def their_response_hook(span: Any, request: Any, response: Any) -> None:
        calls.append("their_response")
        response["X-Theirs"] = "1"

    monkeypatch.setattr(_DjangoMiddleware, "_otel_request_hook", their_request_hook)
    monkeypatch.setattr(_DjangoMiddleware, "_otel_response_hook", their_response_hook)
    return calls


class TestInstalledApps:
    def test_app_ready_installed_hooks_and_middleware_once(self) -> None:
        """INSTALLED_APPS alone: our hooks on the middleware, ours after auth, listed once."""
        assert _DjangoMiddleware._otel_request_hook is hooks.request_hook
        assert _DjangoMiddleware._otel_response_hook is hooks.response_hook
        middleware = list(settings.MIDDLEWARE)
        assert middleware.count(PATH) == 1
        auth = middleware.index("django.contrib.auth.middleware.AuthenticationMiddleware")
        assert middleware.index(PATH) == auth + 1
        otel = "opentelemetry.instrumentation.django.middleware.otel_middleware._DjangoMiddleware"
        assert middleware.index(CORRELATION_PATH) == 0  # right before the instrumentation's
        assert middleware.index(otel) == 1

    def test_instrument_again_changes_nothing(self) -> None:
        """A second instrument() call neither drops nor doubles our hooks."""
        before = list(settings.MIDDLEWARE)
        otel_context.instrument()
        assert _DjangoMiddleware._otel_request_hook is hooks.request_hook
        assert list(settings.MIDDLEWARE) == before


class TestAlreadyInstrumented:
    def test_our_hooks_are_added_and_theirs_still_run(self, foreign_hooks: list[str]) -> None:
        """Instrumented elsewhere: both sets run, ours outermost, nothing dropped."""
        otel_context.instrument()
        assert isinstance(_DjangoMiddleware._otel_request_hook, _Chained)
        response = Client().get("/plain/", headers={"Correlation-Id": "chained"})
        assert response["X-Theirs"] == "1"
        assert response["Correlation-Id"] == "chained"
        assert foreign_hooks == ["their_request:chained", "their_response"]
        otel_context.instrument()
        Client().get("/plain/")
        assert len(foreign_hooks) == 4, "a second instrument() must not chain us twice"

    def test_their_failing_hook_does_not_stop_ours(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A foreign hook that raises: our scope is still attached and detached."""

        def broken(*args: Any) -> None:
            msg = "their hook is broken"
            raise RuntimeError(msg)

        monkeypatch.setattr(_DjangoMiddleware, "_otel_request_hook", broken)
        monkeypatch.setattr(_DjangoMiddleware, "_otel_response_hook", broken)
        otel_context.instrument()
        response = Client().get("/plain/", headers={"Correlation-Id": "survives"})
        assert response["Correlation-Id"] == "survives"
