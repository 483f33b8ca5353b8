"""Soak with the flight recorder on: held buffers bounded and flat, nothing held afterwards.

The example service under gunicorn (2 workers x 4 threads), ``HOLD_LINES`` on, ratio 0, and
a small process bound (``HOLD_MAX_PROCESS_BYTES`` = :data:`PROCESS_BOUND`, below one
request's held lines) so that it bites. ``OTEL_CONTEXT_SOAK_REQUESTS`` requests (default
10,000) from 16 client threads, sampled out; 2 % fail (500: their held lines are written).
Each worker notes the most it held after every request (``tests/held_soak_app.py``).
Asserted: that peak is within the process bound; once the load is over each worker holds 0
lines and 0 bytes; worker RSS grows by less than the soak's bound between the warm-up and the
end; held lines were written, and what the bound dropped was counted (the recorder's warning).

Run: ``pytest -m slow tests/integration/test_soak_held.py`` (a small run:
``OTEL_CONTEXT_SOAK_REQUESTS=300``).
"""

from __future__ import annotations

import logging
import secrets
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Final

import pytest
import requests

from example.app import demo_data
from tests._servers import read_json_lines, running_gunicorn
from tests.integration._load import PROJECT_PATH, TIMEOUT
from tests.integration.test_soak import (
    CONNECTIONS,
    REQUESTS,
    RSS_BOUND_MIB,
    TIME_LIMIT_S,
    WARMUP_SHARE,
    gunicorn_workers,
    rss_mib,
)

if TYPE_CHECKING:
    from tests._servers import Service, ServiceFiles

pytestmark = [pytest.mark.integration, pytest.mark.slow]
_log = logging.getLogger(__name__)

#: HOLD_MAX_PROCESS_BYTES for the run: below one request's held lines (about 1.9 kB), so it bites.
PROCESS_BOUND: Final = 1024
ENV: Final = {
    "OTEL_CONTEXT_UNSAMPLED_LOG_RATIO": "0",
    "OTEL_CONTEXT_HOLD_LINES": "true",
    "OTEL_CONTEXT_HOLD_SLOW_MS": "0",
    "OTEL_CONTEXT_HOLD_MAX_PROCESS_BYTES": str(PROCESS_BOUND),
}
FAILING_EVERY: Final = 50  # 2 %


def _send(base_url: str, index: int) -> int:
    path = "/api/v1/boom/" if index % FAILING_EVERY == 0 else PROJECT_PATH
    headers = {
        "Authorization": f"Token {demo_data.user_token('alice')}",
        "traceparent": f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-00",
    }
    return requests.get(base_url + path, headers=headers, timeout=TIMEOUT).status_code


def _load(service: Service, indexes: range) -> list[int]:
    with ThreadPoolExecutor(CONNECTIONS) as pool:
        return list(pool.map(lambda index: _send(service.base_url, index), indexes))


def _held_by_worker(service: Service, workers: int) -> dict[int, dict[str, Any]]:
    """``/_held`` of every worker (asked until each has answered)."""
    seen: dict[int, dict[str, Any]] = {}
    for _ in range(200):
        report = requests.get(service.url("/_held"), timeout=TIMEOUT).json()
        seen[report["pid"]] = report
        if len(seen) == workers:
            break
    return seen


@pytest.mark.timeout(TIME_LIMIT_S)
def test_held_buffers_stay_bounded_and_flat(example_files: ServiceFiles) -> None:
    warmup = int(REQUESTS * WARMUP_SHARE)
    with running_gunicorn(
        example_files, workers=2, threads=4, env=ENV, app="tests.held_soak_app:application"
    ) as service:
        statuses = _load(service, range(warmup))
        warm = rss_mib(gunicorn_workers(service))
        statuses += _load(service, range(warmup, REQUESTS))
        end = rss_mib(gunicorn_workers(service))
        reports = _held_by_worker(service, len(warm))
    _log.info("held by worker at the end: %s; RSS MiB warm %s, end %s", reports, warm, end)
    assert service.process.returncode == 0, service.stderr()
    failing = len(range(0, REQUESTS, FAILING_EVERY))
    assert sorted(statuses).count(500) == failing
    assert statuses.count(200) == REQUESTS - failing

    assert len(reports) == len(warm) == 2, reports
    for report in reports.values():
        assert report["lines"] == report["bytes"] == 0, report  # nothing left held
        assert 0 < report["peak"]["bytes"] <= PROCESS_BOUND, report
    growth = {pid: end[pid] - warm[pid] for pid in warm}
    assert all(mib < RSS_BOUND_MIB for mib in growth.values()), growth

    lines = read_json_lines(example_files.log_file)
    assert [line for line in lines if line.get("log.held")], "no held line was written"
    assert any("were dropped (HOLD_MAX_*)" in str(line.get("event")) for line in lines)
