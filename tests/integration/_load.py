"""The concurrency load shared by the WSGI server tests (gunicorn gthread, uWSGI threads).

400 requests by 400 token users, each with its own ``Correlation-Id`` (and half with a client
``traceparent``), sent 32 at a time. Afterwards every log line is joined to its request twice,
by ``correlation.id`` and by ``trace_id``: both joins must find the same request, and the
line's ``span_id``, ``user.id`` and tenancy ids must be that request's. A context leaking
between threads, or a stale scope reused by the next request on a thread, shows up as a line
carrying another request's ids.
"""

from __future__ import annotations

import secrets
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import requests

from example.app import demo_data
from tests._servers import read_json_lines

if TYPE_CHECKING:
    from tests._servers import ServiceFiles

CLIENT_THREADS = 32
TIMEOUT = 30
TENANCY = {"organisation.id": "1", "project.id": "1"}
PROJECT_PATH = "/api/v1/organisations/1/projects/1/"
ENVIRONMENT_PATH = f"/api/v1/environments/{demo_data.ENVIRONMENT_API_KEY}/flags/"
#: Each of these views logs 3 structlog events and 1 more line (a stdlib record or an event
#: from the service layer); see example/app/views.py.
LINES_PER_REQUEST = 4


@dataclass(frozen=True)
class Call:
    """One request of the load: a distinct user, correlation id and (for half) trace id."""

    user_id: str
    token: str
    correlation_id: str
    path: str
    expected_ids: dict[str, str]
    client_trace_id: str | None = None

    def headers(self) -> dict[str, str]:
        headers = {"Authorization": f"Token {self.token}", "Correlation-Id": self.correlation_id}
        if self.client_trace_id:
            headers["traceparent"] = f"00-{self.client_trace_id}-{secrets.token_hex(8)}-01"
        return headers


@dataclass
class Outcome:
    status: int
    correlation_header: str | None
    identifiers: dict[str, str] = field(default_factory=dict)


def load_calls(users: dict[str, str], count: int) -> list[Call]:
    """*count* calls by the seeded load users, alternating the project and environment views."""
    calls = []
    for number in range(count):
        username = demo_data.load_username(number)
        on_project = number % 2 == 0
        expected = {**TENANCY, **({} if on_project else {"environment.id": "1"})}
        calls.append(
            Call(
                user_id=users[username],
                token=demo_data.user_token(username),
                correlation_id=str(uuid.uuid4()),
                path=PROJECT_PATH if on_project else ENVIRONMENT_PATH,
                expected_ids={"user.id": users[username], **expected},
                client_trace_id=secrets.token_hex(16) if number % 4 < 2 else None,
            )
        )
    return calls


def send(base_url: str, call: Call) -> Outcome:
    response = requests.get(base_url + call.path, headers=call.headers(), timeout=TIMEOUT)
    body = response.json() if response.status_code == 200 else {}
    return Outcome(
        response.status_code, response.headers.get("Correlation-Id"), body.get("identifiers", {})
    )


def send_all(base_url: str, calls: list[Call]) -> list[Outcome]:
    """Send *calls* from :data:`CLIENT_THREADS` threads; outcomes in the order of *calls*."""
    with ThreadPoolExecutor(CLIENT_THREADS) as pool:
        return list(pool.map(lambda call: send(base_url, call), calls))


def hex_id(value: str) -> str:
    return value.removeprefix("0x")


