"""The example service under real gunicorn (gthread): each log line has its own request's ids.

Requests run concurrently on 2 worker processes x 4 threads, so a context leaking between
threads, or a stale scope reused by the next request on a thread, shows up as a log line
carrying another request's trace id, correlation id or user.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import pytest
import requests

from example.app import demo_data
from tests._servers import read_json_lines, running_gunicorn, user_ids
from tests.integration._load import (
    ENVIRONMENT_PATH,
    LINES_PER_REQUEST,
    PROJECT_PATH,
    TENANCY,
    TIMEOUT,
    Call,
    Report,
    assert_clean_run,
    check_lines,
    check_run,
    hex_id,
    load_calls,
    send_all,
    server_spans_by_cid,
)
from tests.integration.conftest import LOAD_USERS

if TYPE_CHECKING:
    from tests._servers import ServiceFiles

pytestmark = pytest.mark.integration


def test_concurrent_requests_log_only_their_own_identifiers(example_files: ServiceFiles) -> None:
    """400 concurrent requests by 400 users: every log line has its own request's ids.

    Each line is joined to a request twice, by ``correlation.id`` and by ``trace_id``; both
    joins must find the same request, and the line's ``span_id``, ``user.id`` and tenancy ids
    must be that request's. Half the requests bring a ``traceparent``, whose trace id the
    server span must continue. The line count is checked too, so nothing passes vacuously.
    """
    calls = load_calls(user_ids(example_files.db), LOAD_USERS)
    assert len({call.user_id for call in calls}) == LOAD_USERS

    with running_gunicorn(example_files, workers=2, threads=4) as service:
        outcomes = send_all(service.base_url, calls)
    assert service.process.returncode == 0, service.stderr()

    report = check_run(calls, outcomes, example_files)
    assert_clean_run(report, LOAD_USERS, LINES_PER_REQUEST)


def _lines_of(files: ServiceFiles, correlation_id: str) -> list[dict[str, Any]]:
    return [
        line
        for line in read_json_lines(files.log_file)
        if line.get("correlation.id") == correlation_id
    ]


def _server_span(files: ServiceFiles, correlation_id: str) -> dict[str, Any]:
    spans = server_spans_by_cid(read_json_lines(files.span_file))
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
        assert line["trace_id"] == hex_id(span["context"]["trace_id"])
        assert line["span_id"] == hex_id(span["context"]["span_id"])
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
        assert {line["trace_id"] for line in lines} == {hex_id(span["context"]["trace_id"])}


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
    check_lines(calls, lines, ids_by_cid, report)
    assert report.lines_checked == 5
    assert report.kinds == {"line join": 2, "line user.id": 1, "line span_id": 1}
