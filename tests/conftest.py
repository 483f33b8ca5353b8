"""Fixtures: a private tracer provider per test, captured structlog events, clean contexts."""

from __future__ import annotations

import contextlib
import os
import warnings
from typing import TYPE_CHECKING

import pytest
import structlog
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from structlog.testing import LogCapture

from otel_context import StructlogOTelProcessor, conf

pytest_plugins = ["pytester"]

# The tests set up their own providers: none is set up at the first test request (issue 21).
# Servers the tests start inherit this; tests of the default set-up clear it ("" is unset).
os.environ.setdefault("OTEL_CONTEXT_SET_UP_PROVIDERS", "false")


with warnings.catch_warnings():
    # opentelemetry-instrumentation-flask 0.61b0 (the supported floor; 0.66b1 no longer) reads
    # flask.__version__ on import, which Flask 3.1 deprecates: not ours, and warnings are
    # errors. Imported here, before any conftest or test module imports it under that rule.
    warnings.filterwarnings("ignore", "The '__version__' attribute", DeprecationWarning)
    with contextlib.suppress(ImportError):  # the [flask] extra is optional
        import opentelemetry.instrumentation.flask  # noqa: F401

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def provider() -> Iterator[TracerProvider]:
    """A private TracerProvider exporting to memory (see ``exporter``)."""
    tracer_provider = TracerProvider()
    exporter = InMemorySpanExporter()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer_provider.exporter = exporter  # type: ignore[attr-defined]
    yield tracer_provider
    tracer_provider.shutdown()


@pytest.fixture
def exporter(provider: TracerProvider) -> InMemorySpanExporter:
    return provider.exporter  # type: ignore[attr-defined, no-any-return]


@pytest.fixture
def tracer(provider: TracerProvider) -> trace.Tracer:
    return provider.get_tracer("tests")


@pytest.fixture
def instrumented(provider: TracerProvider, monkeypatch: pytest.MonkeyPatch) -> TracerProvider:
    """Route the Django instrumentation's spans (and views' ``trace.get_tracer``) to *provider*."""
    from opentelemetry.instrumentation.django.middleware.otel_middleware import _DjangoMiddleware

    monkeypatch.setattr(_DjangoMiddleware, "_tracer", provider.get_tracer("django"))
    monkeypatch.setattr(trace, "get_tracer", lambda *a, **k: provider.get_tracer("tests"))
    return provider


@pytest.fixture
def events() -> Iterator[list[dict[str, object]]]:
    """structlog configured as a service would be, capturing every event dict."""
    capture = LogCapture()
    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, StructlogOTelProcessor(), capture],
        cache_logger_on_first_use=False,
    )
    yield capture.entries  # type: ignore[misc]
    structlog.reset_defaults()


@pytest.fixture(autouse=True)
def _clean_context() -> Iterator[None]:
    """Every test starts and must end with an empty OTel context and fresh configuration."""
    conf.configure()  # no keyword overrides, configuration read anew
    token = otel_context.attach(otel_context.Context())
    yield
    leaked = dict(otel_context.get_current())
    otel_context.detach(token)
    conf.configure()
    assert leaked == {}, f"context leaked out of the test: {leaked}"
