"""Soak: thousands of requests by distinct users on gunicorn gthread and on uvicorn.

``OTEL_CONTEXT_SOAK_REQUESTS`` requests (default 10,000), each by its own seeded token user
with its own ``Correlation-Id`` (and, for half, a client ``traceparent``), from
:data:`CONNECTIONS` client threads. Afterwards every response, server span and log line is
joined to its request with the checker of the concurrency tests (``tests/integration/_load.py``):
zero mismatches, and exactly :data:`~tests.integration._load.LINES_PER_REQUEST` lines each.

Memory: the workers' RSS (``VmRSS``) is read after the first :data:`WARMUP_SHARE` of the
requests (warm-up: caches, connections, the span exporter's buffers) and again at the end;
each worker may grow by less than :data:`RSS_BOUND_MIB` MiB in between, and no worker may be
replaced. A per-request leak of a few hundred bytes over 8,000 requests stays under that
bound; a leaked context, span or log-record per request does not.

Run: ``pytest -m slow tests/integration/test_soak.py`` (CI sets a smaller size).
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TYPE_CHECKING, Final

import pytest

from benchmarks._load_wrk import children, rss_kb
from tests._servers import (
    ServiceFiles,
    migrated_example_db,
    running_gunicorn,
    running_uvicorn,
    service_files,
    user_ids,
)
from tests.integration._load import LINES_PER_REQUEST, check_run, load_calls, send

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager
    from pathlib import Path

    from tests._servers import Service
    from tests.integration._load import Call, Outcome

pytestmark = [pytest.mark.integration, pytest.mark.slow]
_log = logging.getLogger(__name__)

#: Requests per server (each by a distinct user); CI sets a smaller number.
REQUESTS: Final = int(os.environ.get("OTEL_CONTEXT_SOAK_REQUESTS") or 10_000)
#: Client threads, each with at most one connection open: requests in flight at once.
CONNECTIONS: Final = 16
#: The share of the requests sent before the first RSS reading (2,000 of 10,000).
WARMUP_SHARE: Final = 0.2
#: How much one worker's RSS may grow between the two readings.
RSS_BOUND_MIB: Final = 20
#: Seconds the test may take per server: start-up and the check, plus the requests.
TIME_LIMIT_S: Final = 120 + REQUESTS * 0.06


@pytest.fixture(scope="module")
def soak_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, seeded example database with one token user per request."""
    return migrated_example_db(tmp_path_factory.mktemp("soak-db"), users=REQUESTS)


@pytest.fixture
def soak_files(tmp_path: Path, soak_db: Path) -> ServiceFiles:
    """A fresh directory for one server run, with its own copy of the soak database."""
    return service_files(tmp_path / "service", soak_db)


def send_concurrently(base_url: str, calls: list[Call]) -> list[Outcome]:
    """Send *calls* from :data:`CONNECTIONS` threads; outcomes in the order of *calls*."""
    with ThreadPoolExecutor(CONNECTIONS) as pool:
        return list(pool.map(partial(send, base_url), calls))


def gunicorn_workers(service: Service) -> list[int]:
    """gunicorn's worker processes: the master's children."""
    return children(service.process.pid)


def uvicorn_process(service: Service) -> list[int]:
    """uvicorn serves from its one process."""
    return [service.process.pid]


def rss_mib(pids: list[int]) -> dict[int, float]:
    """RSS in MiB of each of *pids* that still runs."""
    return {pid: kb / 1024 for pid in pids if (kb := rss_kb(pid)) is not None}


def soak(
    server: AbstractContextManager[Service],
    files: ServiceFiles,
    servers: Callable[[Service], list[int]],
) -> None:
    """Send the soak load to the *server* it starts, stop it, check every request, line, RSS."""
    calls = load_calls(user_ids(files.db), REQUESTS)
    warmup = int(REQUESTS * WARMUP_SHARE)
    started = time.monotonic()
    with server as service:
        outcomes = send_concurrently(service.base_url, calls[:warmup])
        warm = rss_mib(servers(service))
        outcomes += send_concurrently(service.base_url, calls[warmup:])
        end = rss_mib(servers(service))
    _log.info(  # shown on failure or with --log-level=INFO: what CI sizes the run by
        "%d requests in %.1f s; RSS MiB after warm-up %s, at the end %s",
        REQUESTS,
        time.monotonic() - started,
        warm,
        end,
    )

    report = check_run(calls, outcomes, files)
    assert not report.mismatches, report.summary()
    assert report.lines_checked == REQUESTS * LINES_PER_REQUEST
    assert len(report.lines_per_call) == REQUESTS
    assert set(report.lines_per_call.values()) == {LINES_PER_REQUEST}

    assert warm, "no server process found"
    assert end.keys() == warm.keys(), f"server processes replaced: {warm} -> {end}"
    growth = {pid: end[pid] - warm[pid] for pid in warm}
    assert all(mib < RSS_BOUND_MIB for mib in growth.values()), (
        f"RSS grew by {growth} MiB between request {warmup} and {REQUESTS}"
        f" (bound {RSS_BOUND_MIB} MiB per process)"
    )


@pytest.mark.timeout(TIME_LIMIT_S)
def test_soak_gunicorn_gthread(soak_files: ServiceFiles) -> None:
    """gunicorn, 2 workers x 4 threads: 0 mismatches, worker RSS flat after warm-up."""
    soak(running_gunicorn(soak_files, workers=2, threads=4), soak_files, gunicorn_workers)


@pytest.mark.timeout(TIME_LIMIT_S)
def test_soak_uvicorn(soak_files: ServiceFiles) -> None:
    """uvicorn, one process (sync views in threads): 0 mismatches, RSS flat after warm-up."""
    soak(running_uvicorn(soak_files), soak_files, uvicorn_process)
