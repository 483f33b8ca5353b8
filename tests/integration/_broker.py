"""A Redis broker for the Celery integration tests: the configured one, or one we start.

``OTEL_CONTEXT_TEST_BROKER_URL`` (default ``redis://127.0.0.1:6379/15``) is used if it
answers. Otherwise a throw-away ``redis-server`` is started on a free port if the binary
exists (the example's own helper, which the demo uses too); if not, the test is skipped,
except under ``CI=true``, where a missing broker fails.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from typing import TYPE_CHECKING

import pytest

from example.broker import BrokerUnavailableError, broker_answers, own_redis
from tests.celery_app import DEFAULT_BROKER_URL

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

START_TIMEOUT = 10.0


@contextlib.contextmanager
def redis_broker(directory: Path) -> Iterator[str]:
    """Yield a Redis URL that answers; skip (fail under CI) if there can be none."""
    url = os.environ.get("OTEL_CONTEXT_TEST_BROKER_URL") or DEFAULT_BROKER_URL
    if broker_answers(url):
        yield url
        return
    binary = shutil.which("redis-server")
    if binary is None:
        reason = f"no Redis broker at {url} and no redis-server binary to start one"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} (CI=true: the Celery integration test must run)")
        pytest.skip(reason)
    try:
        with own_redis(binary, directory, START_TIMEOUT) as started:
            yield started
    except BrokerUnavailableError as exc:
        pytest.fail(str(exc))
