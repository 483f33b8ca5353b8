"""The example app's configuration: it instruments the clients its quote view uses."""

from __future__ import annotations

from django.apps import AppConfig
from django.conf import settings


class ExampleAppConfig(AppConfig):
    name = "example.app"
    label = "example_app"
    verbose_name = "otel_context example"

    def ready(self) -> None:
        """Trace outgoing ``requests`` calls, and Celery publishing when a broker is set.

        Here rather than in gunicorn's ``post_fork``: every process that loads the app (each
        gunicorn worker, uvicorn, a management command) gets it, and both instrumentors look
        the tracer provider up lazily, so the order against ``setup_tracing()`` is free.
        """
        _instrument_requests()
        if settings.EXAMPLE_BROKER_URL:
            import otel_context.celery  # noqa: PLC0415 - the [celery] extra is optional

            otel_context.celery.instrument()


def _instrument_requests() -> None:
    try:
        from opentelemetry.instrumentation.requests import RequestsInstrumentor  # noqa: PLC0415
    except ImportError:  # installed without the [requests] extra
        return
    instrumentor = RequestsInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument()
