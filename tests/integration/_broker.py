"""A Redis broker for the Celery integration tests: the configured one, or one we start.

``OTEL_CONTEXT_TEST_BROKER_URL`` (default ``redis://127.0.0.1:6379/15``) is used if it
answers. Otherwise a throw-away ``redis-server`` is started on a free port if the binary
exists; if not, the test is skipped, except under ``CI=true``, where a missing broker fails.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from typing import TYPE_CHECKING

import pytest
import redis

from tests.celery_app import DEFAULT_BROKER_URL

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

START_TIMEOUT = 10.0


def answers(url: str) -> bool:
    """Whether a Redis server answers PING at *url* within a second."""
    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _redis_server(binary: str, directory: Path) -> Iterator[str]:
    port = _free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
    command += ["no", "--daemonize", "no", "--dir", str(directory)]
    with (directory / "redis.log").open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not answers(url):
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"redis-server did not start: see {directory / 'redis.log'}")
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def redis_broker(directory: Path) -> Iterator[str]:
    """Yield a Redis URL that answers; skip (fail under CI) if there can be none."""
    url = os.environ.get("OTEL_CONTEXT_TEST_BROKER_URL") or DEFAULT_BROKER_URL
    if answers(url):
        yield url
        return
    binary = shutil.which("redis-server")
    if binary is None:
        reason = f"no Redis broker at {url} and no redis-server binary to start one"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} (CI=true: the Celery integration test must run)")
        pytest.skip(reason)
    with _redis_server(binary, directory) as started:
        yield started
