"""``python -m example.demo`` (``make demo``), run as a user runs it, in a process of its own.

The demo starts the web service, the pricing service and a Celery worker (and a Redis server
if none answers), sends its requests and prints one request's lines from all three processes
under one trace id. This test runs it end to end and reads what it printed.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import pytest

from example.processes import (
    PRICING_SERVICE,
    WEB_SERVICE,
    WORKER_SERVICE,
    broker_answers,
)
from example.runner import REPO_DIR
from example.tasks import DEFAULT_BROKER_URL

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.integration

DEMO_TIMEOUT = 120
SUMMARY = re.compile(
    rf"cross-service: trace (?P<trace>[0-9a-f]{{32}}): log lines from "
    rf"{WEB_SERVICE} \((?P<web>\d+)\), {PRICING_SERVICE} \((?P<pricing>\d+)\), "
    rf"{WORKER_SERVICE} \((?P<worker>\d+)\)"
)
SECTION_START = "== alice asks for a quote"
SPAN_HEADING = re.compile(r"^\s+(?P<service>otel-context-\w+) (?P<kind>[A-Z]+) '")
SPAN_IDS = re.compile(
    r"^\s+span_id=(?P<span>[0-9a-f]{16})(?: \(parent (?P<parent>[0-9a-f]{16})\))?$"
)
LOG_LINE = re.compile(r"^\s+(?P<service>otel-context-\w+)\s+\S.*correlation\.id=(?P<cid>\S+)")


def _require_a_broker() -> None:
    """Skip unless the demo can get Redis; under ``CI=true`` fail instead of skipping."""
    configured = os.environ.get("EXAMPLE_BROKER_URL", "").strip()
    url = configured or DEFAULT_BROKER_URL
    if broker_answers(url) or (not configured and shutil.which("redis-server")):
        return
    reason = f"no Redis broker at {url} and no redis-server binary for the demo to start one"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: the demo must run)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> subprocess.CompletedProcess[str]:
    """The demo's finished run, writing into a temporary directory (not ``.demo/``)."""
    _require_a_broker()
    directory: Path = tmp_path_factory.mktemp("demo")
    started = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "-m", "example.demo"],
        cwd=REPO_DIR,
        env={**os.environ, "EXAMPLE_DEMO_DIR": str(directory)},
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT,
        check=False,
    )
    print(f"demo took {time.monotonic() - started:.1f} s")  # noqa: T201 - shown with -s
    return completed


def _section(output: str) -> list[str]:
    """The printed lines of the cross-service request, up to its summary line."""
    start = output.index(SECTION_START)
    end = output.index("cross-service: trace", start)
    return output[start:end].splitlines()


class TestDemo:
    def test_exits_zero(self, demo: subprocess.CompletedProcess[str]) -> None:
        """Every check of the demo passed and every process it started exited cleanly."""
        assert demo.returncode == 0, demo.stdout[-4000:] + demo.stderr[-4000:]
        assert "PROBLEM" not in demo.stdout

    def test_three_services_log_under_one_trace_id(
        self, demo: subprocess.CompletedProcess[str]
    ) -> None:
        """The summary counts lines of all three services in the request's trace."""
        match = SUMMARY.search(demo.stdout)
        assert match is not None, demo.stdout[-3000:]
        assert int(match["web"]) >= 3
        assert int(match["pricing"]) == 2
        assert int(match["worker"]) >= 2
        assert f"trace {match['trace']}" in "\n".join(_section(demo.stdout))

    def test_every_printed_line_has_the_same_correlation_id(
        self, demo: subprocess.CompletedProcess[str]
    ) -> None:
        """Each shown log line names its service and carries the response's correlation id."""
        section = _section(demo.stdout)
        (response_cid,) = (
            line.split(": ", 1)[1] for line in section if "response correlation id" in line
        )
        matches = [m for line in section if (m := LOG_LINE.match(line))]
        assert {m["service"] for m in matches} == {WEB_SERVICE, PRICING_SERVICE, WORKER_SERVICE}
        assert {m["cid"] for m in matches} == {response_cid}

    def test_pricing_and_task_lines_carry_the_users_ids(
        self, demo: subprocess.CompletedProcess[str]
    ) -> None:
        """user.id / organisation.id reach pricing (trusted hop) and the task (carrier)."""
        lines = [m.string for line in _section(demo.stdout) if (m := LOG_LINE.match(line))]
        for line in lines:
            if PRICING_SERVICE in line or WORKER_SERVICE in line:
                assert "user.id=" in line
                assert "organisation.id=1" in line

    def test_the_span_tree_links_the_services(self, demo: subprocess.CompletedProcess[str]) -> None:
        """Pricing's server span is printed as the child of the web service's client span."""
        spans = _printed_spans(_section(demo.stdout))
        web_client, _ = spans[WEB_SERVICE, "CLIENT"]
        web_producer, _ = spans[WEB_SERVICE, "PRODUCER"]
        assert spans[PRICING_SERVICE, "SERVER"][1] == web_client
        assert spans[WORKER_SERVICE, "CONSUMER"][1] == web_producer


def _printed_spans(section: list[str]) -> dict[tuple[str, str], tuple[str, str | None]]:
    """(service, kind) -> (span id, parent id) from the printed span tree."""
    spans = {}
    for heading, ids in itertools.pairwise(section):
        span = SPAN_HEADING.match(heading)
        link = SPAN_IDS.match(ids)
        if span and link:
            spans[span["service"], span["kind"]] = (link["span"], link["parent"])
    return spans