def server_spans_by_cid(spans: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    server = [span for span in spans if span["kind"] == "SpanKind.SERVER"]
    return {
        span["attributes"]["correlation.id"]: span
        for span in server
        if "correlation.id" in span["attributes"]
    }


@dataclass
class Report:
    """The outcome of joining requests, spans and log lines; ``mismatches`` should stay empty."""

    lines_checked: int = 0
    lines_per_call: Counter[str] = field(default_factory=Counter)
    kinds: Counter[str] = field(default_factory=Counter)
    mismatches: list[str] = field(default_factory=list)

    def add(self, kind: str, detail: str) -> None:
        self.kinds[kind] += 1
        self.mismatches.append(f"[{kind}] {detail}")

    def summary(self) -> str:
        shown = "\n  ".join(self.mismatches[:8])
        return (
            f"{len(self.mismatches)} mismatches in {self.lines_checked} log lines, "
            f"by kind {dict(self.kinds)}; first ones:\n  {shown}"
        )


def check_responses(calls: list[Call], outcomes: list[Outcome], report: Report) -> None:
    for call, outcome in zip(calls, outcomes, strict=True):
        if outcome.status != 200 or outcome.correlation_header != call.correlation_id:
            report.add(
                "response", f"{call.correlation_id}: {outcome.status} {outcome.correlation_header}"
            )
        expected = {"correlation.id": call.correlation_id, **call.expected_ids}
        if outcome.identifiers != expected:
            report.add("view identifiers", f"{outcome.identifiers} != {expected}")


def check_spans(
    calls: list[Call], spans_by_cid: dict[str, dict[str, Any]], report: Report
) -> dict[str, tuple[str, str]]:
    """Check each call's server span; return correlation id -> (trace id, span id)."""
    ids_by_cid = {}
    for call in calls:
        span = spans_by_cid.get(call.correlation_id)
        if span is None:
            report.add("span missing", call.correlation_id)
            continue
        trace_id, span_id = hex_id(span["context"]["trace_id"]), hex_id(span["context"]["span_id"])
        ids_by_cid[call.correlation_id] = (trace_id, span_id)
        if call.client_trace_id and trace_id != call.client_trace_id:
            report.add("span trace_id", f"{trace_id} != traceparent's {call.client_trace_id}")
        for key, value in call.expected_ids.items():
            if span["attributes"].get(key) != value:
                report.add(f"span {key}", f"{span['attributes'].get(key)} != {value}")
    return ids_by_cid


def _check_line(
    line: dict[str, Any],
    calls_by_cid: dict[str, Call],
    calls_by_trace: dict[str, Call],
    ids_by_cid: dict[str, tuple[str, str]],
    report: Report,
) -> None:
    """Join *line* to a request by correlation id and by trace id; both must agree fully."""
    by_cid = calls_by_cid.get(line.get("correlation.id", ""))
    by_trace = calls_by_trace.get(line.get("trace_id", ""))
    if by_cid is None or by_trace is None or by_cid is not by_trace:
        report.add("line join", f"correlation.id and trace_id name different requests: {line}")
        return
    report.lines_per_call[by_cid.correlation_id] += 1
    expected_span = ids_by_cid[by_cid.correlation_id][1]
    if line.get("span_id") != expected_span:
        report.add("line span_id", f"{line.get('span_id')} != {expected_span}: {line}")
    for key, value in by_cid.expected_ids.items():
        if line.get(key) != value:
            report.add(f"line {key}", f"{line.get(key)} != {value}: {line}")


def check_lines(
    calls: list[Call],
    lines: list[dict[str, Any]],
    ids_by_cid: dict[str, tuple[str, str]],
    report: Report,
) -> None:
    calls_by_cid = {call.correlation_id: call for call in calls}
    calls_by_trace = {
        ids_by_cid[call.correlation_id][0]: call
        for call in calls
        if call.correlation_id in ids_by_cid
    }
    for line in lines:
        report.lines_checked += 1
        _check_line(line, calls_by_cid, calls_by_trace, ids_by_cid, report)


def check_run(calls: list[Call], outcomes: list[Outcome], files: ServiceFiles) -> Report:
    """Join the responses, the span file and the log file of a finished run to *calls*."""
    report = Report()
    check_responses(calls, outcomes, report)
    spans_by_cid = server_spans_by_cid(read_json_lines(files.span_file))
    ids_by_cid = check_spans(calls, spans_by_cid, report)
    check_lines(calls, read_json_lines(files.log_file), ids_by_cid, report)
    return report


def assert_clean_run(report: Report, requests: int, lines_per_request: int) -> None:
    """Every line matched its request, and every request had exactly its lines (no vacuity)."""
    assert not report.mismatches, report.summary()
    assert report.lines_checked == requests * lines_per_request
    assert set(report.lines_per_call.values()) == {lines_per_request}
    assert len(report.lines_per_call) == requests
