"""Faults on the real path: the example service -> the real collector -> real Jaeger v2.

The example web service (gunicorn, 2 workers x 4 threads) exports traces and logs over OTLP/HTTP
to the collector (shipped otel-collector.yaml) while a steady load runs at :data:`RATE` requests
a second, each request with its own ``Correlation-Id``:

* the collector is stopped for :data:`OUTAGE_S` seconds during :data:`REQUESTS` requests, then
  started again. Every request must still succeed quickly; what was exported before the outage
  and after the restart must all arrive; what was lost is counted and printed. The loss is the
  SDK's: each batch an exporter holds when the collector goes away is retried with backoff
  (1, 2, 4 s) until its 10 s export timeout, then dropped; spans ended meanwhile wait in the
  BatchSpanProcessor's queue (2,048; the log records' likewise) and leave after the restart.
* Jaeger is stopped while the collector runs: requests are unaffected (all 200, p95 against the
  same load with Jaeger up), and once Jaeger is back the collector's retrying exporter delivers
  the spans it queued meanwhile.

Both times the web service must stop within 5 s. ``OTEL_CONTEXT_FAULT_REQUESTS`` sets the size
(default 2,000). The figures are printed (``-s``) for the README.
"""

from __future__ import annotations

import math
import os
import socket
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import pytest
import requests

from example.app import demo_data
from example.backend import answers, attributes, running_backend
from example.processes import WEB_SERVICE
from example.runner import start_gunicorn
from tests._servers import service_files
from tests.integration._collector import tags

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from example.backend import Backend, Binaries
    from example.runner import Service

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(3600)]

REQUESTS: Final = int(os.environ.get("OTEL_CONTEXT_FAULT_REQUESTS") or 2000)
RATE: Final = 50.0
OUTAGE_AT_S: Final = 10.0
OUTAGE_S: Final = 10.0
#: An export under way when the collector went away ends within the SDK's 10 s timeout; a
#: batch is exported every 5 s (OTEL_BSP_SCHEDULE_DELAY): what ended this long before the
#: outage had left already.
BEFORE_OUTAGE_MARGIN_S: Final = 6.0
#: Latency bound: a request waiting on an exporter would take the export timeout (10 s).
MAX_LATENCY_S: Final = 5.0
SHUTDOWN_BOUND_S: Final = 5.0
PROJECT_PATH: Final = "/api/v1/organisations/1/projects/1/"
THREADS: Final = 16


@dataclass(frozen=True)
class Sent:
    correlation_id: str
    started: float  # seconds since the load began
    latency: float
    status: int


def steady_load(service: Service, count: int, rate: float = RATE) -> list[Sent]:
    """*count* requests, request *i* sent at ``i / rate`` s, from :data:`THREADS` threads."""
    token = demo_data.user_token("alice")
    began = time.monotonic()
    sessions: dict[int, requests.Session] = {}

    def send(number: int) -> Sent:
        time.sleep(max(0.0, began + number / rate - time.monotonic()))
        session = sessions.setdefault(number % THREADS, requests.Session())
        correlation_id = f"fault-{uuid.uuid4()}"
        started = time.monotonic()
        try:
            response = session.get(
                service.url(PROJECT_PATH),
                headers={"Authorization": f"Token {token}", "Correlation-Id": correlation_id},
                timeout=30,
            )
            status = response.status_code
        except requests.RequestException:
            status = 0
        return Sent(correlation_id, started - began, time.monotonic() - started, status)

    with ThreadPoolExecutor(THREADS) as pool:
        sent = list(pool.map(send, range(count)))
    for session in sessions.values():
        session.close()
    return sent


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def received_span_ids(backend: Backend) -> set[str]:
    """correlation.id of every server span of the web service that Jaeger holds."""
    found = set()
    for trace in backend.traces(WEB_SERVICE, limit=REQUESTS * 2):
        for span in trace["spans"]:
            value = tags(span["tags"]).get("correlation.id")
            if value:
                found.add(str(value))
    return found


def received_log_records(backend: Backend) -> dict[str, int]:
    """How many log records per correlation.id the collector's file exporter wrote."""
    counts: dict[str, int] = {}
    for record in backend.log_records():
        value = attributes(record.get("attributes", [])).get("correlation.id")
        if value:
            counts[str(value)] = counts.get(str(value), 0) + 1
    return counts


def _refused(port: int) -> bool:
    """Whether a connection to 127.0.0.1:*port* is refused (nothing listens)."""
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def wait_until(check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:
        time.sleep(1)


@dataclass
class Stack:
    backend: Backend
    files: Any
    template: Path


def start_web(backend: Backend, files: Any) -> Service:
    env = {
        "OTEL_SERVICE_NAME": WEB_SERVICE,
        "OTEL_EXPORTER_OTLP_ENDPOINT": backend.otlp_endpoint,
        "EXAMPLE_BROKER_URL": "",
    }
    return start_gunicorn(files, workers=2, threads=4, env=env)


def stop_timed(service: Service) -> tuple[int, float]:
    started = time.monotonic()
    code = service.stop()
    return code, time.monotonic() - started


def log_lines_by_request(files: Any) -> dict[str, int]:
    from example.runner import read_json_lines

    counts: dict[str, int] = {}
    for line in read_json_lines(files.log_file):
        value = line.get("correlation.id")
        if value and line.get("trace_id"):
            counts[str(value)] = counts.get(str(value), 0) + 1
    return counts


@pytest.fixture
def clean_otel_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)


