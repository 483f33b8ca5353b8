"""docs/migrating.md, flagsmith-common: our processors through its ``setup_logging()``.

flagsmith-common rebuilds structlog's chain in ``setup_logging()``, so processors configured
elsewhere are gone at run time; its ``otel_processors`` / ``extra_foreign_processors``
parameters are where ours go, in place of its ``add_otel_trace_context`` and
``make_structlog_otel_processor``. The real package (it pins structlog < 26, so it installs in
the matrix cell with structlog 24.4 and OTel 1.40), the real Django handler and
DjangoInstrumentor: one ``trace_id`` per line, one exported log record and one span event per
structlog event.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import pytest
import structlog
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, SimpleLogRecordProcessor

from otel_context import StructlogOTelProcessor
from otel_context.log_records import StructlogOTelLogProcessor
from tests._packages import require
from tests.migrating.conftest import logged_in, middleware

if TYPE_CHECKING:
    from collections.abc import Iterator

    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from structlog.typing import Processor

flagsmith_logging = require("flagsmith-common", "common.core.logging")
flagsmith_otel = require("flagsmith-common", "common.core.otel")

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("instrumented", "migrating_urls", "restore_logging"),
]

PATH = "/orgs/7/work/"
IDS = ("correlation.id", "user.id", "organisation.id", "order.id")


@pytest.fixture
def log_exporter() -> Iterator[tuple[LoggerProvider, InMemoryLogRecordExporter]]:
    """A private LoggerProvider exporting synchronously to memory."""
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """``setup_logging()`` reconfigures stdlib logging and structlog: undo it afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()


def _setup(otel_processors: list[Processor]) -> None:
    """flagsmith-common's set-up, JSON lines on stdout, with *otel_processors*."""
    flagsmith_logging.setup_logging(
        log_level="INFO",
        log_format="json",
        application_loggers=["tests"],
        otel_processors=otel_processors,
        extra_foreign_processors=[StructlogOTelProcessor()],
    )
    # Test hygiene only: the views' module-level loggers must not keep this chain cached
    # for the tests that run after this one in the same process.
    structlog.configure(cache_logger_on_first_use=False)


def _lines(out: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """The JSON lines of stdout by message: the raw line and its parsed object."""
    lines = [line for line in out.splitlines() if line.startswith("{")]
    return {json.loads(line)["message"]: (line, json.loads(line)) for line in lines}


class TestRecipe:
    def test_ids_on_lines_once_and_one_export_per_event(
        self,
        settings: Any,
        alice: Any,
        capsys: pytest.CaptureFixture[str],
        exporter: InMemorySpanExporter,
        log_exporter: tuple[LoggerProvider, InMemoryLogRecordExporter],
    ) -> None:
        """Structlog and stdlib lines carry one trace_id and the ids; one record, one event."""
        provider, records = log_exporter
        settings.MIDDLEWARE = middleware()
        _setup([StructlogOTelProcessor(), StructlogOTelLogProcessor(provider, span_events=True)])
        logged_in(alice).get(PATH, headers={"Correlation-Id": "flagsmith-1"})
        (span,) = exporter.get_finished_spans()
        trace_id = f"{span.context.trace_id:032x}"
        lines = _lines(capsys.readouterr().out)
        for message in ("work.done", "work done"):  # structlog event, stdlib record
            raw, line = lines[message]
            assert raw.count('"trace_id"') == raw.count('"span_id"') == 1, raw
            assert line["trace_id"] == trace_id
            assert line["correlation.id"] == "flagsmith-1"
            assert line["user.id"] == str(alice.pk)
            assert line["organisation.id"] == "7"
        (record,) = [r.log_record for r in records.get_finished_logs()]
        assert (record.body, record.trace_id) == ("work.done", span.context.trace_id)
        attributes = dict(record.attributes or {})
        assert {key: attributes.get(key) for key in IDS} == {
            "correlation.id": "flagsmith-1",
            "user.id": str(alice.pk),
            "organisation.id": "7",
            "order.id": "17",
        }
        assert [event.name for event in span.events] == ["work.done"]

    def test_or_keep_its_otel_processor_after_ours(
        self,
        settings: Any,
        alice: Any,
        exporter: InMemorySpanExporter,
        log_exporter: tuple[LoggerProvider, InMemoryLogRecordExporter],
    ) -> None:
        """Its log processor after ours: one record with our ids; spoofed baggage stays out."""
        provider, records = log_exporter
        settings.MIDDLEWARE = middleware()
        theirs = flagsmith_otel.make_structlog_otel_processor(provider)
        _setup([StructlogOTelProcessor(), theirs])
        spoof = {"Correlation-Id": "flagsmith-2", "baggage": "user.id=999,amplitude.device=x"}
        logged_in(alice).get(PATH, headers=spoof)
        (record,) = [r.log_record for r in records.get_finished_logs()]
        attributes = dict(record.attributes or {})
        assert attributes["correlation.id"] == "flagsmith-2"
        assert attributes["user.id"] == str(alice.pk)
        assert attributes["flagsmith.event"] == "tests.migrating.work.done"
        assert "amplitude.device" not in attributes
        (span,) = exporter.get_finished_spans()
        assert len(span.events) == 1

    def test_keeping_its_otel_processor_too_exports_twice(
        self,
        settings: Any,
        alice: Any,
        exporter: InMemorySpanExporter,
        log_exporter: tuple[LoggerProvider, InMemoryLogRecordExporter],
    ) -> None:
        """Control for the recipe: its processor next to ours doubles records and events."""
        provider, records = log_exporter
        settings.MIDDLEWARE = middleware()
        theirs = flagsmith_otel.make_structlog_otel_processor(provider)
        ours = StructlogOTelLogProcessor(provider, span_events=True)
        _setup([StructlogOTelProcessor(), theirs, ours])
        logged_in(alice).get(PATH)
        assert [r.log_record.body for r in records.get_finished_logs()] == ["work.done"] * 2
        (span,) = exporter.get_finished_spans()
        assert len(span.events) == 2

    def test_its_trace_processor_is_redundant(
        self,
        settings: Any,
        alice: Any,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        """``add_otel_trace_context`` writes the very fields ours does: drop it, lose nothing."""
        settings.MIDDLEWARE = middleware()
        _setup([flagsmith_otel.add_otel_trace_context])
        logged_in(alice).get(PATH)
        theirs = _lines(capsys.readouterr().out)["work.done"][1]
        _setup([StructlogOTelProcessor()])
        logged_in(alice).get(PATH)
        ours = _lines(capsys.readouterr().out)["work.done"][1]
        assert {"trace_id", "span_id"} <= ours.keys()
        assert theirs.keys() - ours.keys() == set()
        assert "correlation.id" not in theirs
