"""``opentelemetry-instrumentation-structlog`` beside StructlogOTelLogProcessor: one exporter."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from structlog.testing import LogCapture

from otel_context import StructlogOTelLogProcessor, StructlogOTelProcessor
from otel_context.log_records._official_structlog import export_once
from tests._packages import require

official: Any = require(
    "opentelemetry-instrumentation-structlog", "opentelemetry.instrumentation.structlog"
)


@pytest.fixture
def instrumentor() -> Iterator[Any]:
    """The official instrumentor, instrumented for the test and undone after it."""
    structlog.reset_defaults()
    instance = official.StructlogInstrumentor()
    instance.instrument()
    yield instance
    if instance.is_instrumented_by_opentelemetry:
        instance.uninstrument()
    structlog.reset_defaults()


def _chain(*, ours: bool) -> list[Any]:
    export = [StructlogOTelLogProcessor()] if ours else []
    return [StructlogOTelProcessor(), *export, LogCapture()]


def _officials() -> int:
    processors = structlog.get_config()["processors"]
    return sum(isinstance(p, official.StructlogProcessor) for p in processors)


class TestExportOnce:
    def test_takes_the_instrumentors_processor_out_of_our_chain(self, instrumentor: Any) -> None:
        """Instrumented, then the app configures a chain with ours: theirs goes, for good."""
        structlog.configure(processors=_chain(ours=True))
        assert _officials() == 1  # the instrumentor's patched configure put it in
        assert export_once() is True
        assert _officials() == 0
        assert not instrumentor.is_instrumented_by_opentelemetry
        structlog.configure(processors=_chain(ours=True))  # configure is structlog's own again
        assert _officials() == 0
        assert export_once() is False  # idempotent

    def test_leaves_it_alone_where_it_is_the_only_exporter(self, instrumentor: Any) -> None:
        """A chain without StructlogOTelLogProcessor: the official processor exports, kept."""
        structlog.configure(processors=_chain(ours=False))
        assert export_once() is False
        assert _officials() == 1
        assert instrumentor.is_instrumented_by_opentelemetry

    def test_one_put_there_by_hand_is_taken_out_too(self) -> None:
        """Not instrumented, but both processors listed: the chain keeps ours only."""
        chain = _chain(ours=True)
        chain.insert(2, official.StructlogProcessor())
        structlog.configure(processors=chain)
        try:
            assert export_once() is True
            assert _officials() == 0
            processors = structlog.get_config()["processors"]
            assert any(isinstance(p, StructlogOTelLogProcessor) for p in processors)
        finally:
            structlog.reset_defaults()

    def test_never_raises(
        self, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A failing structlog: logged, False, nothing raised into start-up."""

        def broken() -> None:
            raise RuntimeError

        monkeypatch.setattr(structlog, "get_config", broken)
        with caplog.at_level(logging.ERROR):
            assert export_once() is False
        assert "opentelemetry-instrumentation-structlog failed" in caplog.text


class TestAtStartUp:
    def test_instrument_takes_it_out_with_one_warning(
        self, instrumentor: Any, caplog: pytest.LogCaptureFixture
    ) -> None:
        """otel_context.instrument() (INSTALLED_APPS' ready()) runs the step: one log line."""
        import otel_context

        structlog.configure(processors=_chain(ours=True))
        with caplog.at_level(logging.WARNING, logger="otel_context"):
            otel_context.instrument()
            otel_context.instrument()
        assert _officials() == 0
        lines = [r for r in caplog.records if "opentelemetry-instrumentation-structlog" in r.msg]
        assert len(lines) == 1
        assert "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=structlog" in lines[0].getMessage()