@pytest.mark.usefixtures("clean_otel_env")
def test_collector_stopped_for_10_s_under_load(
    go_binaries: Binaries, tmp_path: Path, example_db_template: Path
) -> None:
    files = service_files(tmp_path / "web", example_db_template)
    with running_backend(go_binaries, tmp_path / "backend") as backend:
        web = start_web(backend, files)
        try:
            with ThreadPoolExecutor(1) as pool:
                began = time.monotonic()
                load = pool.submit(steady_load, web, REQUESTS)
                time.sleep(OUTAGE_AT_S)
                down_at = time.monotonic() - began
                backend.collector.stop()
                collector_stop_s = backend.collector.stop_seconds[-1]
                refused = not answers(backend.collector.health_url) and _refused(
                    backend.ports.otlp_http
                )
                time.sleep(max(0.0, down_at + OUTAGE_S - (time.monotonic() - began)))
                backend.collector.start()
                up_at = time.monotonic() - began
                sent = load.result()
        finally:
            code, shutdown_s = stop_timed(web)
        lines = log_lines_by_request(files)
        expected = {s.correlation_id for s in sent}
        wait_until(lambda: expected <= received_span_ids(backend), 20)
        spans = received_span_ids(backend) & expected
        records = received_log_records(backend)

    during = [s.latency for s in sent if down_at <= s.started <= up_at]
    sent_records = sum(lines.get(s.correlation_id, 0) for s in sent)
    got_records = sum(
        min(records.get(s.correlation_id, 0), lines.get(s.correlation_id, 0)) for s in sent
    )
    print(  # noqa: T201 - the figures, shown with -s
        f"\ncollector down {OUTAGE_S:.0f} s under {REQUESTS} requests at {RATE:.0f}/s: "
        f"spans in Jaeger {len(spans)}/{len(sent)}, log records {got_records}/{sent_records}; "
        f"latency while down max {max(during):.3f} s p95 {p95(during):.3f} s; "
        f"collector stop {collector_stop_s:.2f} s; web service shutdown {shutdown_s:.2f} s"
    )
    assert {s.status for s in sent} == {200}
    assert max(s.latency for s in sent) < MAX_LATENCY_S
    assert code == 0
    assert shutdown_s <= SHUTDOWN_BOUND_S
    before = {s.correlation_id for s in sent if s.started < down_at - BEFORE_OUTAGE_MARGIN_S}
    after = {s.correlation_id for s in sent if s.started > up_at}
    assert before <= spans, f"{len(before - spans)} spans from before the outage lost"
    assert after <= spans, f"{len(after - spans)} spans from after the restart lost"
    for correlation_id in before | after:
        assert records.get(correlation_id, 0) >= lines.get(correlation_id, 0), correlation_id
    # The fault really happened: nothing listened meanwhile. (Whether it cost spans depends on
    # where the SDK's 5 s export cycle fell: a batch whose last retry, 7 s after its first try,
    # comes after the restart goes through.)
    assert refused


@pytest.mark.usefixtures("clean_otel_env")
def test_jaeger_stopped_while_the_collector_runs(
    go_binaries: Binaries, tmp_path: Path, example_db_template: Path
) -> None:
    files = service_files(tmp_path / "web", example_db_template)
    count = max(250, REQUESTS // 4)
    with running_backend(go_binaries, tmp_path / "backend") as backend:
        web = start_web(backend, files)
        try:
            baseline = steady_load(web, count)
            backend.jaeger.stop()
            jaeger_stop_s = backend.jaeger.stop_seconds[-1]
            down = steady_load(web, count)
            backend.jaeger.start()
            after = steady_load(web, count // 5)
        finally:
            code, shutdown_s = stop_timed(web)
        queued = {s.correlation_id for s in down}
        wait_until(lambda: queued <= received_span_ids(backend), 90)
        delivered = received_span_ids(backend)
        collector_alive = (
            backend.collector.process is not None and backend.collector.process.poll() is None
        )

    print(  # noqa: T201 - the figures, shown with -s
        f"\nJaeger down under {count} requests at {RATE:.0f}/s: p95 "
        f"{p95([s.latency for s in baseline]):.3f} s (up) -> "
        f"{p95([s.latency for s in down]):.3f} s "
        f"(down), max {max(s.latency for s in down):.3f} s; spans sent while down delivered after "
        f"the restart {len(queued & delivered)}/{len(queued)}; after "
        f"{len({s.correlation_id for s in after} & delivered)}/{len(after)}; Jaeger stop "
        f"{jaeger_stop_s:.2f} s; web service shutdown {shutdown_s:.2f} s"
    )
    assert {s.status for s in baseline + down + after} == {200}
    assert max(s.latency for s in down) < MAX_LATENCY_S
    assert collector_alive
    assert code == 0
    assert shutdown_s <= SHUTDOWN_BOUND_S
    assert queued <= delivered, f"{len(queued - delivered)} of {len(queued)} never delivered"
    assert {s.correlation_id for s in after} <= delivered
