"""The Django response hook leaves a header the application set as it is (issue 22, point 3).

In process, through the real handler and DjangoInstrumentor; the same under real gunicorn and
uvicorn is ``tests/integration/test_app_headers.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from django.test import Client

from tests.formats_site import APP_TRACERESPONSE, UNSAFE_APP_ID

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from pytest_django.fixtures import SettingsWrapper

pytestmark = pytest.mark.usefixtures("instrumented", "app_sets_ids")


@pytest.fixture
def app_sets_ids(settings: SettingsWrapper) -> None:
    """tests/formats_site.py's URLs, and its middleware setting the app's own ids."""
    settings.ROOT_URLCONF = "tests.formats_site"
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "tests.formats_site.AppRequestIdMiddleware"]
    settings.OTEL_CONTEXT = {"TRACE_RESPONSE_HEADER": "traceresponse"}


class TestResponseHook:
    @pytest.mark.parametrize(
        "path", ["/app-ids/own/", "/app-ids/own/boom/", "/app-ids/own/stream/"]
    )
    def test_the_apps_id_stays_and_the_span_records_it(
        self, path: str, exporter: InMemorySpanExporter
    ) -> None:
        """200, 500 and streamed: the app's X-Request-ID answers; the span has both ids."""
        client = Client(raise_request_exception=False)
        response = client.get(path, headers={"X-Request-ID": "abc-1"})
        if response.streaming:
            b"".join(response.streaming_content)  # type: ignore[arg-type]
        app_id = response["X-Request-ID"]
        assert app_id.startswith("app-")
        (span,) = [s for s in exporter.get_finished_spans() if s.kind.name == "SERVER"]
        attributes = span.attributes or {}
        assert attributes["correlation.id"] == "abc-1"
        assert attributes["correlation.response_id"] == app_id

    def test_unsafe_app_id_left_alone_and_not_recorded(
        self, exporter: InMemorySpanExporter
    ) -> None:
        """The app's 2 KB id with markup is answered as it is and never put on the span."""
        response = Client().get("/app-ids/unsafe/", headers={"X-Request-ID": "abc-2"})
        assert response["X-Request-ID"] == UNSAFE_APP_ID
        (span,) = exporter.get_finished_spans()
        assert "correlation.response_id" not in (span.attributes or {})

    def test_the_apps_traceresponse_stays(self, exporter: InMemorySpanExporter) -> None:
        """TRACE_RESPONSE_HEADER on: the app's own traceresponse is not overwritten."""
        response = Client().get("/app-ids/traceresponse/")
        assert response["traceresponse"] == APP_TRACERESPONSE
