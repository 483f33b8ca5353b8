"""The whole path a user takes: the demo's three processes -> the real collector -> real Jaeger v2.

``make jaeger`` as a test: the collector (built from collector/builder-config.yaml) runs the
shipped otel-collector.yaml and Jaeger v2 runs collector/jaeger.yaml, on free ports of 127.0.0.1
given through the ``OTELCOL_*`` / ``JAEGER_*`` variables those files read. Then
``OTEL_EXPORTER_OTLP_ENDPOINT=<collector> python -m example.demo`` runs the web service, the
pricing service and the Celery worker, each exporting traces and logs over OTLP/HTTP. The test
reads Jaeger's query API as a browser would (``/api/traces/<id>``) and the collector's logs
pipeline output (its file exporter).
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from example.backend import running_backend
from example.processes import PRICING_SERVICE, WEB_SERVICE, WORKER_SERVICE
from example.runner import read_json_lines
from tests.integration._collector import (
    events_of,
    parent_of,
    run_demo,
    service_of,
    spans_of,
    tags,
)

if TYPE_CHECKING:
    from pathlib import Path

    from example.backend import Binaries

pytestmark = [pytest.mark.integration, pytest.mark.timeout(3600)]  # a cold build: minutes

IDS = ("correlation.id", "user.id", "organisation.id", "project.id")
QUOTE_ROUTE = "quote"


@dataclass
class Run:
    demo: subprocess.CompletedProcess[str]
    trace_id: str
    trace: dict[str, Any]
    web_lines: list[dict[str, Any]]
    log_records: list[dict[str, Any]]
    query_url: str
    collector_output: str

    def server_span(self) -> dict[str, Any]:
        (span,) = [
            s
            for s in spans_of(self.trace, WEB_SERVICE, "server")
            if QUOTE_ROUTE in s["operationName"]
        ]
        return span


def _wait_for_records(backend: Any, trace_id: str, timeout: float = 30) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        records = [r for r in backend.log_records() if r.get("traceId") == trace_id]
        services = {r["resource"].get("service.name") for r in records}
        if len(services) >= 3 or time.monotonic() > deadline:
            return records
        time.sleep(0.5)


@pytest.fixture(scope="module")
def run(go_binaries: Binaries, tmp_path_factory: pytest.TempPathFactory) -> Run:
    directory: Path = tmp_path_factory.mktemp("collector-jaeger")
    with running_backend(go_binaries, directory / "backend") as backend:
        demo, trace_id = run_demo(
            backend.otlp_endpoint, directory / "demo", EXAMPLE_JAEGER_URL=backend.query_url
        )
        assert trace_id is not None, demo.stdout[-3000:] + demo.stderr[-3000:]
        trace = backend.wait_for_trace(trace_id, services=3)
        assert trace is not None, backend.jaeger.output()[-3000:]
        records = _wait_for_records(backend, trace_id)
    collector_output = backend.collector.output()
    return Run(
        demo,
        trace_id,
        trace,
        read_json_lines(directory / "demo" / "log.jsonl")
        if (directory / "demo" / "log.jsonl").exists()
        else [],
        records,
        backend.query_url,
        collector_output,
    )


class TestTheDemoExportsToJaeger:
    def test_the_collector_ran_the_shipped_config_without_warnings(self, run: Run) -> None:
        """No deprecated component name, nothing the collector warns about at start-up."""
        start_up = run.collector_output.partition("Everything is ready")[0]
        assert "Everything is ready" in run.collector_output
        assert "deprecated" not in start_up
        assert "\twarn\t" not in start_up

    def test_the_demo_passes_and_prints_where_to_look(self, run: Run) -> None:
        """Exporting over OTLP changes nothing in the demo; it prints the query URL."""
        assert run.demo.returncode == 0, run.demo.stdout[-3000:] + run.demo.stderr[-3000:]
        assert f"{run.query_url}/api/traces/{run.trace_id}" in run.demo.stdout

    def test_the_quote_is_one_trace_across_the_three_services(self, run: Run) -> None:
        services = {service_of(run.trace, span) for span in run.trace["spans"]}
        assert services == {WEB_SERVICE, PRICING_SERVICE, WORKER_SERVICE}
        assert {span["traceID"] for span in run.trace["spans"]} == {run.trace_id}

    def test_pricing_and_the_task_are_children_of_the_web_service_spans(self, run: Run) -> None:
        clients = {s["spanID"] for s in spans_of(run.trace, WEB_SERVICE, "client")}
        (pricing,) = spans_of(run.trace, PRICING_SERVICE, "server")
        assert parent_of(pricing) in clients
        producers = {s["spanID"] for s in spans_of(run.trace, WEB_SERVICE, "producer")}
        consumers = spans_of(run.trace, WORKER_SERVICE, "consumer")
        assert consumers
        assert all(parent_of(span) in producers for span in consumers)

    def test_the_server_span_carries_the_ids(self, run: Run) -> None:
        attributes = tags(run.server_span()["tags"])
        assert all(attributes.get(key) for key in IDS), attributes
        assert (attributes["organisation.id"], attributes["project.id"]) == ("1", "1")
        pricing = tags(spans_of(run.trace, PRICING_SERVICE, "server")[0]["tags"])
        assert {key: pricing.get(key) for key in IDS} == {key: attributes[key] for key in IDS}

    def test_the_span_events_are_the_log_lines_with_the_ids(self, run: Run) -> None:
        """Every log line of the request is an event on a span of its trace, with the ids."""
        attributes = tags(run.server_span()["tags"])
        events = [event for span in run.trace["spans"] for event in events_of(span)]
        named = {event.get("event") for event in events}
        assert {"quote.served", "pricing.quote.requested", "quote.report.stored"} <= named
        for event in events:
            if event.get("correlation.id") is not None:
                assert event["correlation.id"] == attributes["correlation.id"]
        served = [event for event in events if event.get("event") == "quote.served"]
        assert {key: served[0].get(key) for key in IDS} == {key: attributes[key] for key in IDS}

    def test_the_trace_id_of_the_json_log_lines_finds_the_trace(self, run: Run) -> None:
        """The demo's JSON lines carry the trace id Jaeger stores the request under."""
        correlation_id = tags(run.server_span()["tags"])["correlation.id"]
        (trace_id,) = {
            line["trace_id"]
            for line in run.web_lines
            if line.get("correlation.id") == correlation_id
        }
        assert trace_id == run.trace_id

    def test_the_collectors_logs_pipeline_wrote_the_records(self, run: Run) -> None:
        """The file exporter's records: the same trace id, the ids, all three services."""
        attributes = tags(run.server_span()["tags"])
        services = {record["resource"].get("service.name") for record in run.log_records}
        assert services == {WEB_SERVICE, PRICING_SERVICE, WORKER_SERVICE}
        from example.backend import attributes as otlp_attributes

        for record in run.log_records:
            ids = otlp_attributes(record.get("attributes", []))
            assert ids.get("correlation.id") == attributes["correlation.id"]
            assert ids.get("user.id") == attributes["user.id"]
        bodies = {record["body"].get("stringValue") for record in run.log_records}
        assert "quote.served" in bodies
