"""An app config for the load benchmark's "DjangoInstrumentor alone" configuration.

``DjangoInstrumentor().instrument()`` must run once settings exist and before the WSGI handler
builds its middleware chain: ``AppConfig.ready()`` is that moment (as in otel_context's own
app). No hooks, no otel_context: the instrumentation's defaults only.
"""

from __future__ import annotations

from django.apps import AppConfig


class InstrumentorOnlyConfig(AppConfig):
    """Instrument Django with contrib's ``DjangoInstrumentor`` and nothing else."""

    name = "benchmarks"
    label = "benchmarks_load_instrumentor"
    verbose_name = "DjangoInstrumentor alone (load benchmark)"

    def ready(self) -> None:
        """Insert the OTel middleware (one server span per request, default options)."""
        from opentelemetry.instrumentation.django import DjangoInstrumentor  # noqa: PLC0415

        instrumentor = DjangoInstrumentor()
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument()
