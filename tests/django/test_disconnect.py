"""A request abandoned mid-view (ASGI client disconnect) still ends cleanly, in its own context."""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from opentelemetry.instrumentation.django.middleware.otel_middleware import _DjangoMiddleware
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import otel_context
from otel_context.scope import current_scope

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("instrumented")]


class TestAbandonedRequest:
    def test_cancelled_request_runs_response_hook_and_ends_its_span(
        self, exporter: InMemorySpanExporter, caplog: pytest.LogCaptureFixture
    ) -> None:
        """CancelledError in the middleware: span ended (499), scope closed, no detach error."""
        seen: list[dict[str, str]] = []

        def view_cancelled(request: HttpRequest) -> HttpResponse:
            seen.append(otel_context.get_identifiers())
            raise asyncio.CancelledError

        middleware = _DjangoMiddleware(view_cancelled)
        request = RequestFactory().get("/plain/", headers={"Correlation-Id": "gone-1"})
        with caplog.at_level(logging.DEBUG), pytest.raises(asyncio.CancelledError):
            middleware(request)
        del request
        gc.collect()
        assert seen == [{"correlation.id": "gone-1"}]
        (span,) = exporter.get_finished_spans()
        assert span.attributes is not None
        assert span.attributes["http.status_code"] == 499
        assert current_scope() is None
        assert "Failed to detach context" not in caplog.text

    def test_guard_is_installed_once(self) -> None:
        """instrument() twice wraps __call__ once."""
        otel_context.instrument()
        otel_context.instrument()
        call = _DjangoMiddleware.__call__
        assert getattr(call, "otel_context_guard", False)
        assert not getattr(call.__wrapped__, "otel_context_guard", False)  # type: ignore[attr-defined]
