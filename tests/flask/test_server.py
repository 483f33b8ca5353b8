"""The Flask test app under real gunicorn (gthread): each log line has its own request's ids.

2 worker processes x 4 threads serve 400 concurrent requests, each by its own user with its
own correlation id, and each carrying spoofed baggage that claims another user's id and an
organisation. A context leaking between threads or requests, or baggage taken for an
identifier, shows up as a line or span naming another request's ids.
"""

from __future__ import annotations

from tests._packages import skip_if_omitted

# before the adapter is imported: a matrix cell without the Flask instrumentation skips here
skip_if_omitted("opentelemetry-instrumentation-flask")

import secrets
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
import requests

from tests._servers import ServiceFiles, read_json_lines, running_gunicorn_app
from tests.flask.app import LINES_PER_ITEM_REQUEST

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.integration

APP = "tests.flask.server:app"
LOAD = 400
ANONYMOUS = 40
CLIENT_THREADS = 32
TIMEOUT = 30
SPOOFED_ORGANISATION = "7"


@dataclass(frozen=True)
class Call:
    """One request: its own user (or none), correlation id, URL ids, maybe a traceparent."""

    number: int
    user_id: str | None
    spoofed_user: str
    correlation_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    client_trace_id: str | None = None

    @property
    def path(self) -> str:
        return f"/orgs/{1000 + self.number}/items/item-{self.number}"

    @property
    def expected_ids(self) -> dict[str, str]:
        ids = {"organisation.id": str(1000 + self.number), "item.id": f"item-{self.number}"}
        return ids | ({"user.id": self.user_id} if self.user_id else {})

    def headers(self) -> dict[str, str]:
        headers = {
            "Correlation-Id": self.correlation_id,
            "baggage": f"user.id={self.spoofed_user},organisation.id={SPOOFED_ORGANISATION}",
        }
        if self.user_id:
            headers["X-User"] = self.user_id
        if self.client_trace_id:
            headers["traceparent"] = f"00-{self.client_trace_id}-{secrets.token_hex(8)}-01"
        return headers


def _calls(count: int, *, anonymous: bool = False) -> list[Call]:
    users = [f"user-{number:03d}" for number in range(count)]
    return [
        Call(
            number=number,
            user_id=None if anonymous else users[number],
            spoofed_user=users[(number + 1) % count],  # another request's real user
            client_trace_id=secrets.token_hex(16) if number % 2 else None,
        )
        for number in range(count)
    ]


@dataclass
class Report:
    """Responses, spans and lines joined to their calls; ``mismatches`` should stay empty."""

    mismatches: list[str] = field(default_factory=list)
    lines_per_call: Counter[str] = field(default_factory=Counter)
    lines_checked: int = 0

    def expect(self, what: str, actual: object, expected: object) -> None:
        if actual != expected:
            self.mismatches.append(f"{what}: {actual!r} != {expected!r}")

    def summary(self) -> str:
        shown = "\n  ".join(self.mismatches[:10])
        return f"{len(self.mismatches)} mismatches in {self.lines_checked} lines:\n  {shown}"


def _send(base_url: str, call: Call) -> requests.Response:
    return requests.get(base_url + call.path, headers=call.headers(), timeout=TIMEOUT)


def _serve(files: ServiceFiles, calls: list[Call]) -> list[requests.Response]:
    with (
        running_gunicorn_app(files, APP, workers=2, threads=4) as service,
        ThreadPoolExecutor(CLIENT_THREADS) as pool,
    ):
        responses = list(pool.map(lambda call: _send(service.base_url, call), calls))
    assert service.process.returncode == 0, service.stderr()
    return responses


def _hex(value: str) -> str:
    return value.removeprefix("0x")


def _server_spans(files: ServiceFiles) -> dict[str, dict[str, Any]]:
    """Server spans (but the readiness probes') by the correlation id they carry."""
    return {
        span["attributes"]["correlation.id"]: span
        for span in read_json_lines(files.span_file)
        if span["kind"] == "SpanKind.SERVER" and span["name"] != "GET /healthz"
    }


def _check_responses(calls: list[Call], responses: list[requests.Response], report: Report) -> None:
    for call, response in zip(calls, responses, strict=True):
        report.expect("status", response.status_code, 200)
        report.expect("header", response.headers.get("Correlation-Id"), call.correlation_id)
        body = response.json() if response.status_code == 200 else {}
        expected = call.expected_ids | {"correlation.id": call.correlation_id}
        report.expect("view identifiers", body.get("identifiers"), expected)
        report.expect("view baggage", body.get("baggage"), {"correlation.id": call.correlation_id})


def _check_spans(calls: list[Call], spans: dict[str, dict[str, Any]], report: Report) -> None:
    report.expect("server spans", len(spans), len(calls))
    for call in calls:
        span = spans.get(call.correlation_id, {"attributes": {}, "context": {"trace_id": ""}})
        attributes = span["attributes"]
        owned = {key: attributes.get(key) for key in ("user.id", "organisation.id", "item.id")}
        report.expect("span ids", {k: v for k, v in owned.items() if v}, call.expected_ids)
        report.expect("span dropped baggage", attributes.get("otel_context.baggage.dropped"), 2)
        if call.client_trace_id:
            report.expect("span trace", _hex(span["context"]["trace_id"]), call.client_trace_id)


