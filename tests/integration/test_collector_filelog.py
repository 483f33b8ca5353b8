"""The filelog path for real: the collector tails the example's JSON log files.

The collector runs otel-collector.yaml with the otel-collector-filelog.yaml overlay, its
``OTELCOL_FILELOG_INCLUDE`` aimed at the demo's ``log.jsonl`` files (web, pricing, worker), and
Jaeger stores the traces. The records the filelog receiver made (the file exporter wrote them;
``log.file.name`` tells them from the OTLP-exported ones) must carry the trace id and span id of
their line, naming a span Jaeger stored, with severity and body from the line's JSON fields.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from example.backend import attributes, running_backend
from example.processes import PRICING_SERVICE, WEB_SERVICE, WORKER_SERVICE
from example.runner import read_json_lines

if TYPE_CHECKING:
    from pathlib import Path

    from example.backend import Binaries
from tests.integration._collector import run_demo, service_of

pytestmark = [pytest.mark.integration, pytest.mark.timeout(3600)]  # a cold build: minutes

#: stanza's severity numbers for structlog's level names (the overlay maps them).
SEVERITY_NUMBERS = {"info": 9, "warning": 13, "error": 17}


@dataclass
class Tailed:
    trace_id: str
    trace: dict[str, Any]
    lines: list[dict[str, Any]]  # the JSON lines of the trace, from all three files
    records: list[dict[str, Any]]  # the filelog receiver's records of the trace
    collector_output: str


def _file_records(backend: Any, trace_id: str, expected: int, timeout: float = 30) -> list[Any]:
    deadline = time.monotonic() + timeout
    while True:
        records = [
            record
            for record in backend.log_records()
            if "log.file.name" in attributes(record.get("attributes", []))
            and record.get("traceId") == trace_id
        ]
        if len(records) >= expected or time.monotonic() > deadline:
            return records
        time.sleep(0.5)


@pytest.fixture(scope="module")
def tailed(go_binaries: Binaries, tmp_path_factory: pytest.TempPathFactory) -> Tailed:
    directory: Path = tmp_path_factory.mktemp("collector-filelog")
    demo_dir = directory / "demo"
    include = f"{demo_dir}/**/log.jsonl"
    with running_backend(go_binaries, directory / "backend", filelog_include=include) as backend:
        demo, trace_id = run_demo(backend.otlp_endpoint, demo_dir)
        assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
        assert trace_id is not None
        lines = [
            line
            for path in sorted(demo_dir.glob("**/log.jsonl"))
            for line in read_json_lines(path)
            if line.get("trace_id") == trace_id
        ]
        trace = backend.wait_for_trace(trace_id, services=3)
        assert trace is not None
        records = _file_records(backend, trace_id, len(lines))
    return Tailed(trace_id, trace, lines, records, backend.collector.output())


def _key(line_or_record: dict[str, Any]) -> tuple[str, str]:
    return str(line_or_record["span_id"]), str(line_or_record["event"])


class TestFilelog:
    def test_the_overlay_starts_without_warnings(self, tailed: Tailed) -> None:
        """No deprecated names (the receiver is file_log since 0.159.0), no warnings."""
        start_up = tailed.collector_output.partition("Everything is ready")[0]
        assert "Starting stanza receiver" in start_up
        assert "deprecated" not in start_up
        assert "\twarn\t" not in start_up

    def test_every_line_of_the_trace_became_a_record(self, tailed: Tailed) -> None:
        """The three services' lines of the quote request, one record each."""
        services = {line["service.name"] for line in tailed.lines}
        assert services == {WEB_SERVICE, PRICING_SERVICE, WORKER_SERVICE}
        assert len(tailed.records) == len(tailed.lines)

    def test_records_carry_the_lines_trace_and_span_ids(self, tailed: Tailed) -> None:
        """trace_id / span_id of each line are the record's, and name a span in Jaeger."""
        stored = {span["spanID"] for span in tailed.trace["spans"]}
        by_span: dict[str, list[str]] = {}
        for record in tailed.records:
            assert record["traceId"] == tailed.trace_id
            assert record["spanId"] in stored
            by_span.setdefault(record["spanId"], []).append(record["body"]["stringValue"])
        for line in tailed.lines:
            assert line["event"] in by_span[line["span_id"]]

    def test_severity_body_and_time_come_from_the_json_fields(self, tailed: Tailed) -> None:
        records = {(r["spanId"], r["body"]["stringValue"]): r for r in tailed.records}
        for line in tailed.lines:
            record = records[line["span_id"], line["event"]]
            assert record["severityText"] == line["level"]
            assert record["severityNumber"] == SEVERITY_NUMBERS[line["level"]]
            written = datetime.fromisoformat(line["timestamp"]).astimezone(UTC)
            nanos = int(record["timeUnixNano"])
            assert abs(nanos / 1e9 - written.timestamp()) < 1e-5

    def test_the_ids_stay_attributes(self, tailed: Tailed) -> None:
        """correlation.id and the others are attributes; the moved fields are gone."""
        for record in tailed.records:
            attrs = attributes(record["attributes"])
            assert attrs["correlation.id"]
            assert not {"trace_id", "span_id", "event", "level", "timestamp"} & attrs.keys()
        names = {service_of(tailed.trace, span) for span in tailed.trace["spans"]}
        assert names == {WEB_SERVICE, PRICING_SERVICE, WORKER_SERVICE}
