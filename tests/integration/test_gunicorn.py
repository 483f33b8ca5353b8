"""The example service under real gunicorn (gthread): each log line has its own request's ids.

Requests run concurrently on 2 worker processes x 4 threads, so a context leaking between
threads, or a stale scope reused by the next request on a thread, shows up as a log line
carrying another request's trace id, correlation id or user.
"""

from __future__ import annotations

import secrets
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
import requests

from example.app import demo_data
from tests._servers import read_json_lines, running_gunicorn, user_ids
from tests.integration.conftest import LOAD_USERS

if TYPE_CHECKING:
    from tests._servers import ServiceFiles

pytestmark = pytest.mark.integration

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


def _calls(users: dict[str, str]) -> list[Call]:
    calls = []
    for number in range(LOAD_USERS):
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


def _send(base_url: str, call: Call) -> Outcome:
    response = requests.get(base_url + call.path, headers=call.headers(), timeout=TIMEOUT)
    body = response.json() if response.status_code == 200 else {}
    return Outcome(
        response.status_code, response.headers.get("Correlation-Id"), body.get("identifiers", {})
    )


def _hex(value: str) -> str:
    return value.removeprefix("0x")


def _server_spans_by_cid(spans: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
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


def _check_responses(calls: list[Call], outcomes: list[Outcome], report: Report) -> None:
    for call, outcome in zip(calls, outcomes, strict=True):
        if outcome.status != 200 or outcome.correlation_header != call.correlation_id:
            report.add(
                "response", f"{call.correlation_id}: {outcome.status} {outcome.correlation_header}"
            )
        expected = {"correlation.id": call.correlation_id, **call.expected_ids}
        if outcome.identifiers != expected:
            report.add("view identifiers", f"{outcome.identifiers} != {expected}")


def _check_spans(
    calls: list[Call], spans_by_cid: dict[str, dict[str, Any]], report: Report
) -> dict[str, tuple[str, str]]:
    """Check each call's server span; return correlation id -> (trace id, span id)."""
    ids_by_cid = {}
    for call in calls:
        span = spans_by_cid.get(call.correlation_id)
        if span is None:
            report.add("span missing", call.correlation_id)
            continue
        trace_id, span_id = _hex(span["context"]["trace_id"]), _hex(span["context"]["span_id"])
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


def _check_lines(
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


def test_concurrent_requests_log_only_their_own_identifiers(example_files: ServiceFiles) -> None:
    """400 concurrent requests by 400 users: every log line has its own request's ids.

    Each line is joined to a request twice, by ``correlation.id`` and by ``trace_id``; both
    joins must find the same request, and the line's ``span_id``, ``user.id`` and tenancy ids
    must be that request's. Half the requests bring a ``traceparent``, whose trace id the
    server span must continue. The line count is checked too, so nothing passes vacuously.
    """
    calls = _calls(user_ids(example_files.db))
    assert len({call.user_id for call in calls}) == LOAD_USERS

    with (
        running_gunicorn(example_files, workers=2, threads=4) as service,
        ThreadPoolExecutor(CLIENT_THREADS) as pool,
    ):
        outcomes = list(pool.map(lambda call: _send(service.base_url, call), calls))
    assert service.process.returncode == 0, service.stderr()

    report = Report()
    _check_responses(calls, outcomes, report)
    spans_by_cid = _server_spans_by_cid(read_json_lines(example_files.span_file))
    ids_by_cid = _check_spans(calls, spans_by_cid, report)
    _check_lines(calls, read_json_lines(example_files.log_file), ids_by_cid, report)

    assert not report.mismatches, report.summary()
    assert report.lines_checked == LOAD_USERS * LINES_PER_REQUEST
    assert set(report.lines_per_call.values()) == {LINES_PER_REQUEST}
    assert len(report.lines_per_call) == LOAD_USERS


def _lines_of(files: ServiceFiles, correlation_id: str) -> list[dict[str, Any]]:
    return [
        line
        for line in read_json_lines(files.log_file)
        if line.get("correlation.id") == correlation_id
    ]


def _server_span(files: ServiceFiles, correlation_id: str) -> dict[str, Any]:
    spans = _server_spans_by_cid(read_json_lines(files.span_file))
    return spans[correlation_id]


def test_view_that_raises_returns_500_with_correlation_id_and_logs_ids(
    example_files: ServiceFiles,
) -> None:
    """A 500 still echoes Correlation-Id; its lines (incl. Django's error record) carry the ids."""
    users = user_ids(example_files.db)
    correlation_id = f"boom-{uuid.uuid4().hex}"
    headers = {
        "Authorization": f"Token {demo_data.user_token('alice')}",
        "Correlation-Id": correlation_id,
    }
    with running_gunicorn(example_files, workers=1, threads=2) as service:
        response = requests.get(service.url("/api/v1/boom/"), headers=headers, timeout=TIMEOUT)

    assert response.status_code == 500
    assert response.headers.get("Correlation-Id") == correlation_id
    span = _server_span(example_files, correlation_id)
    assert span["attributes"]["http.status_code"] == 500
    assert span["attributes"]["user.id"] == users["alice"]
    lines = _lines_of(example_files, correlation_id)
    assert [line["event"] for line in lines] == [
        "boom.requested",
        "boom.about_to_fail",
        "Internal Server Error: /api/v1/boom/",
    ]
    assert "RuntimeError: deliberate failure" in lines[-1]["exception"]
    for line in lines:
        assert line["trace_id"] == _hex(span["context"]["trace_id"])
        assert line["span_id"] == _hex(span["context"]["span_id"])
        assert line["user.id"] == users["alice"]


def test_principals_without_a_user_bind_tenancy_but_no_user_id(
    example_files: ServiceFiles,
) -> None:
    """An organisation API key and an SDK environment key bind tenancy ids and no user.id.

    The SDK request sends no correlation id: one is generated and echoed.
    """
    api_key = {"Authorization": f"Api-Key {demo_data.ORGANISATION_API_KEY}"}
    sdk = {"X-Environment-Key": demo_data.ENVIRONMENT_API_KEY}
    with running_gunicorn(example_files, workers=1, threads=2) as service:
        responses = [
            requests.get(service.url(ENVIRONMENT_PATH), headers=api_key, timeout=TIMEOUT),
            requests.get(service.url("/api/v1/sdk/flags/"), headers=sdk, timeout=TIMEOUT),
        ]

    expected = {**TENANCY, "environment.id": "1"}
    for response in responses:
        assert response.status_code == 200
        correlation_id = response.headers["Correlation-Id"]
        lines = _lines_of(example_files, correlation_id)
        assert len(lines) >= 3
        for line in lines:
            assert "user.id" not in line
            assert {key: line.get(key) for key in expected} == expected
        span = _server_span(example_files, correlation_id)
        assert "user.id" not in span["attributes"]
        assert {line["trace_id"] for line in lines} == {_hex(span["context"]["trace_id"])}


def test_the_join_catches_a_line_that_carries_another_requests_ids() -> None:
    """The checker is not vacuous: a line with a foreign trace id or user.id is reported."""
    calls = [Call(str(n), "token", f"cid-{n}", PROJECT_PATH, {"user.id": str(n)}) for n in (1, 2)]
    ids_by_cid = {"cid-1": ("a" * 32, "1" * 16), "cid-2": ("b" * 32, "2" * 16)}
    good = {"correlation.id": "cid-1", "trace_id": "a" * 32, "span_id": "1" * 16, "user.id": "1"}
    lines = [
        good,
        {**good, "trace_id": "b" * 32},  # another request's trace
        {**good, "user.id": "2"},  # another request's user
        {**good, "span_id": "2" * 16},  # another request's span
        {"event": "no ids at all"},
    ]
    report = Report()
    _check_lines(calls, lines, ids_by_cid, report)
    assert report.lines_checked == 5
    assert report.kinds == {"line join": 2, "line user.id": 1, "line span_id": 1}