def _check_lines(
    calls: list[Call], spans: dict[str, dict[str, Any]], lines: list[dict[str, Any]], report: Report
) -> None:
    """Join each line by correlation id and by trace id: both must name the same call."""
    by_cid = {call.correlation_id: call for call in calls}
    ids = {
        cid: (_hex(s["context"]["trace_id"]), _hex(s["context"]["span_id"]))
        for cid, s in spans.items()
    }
    by_trace = {ids[cid][0]: call for cid, call in by_cid.items() if cid in ids}
    for line in lines:
        report.lines_checked += 1
        call = by_cid.get(line.get("correlation.id", ""))
        if call is None or by_trace.get(line.get("trace_id", "")) is not call:
            report.mismatches.append(f"line joins no single request: {line}")
            continue
        report.lines_per_call[call.correlation_id] += 1
        report.expect("line span_id", line.get("span_id"), ids[call.correlation_id][1])
        owned = {key: line[key] for key in ("user.id", "organisation.id", "item.id") if key in line}
        report.expect(f"line ids of {line.get('event')}", owned, call.expected_ids)


def _run_and_check(files: ServiceFiles, calls: list[Call]) -> Report:
    responses = _serve(files, calls)
    spans = _server_spans(files)
    report = Report()
    _check_responses(calls, responses, report)
    _check_spans(calls, spans, report)
    _check_lines(calls, spans, read_json_lines(files.log_file), report)
    return report


@pytest.fixture
def files(tmp_path: Path) -> ServiceFiles:
    return ServiceFiles.in_dir(tmp_path / "flask-service")


def test_concurrent_requests_log_only_their_own_identifiers(files: ServiceFiles) -> None:
    """400 concurrent requests by 400 users, each spoofing another's user.id in baggage.

    Every log line (structlog events and a stdlib record) and every server span carries
    exactly its own request's user.id, organisation.id and item.id, trace_id and span_id; the
    view sees no spoofed baggage. Half the requests bring a traceparent the span continues.
    The exact line count is checked, so nothing passes vacuously.
    """
    calls = _calls(LOAD)
    assert len({call.user_id for call in calls}) == LOAD

    report = _run_and_check(files, calls)

    assert not report.mismatches, report.summary()
    assert report.lines_checked == LOAD * LINES_PER_ITEM_REQUEST
    assert set(report.lines_per_call.values()) == {LINES_PER_ITEM_REQUEST}
    assert len(report.lines_per_call) == LOAD


def test_anonymous_requests_cannot_claim_ids_through_baggage(files: ServiceFiles) -> None:
    """No X-User, ``baggage: user.id=<someone>,organisation.id=7``: no line or span has a user,
    and organisation.id is the URL's, never 7."""
    calls = _calls(ANONYMOUS, anonymous=True)

    report = _run_and_check(files, calls)

    assert not report.mismatches, report.summary()
    assert report.lines_checked == ANONYMOUS * LINES_PER_ITEM_REQUEST
    lines = read_json_lines(files.log_file)
    assert not [line for line in lines if "user.id" in line]
    assert {line["organisation.id"] for line in lines}.isdisjoint({SPOOFED_ORGANISATION})


def test_view_that_raises_returns_500_with_correlation_id_and_logs_ids(
    files: ServiceFiles,
) -> None:
    """A 500 echoes Correlation-Id; its lines (incl. Flask's error record) carry the ids."""
    headers = {"Correlation-Id": f"boom-{uuid.uuid4().hex}", "X-User": "user-500"}
    with running_gunicorn_app(files, APP, workers=1, threads=2) as service:
        response = requests.get(service.url("/raises"), headers=headers, timeout=TIMEOUT)
    assert service.process.returncode == 0, service.stderr()

    assert response.status_code == 500
    assert response.headers.get("Correlation-Id") == headers["Correlation-Id"]
    span = _server_spans(files)[headers["Correlation-Id"]]
    assert span["status"]["status_code"] == "ERROR"
    assert span["attributes"]["user.id"] == "user-500"
    lines = read_json_lines(files.log_file)
    assert [line["event"] for line in lines] == ["view.before_raise", "Exception on /raises [GET]"]
    assert "RuntimeError: view failed on purpose" in lines[-1]["exception"]
    for line in lines:
        assert line["correlation.id"] == headers["Correlation-Id"]
        assert line["user.id"] == "user-500"
        assert line["trace_id"] == _hex(span["context"]["trace_id"])
        assert line["span_id"] == _hex(span["context"]["span_id"])


def test_the_join_catches_lines_with_another_requests_ids() -> None:
    """The checker is not vacuous: a foreign trace, user, organisation or span is reported."""
    one, two = _calls(2)
    spans = {
        call.correlation_id: {"context": {"trace_id": f"0x{n * 32}", "span_id": f"0x{n * 16}"}}
        for call, n in ((one, "a"), (two, "b"))
    }
    good = {
        "correlation.id": one.correlation_id,
        "trace_id": "a" * 32,
        "span_id": "a" * 16,
        **one.expected_ids,
    }
    lines: list[dict[str, Any]] = [
        good,
        good | {"trace_id": "b" * 32},  # another request's trace
        good | {"user.id": two.user_id},  # another request's user
        good | {"organisation.id": SPOOFED_ORGANISATION},  # the spoofed organisation
        good | {"span_id": "b" * 16},  # another request's span
        {"event": "no ids at all"},
    ]
    report = Report()
    _check_lines([one, two], spans, lines, report)
    assert report.lines_checked == 6
    assert len(report.mismatches) == 5
    assert report.lines_per_call[one.correlation_id] == 4
