"""The example service under real uWSGI (processes x threads): each log line has its own ids.

``example/uwsgi.ini`` runs 2 worker processes x 4 threads with ``lazy-apps``, so every worker
loads Django and creates its own ``TracerProvider`` after the fork. The load and its checks
are the gunicorn test's (``tests/integration/_load.py``).
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import pytest
import requests

from example.app import demo_data
from example.runner import start_uwsgi, uwsgi_binary
from tests._servers import read_json_lines, running_uwsgi, user_ids
from tests.integration._baggage import sized
from tests.integration._load import (
    LINES_PER_REQUEST,
    TIMEOUT,
    assert_clean_run,
    check_run,
    load_calls,
    send_all,
    server_spans_by_cid,
)
from tests.integration.conftest import LOAD_USERS

if TYPE_CHECKING:
    from tests._servers import ServiceFiles

#: uwsgi is in the [dev] extras: under CI=true its absence fails the tests instead.
_UWSGI_MISSING = uwsgi_binary() is None and os.environ.get("CI", "").lower() != "true"
pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(_UWSGI_MISSING, reason="uwsgi is not installed (pip install uwsgi)"),
]

#: Requests of the short runs that check start-up and shut-down modes.
FEW = 8


def _few_requests(files: ServiceFiles, base_url: str) -> list[str]:
    """Send :data:`FEW` load requests at once, all answered 200; return their correlation ids."""
    calls = load_calls(user_ids(files.db), FEW)
    outcomes = send_all(base_url, calls)
    assert [outcome.status for outcome in outcomes] == [200] * FEW
    return [call.correlation_id for call in calls]


def _span_cids(files: ServiceFiles) -> set[str]:
    """Correlation ids of the server spans written, the readiness probes' excluded."""
    spans = server_spans_by_cid(read_json_lines(files.span_file))
    return {cid for cid, span in spans.items() if span["attributes"]["http.route"] != "healthz"}


def _wait_for_event(files: ServiceFiles, correlation_id: str, event: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        for line in read_json_lines(files.log_file):
            if line.get("correlation.id") == correlation_id and line["event"] == event:
                return
        time.sleep(0.02)
    msg = f"{event!r} of {correlation_id} not logged within {TIMEOUT} s"
    raise AssertionError(msg)


class TestConcurrency:
    def test_concurrent_requests_log_only_their_own_identifiers(
        self, example_files: ServiceFiles
    ) -> None:
        """400 concurrent requests by 400 users on 2 x 4 uWSGI threads: 0 mismatched lines.

        Every log line is joined to its request by ``correlation.id`` and by ``trace_id``;
        both must name the same request, whose span id, user and tenancy the line must carry.
        Exactly 4 lines per request, 1,600 in all, and one server span per request (each
        worker's provider flushed on the graceful stop).
        """
        calls = load_calls(user_ids(example_files.db), LOAD_USERS)
        assert len({call.user_id for call in calls}) == LOAD_USERS

        with running_uwsgi(example_files, workers=2, threads=4) as service:
            outcomes = send_all(service.base_url, calls)
        assert service.process.returncode == 0, service.stderr()

        report = check_run(calls, outcomes, example_files)
        assert_clean_run(report, LOAD_USERS, LINES_PER_REQUEST)


class TestWorkerLifecycle:
    def test_sigterm_lets_the_request_in_flight_finish_and_flushes_its_span(
        self, example_files: ServiceFiles
    ) -> None:
        """SIGTERM to the master (what docker and Kubernetes send) is a graceful shutdown.

        uWSGI 2.0 would reload on SIGTERM, or with ``die-on-term`` exit at once, skipping the
        flush of a busy worker. The ini maps it to the graceful shutdown: a request signalled
        mid-view (1 s pauses) still gets its 200, and its span and log lines are written; exit 0.
        """
        headers = {
            "Authorization": f"Token {demo_data.user_token('alice')}",
            "Correlation-Id": f"slow-{uuid.uuid4().hex}",
        }
        url_path = "/api/v1/async/work/?sleep_ms=1000&job=7"
        service = start_uwsgi(example_files, workers=2, threads=4)
        try:
            with ThreadPoolExecutor(1) as pool:
                pending = pool.submit(
                    requests.get, service.url(url_path), headers=headers, timeout=TIMEOUT
                )
                _wait_for_event(example_files, headers["Correlation-Id"], "async.started")
                service.process.send_signal(signal.SIGTERM)  # the view is in its first pause
                response = pending.result()
            returncode = service.process.wait(20)
        finally:
            service.stop()
        assert returncode == 0, service.stderr()
        assert "graceful shutdown triggered" in service.stderr()
        assert response.status_code == 200
        assert response.json()["identifiers"]["job.id"] == "7"
        assert _span_cids(example_files) == {headers["Correlation-Id"]}
        events = [
            line["event"]
            for line in read_json_lines(example_files.log_file)
            if line.get("correlation.id") == headers["Correlation-Id"]
        ]
        assert events == ["async.started", "async.bound", "async.finished"]

    def test_app_loaded_in_the_master_sets_tracing_up_after_the_fork(
        self, example_files: ServiceFiles
    ) -> None:
        """With ``lazy-apps`` off the app is imported once, in the master, then forked.

        ``example/uwsgi_app.py`` sees it runs in the master and defers the provider to a
        ``uwsgidecorators.postfork`` hook: the workers' spans are all written and the lines
        carry trace ids.
        """
        with running_uwsgi(example_files, workers=2, threads=4, lazy_apps=False) as service:
            cids = _few_requests(example_files, service.base_url)
        assert service.process.returncode == 0, service.stderr()
        assert service.stderr().count("(default app)") == 1  # loaded once, not per worker
        assert _span_cids(example_files) == set(cids)
        lines = read_json_lines(example_files.log_file)
        assert len(lines) == FEW * LINES_PER_REQUEST
        assert all(len(line.get("trace_id", "")) == 32 for line in lines)


@pytest.mark.parametrize("size", [8192, 8193])
def test_large_baggage_header_fits_the_request_buffer(
    example_files: ServiceFiles, size: int
) -> None:
    """8,192 bytes of baggage (the W3C limit) and one more: served, cut only past the limit.

    uWSGI's default ``buffer-size`` (4 KiB for all headers) would close the connection;
    ``example/uwsgi.ini`` raises it. One byte over the limit costs one whole member, counted.
    """
    correlation_id = str(uuid.uuid4())
    headers = {
        "X-Environment-Key": "unknown",
        "Correlation-Id": correlation_id,
        "baggage": sized(size),
    }
    with running_uwsgi(example_files, workers=1, threads=2) as service:
        response = requests.get(service.url("/api/v1/sdk/flags/"), headers=headers, timeout=TIMEOUT)
    assert response.status_code == 401  # the app answered: an unknown SDK key
    assert response.headers["Correlation-Id"] == correlation_id
    spans = server_spans_by_cid(read_json_lines(example_files.span_file))
    attributes = spans[correlation_id]["attributes"]
    assert attributes.get("otel_context.baggage.over_limit") == (size - 8192 or None)
