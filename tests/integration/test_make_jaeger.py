"""``make jaeger`` itself: ``python -m example.backend`` starts both, prints where, stops on Ctrl-C.

Run with ``EXAMPLE_BACKEND_PORTS=free`` (free ports, so it cannot clash with anything on
4317/4318/16686); the demo against it is tests/integration/test_collector_jaeger.py.
"""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from typing import TYPE_CHECKING

import pytest

from example.backend import Ports, answers, running_backend
from example.ports import AddressInUseError
from example.runner import REPO_DIR

if TYPE_CHECKING:
    from pathlib import Path

    from example.backend import Binaries

pytestmark = [pytest.mark.integration, pytest.mark.timeout(3600)]  # a cold build: minutes

QUERY = re.compile(r"Jaeger: query API (?P<url>http://127\.0\.0\.1:\d+)/api/traces/")
DEMO = re.compile(r"EXAMPLE_JAEGER_URL=\S+ OTEL_EXPORTER_OTLP_ENDPOINT=(?P<otlp>\S+) make demo")


def test_it_runs_both_until_ctrl_c(go_binaries: Binaries, tmp_path: Path) -> None:
    assert go_binaries.jaeger.exists()
    output = tmp_path / "out.txt"
    env = {**os.environ, "EXAMPLE_BACKEND_PORTS": "free", "EXAMPLE_BACKEND_DIR": str(tmp_path)}
    with output.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "example.backend"],
            cwd=REPO_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 120
        while "Ctrl-C stops both." not in output.read_text() and process.poll() is None:
            assert time.monotonic() < deadline, output.read_text()
            time.sleep(0.2)
        text = output.read_text()
        query, demo = QUERY.search(text), DEMO.search(text)
        assert query is not None, text
        assert demo is not None, text
        with urllib.request.urlopen(f"{query['url']}/api/services", timeout=10) as response:  # noqa: S310
            assert response.status == 200
        os.killpg(process.pid, signal.SIGINT)
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert "stopped the collector and Jaeger" in output.read_text()
    with pytest.raises(OSError):  # both are gone
        urllib.request.urlopen(f"{query['url']}/api/services", timeout=2)  # noqa: S310


def test_a_taken_port_is_named_and_nothing_is_left_running(
    go_binaries: Binaries, tmp_path: Path
) -> None:
    """A port of the given set is taken: AddressInUseError (no retry on ports a user chose).

    The collector's OTLP/HTTP port is held by a listener without ``SO_REUSEADDR``; Jaeger
    starts, the collector cannot, and Jaeger is stopped again.
    """
    with socket.socket() as taken, Ports.reserved() as free:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        ports = dataclasses.replace(free, otlp_http=taken.getsockname()[1])
        with (
            pytest.raises(AddressInUseError, match="address already in use") as error,
            running_backend(go_binaries, tmp_path, ports),
        ):
            pass
    assert "otelcol did not start" in str(error.value)
    assert not answers(f"http://127.0.0.1:{ports.jaeger_health}/status")
