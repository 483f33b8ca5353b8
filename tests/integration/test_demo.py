"""``python -m example.demo`` (``make demo``), run as a user runs it, in a process of its own.

The demo starts the web service, the pricing service and a Celery worker, sends its requests
and prints one request's lines from all three processes under one trace id. These tests run
it end to end, on each of its brokers (``example.broker``), and read what it printed:

- the folder broker (kombu's filesystem transport), what a machine with only ``python3``
  gets. ``EXAMPLE_DEMO_BROKER=filesystem`` forces it where Redis is there (CI installs
  ``redis-server``);
- Redis (``EXAMPLE_DEMO_BROKER=redis``: the one on 127.0.0.1:6379, or a ``redis-server`` the
  demo starts). Without either it skips, except under ``CI=true``, where it fails.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from opentelemetry.trace import TraceFlags

from example.broker import DEFAULT_BROKER_URL, broker_answers
from example.processes import PRICING_SERVICE, WEB_SERVICE, WORKER_SERVICE
from example.runner import REPO_DIR

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.integration

DEMO_TIMEOUT = 120
#: The name of the quote's task (``example.tasks.record_quote``).
TASK = "example.record_quote"
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


def _require_redis() -> None:
    """Skip unless the demo can get Redis; under ``CI=true`` fail instead of skipping."""
    if broker_answers(DEFAULT_BROKER_URL) or shutil.which("redis-server"):
        return
    reason = f"no Redis at {DEFAULT_BROKER_URL} and no redis-server binary for the demo to start"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: the demo's Redis path must run)")
    pytest.skip(reason)


@dataclass(frozen=True)
class DemoRun:
    """A finished demo run: the process (its output) and the directory it wrote into."""

    completed: subprocess.CompletedProcess[str]
    directory: Path

    @property
    def stdout(self) -> str:
        return self.completed.stdout


def run_demo(directory: Path, broker: str) -> DemoRun:
    """``python -m example.demo`` with ``EXAMPLE_DEMO_BROKER=broker``, writing into *directory*."""
    env = {k: v for k, v in os.environ.items() if k != "EXAMPLE_BROKER_URL"}
    env |= {"EXAMPLE_DEMO_DIR": str(directory), "EXAMPLE_DEMO_BROKER": broker}
    started = time.monotonic()
    completed = subprocess.run(
        [sys.executable, "-m", "example.demo"],
        cwd=REPO_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT,
        check=False,
    )
    print(f"demo ({broker}) took {time.monotonic() - started:.1f} s")  # noqa: T201 - with -s
    return DemoRun(completed, directory)


@pytest.fixture(scope="module")
def folder_demo(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """The demo on the folder broker, as on a machine without Redis (not in ``.demo/``)."""
    return run_demo(tmp_path_factory.mktemp("demo-filesystem"), "filesystem")


@pytest.fixture(scope="module")
def redis_demo(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """The demo on Redis; skips without one (fails under ``CI=true``)."""
    _require_redis()
    return run_demo(tmp_path_factory.mktemp("demo-redis"), "redis")


@pytest.fixture(params=["folder_demo", "redis_demo"])
def demo(request: pytest.FixtureRequest) -> DemoRun:
    """Each broker's run (the module's two runs, shared by the tests)."""
    run: DemoRun = request.getfixturevalue(request.param)
    return run


def _section(output: str) -> list[str]:
    """The printed lines of the cross-service request, up to its summary line."""
    start = output.index(SECTION_START)
    end = output.index("cross-service: trace", start)
    return output[start:end].splitlines()


class TestDemo:
    def test_exits_zero(self, demo: DemoRun) -> None:
        """Every check of the demo passed and every process it started exited cleanly."""
        output = demo.stdout[-4000:] + demo.completed.stderr[-4000:]
        assert demo.completed.returncode == 0, output
        assert "PROBLEM" not in demo.stdout

    def test_three_services_log_under_one_trace_id(self, demo: DemoRun) -> None:
        """The summary counts lines of all three services in the request's trace."""
        match = SUMMARY.search(demo.stdout)
        assert match is not None, demo.stdout[-3000:]
        assert int(match["web"]) >= 3
        assert int(match["pricing"]) == 2
        assert int(match["worker"]) >= 2
        assert f"trace {match['trace']}" in "\n".join(_section(demo.stdout))

    def test_every_printed_line_has_the_same_correlation_id(self, demo: DemoRun) -> None:
        """Each shown log line names its service and carries the response's correlation id."""
        section = _section(demo.stdout)
        (response_cid,) = (
            line.split(": ", 1)[1] for line in section if "response correlation id" in line
        )
        matches = [m for line in section if (m := LOG_LINE.match(line))]
        assert {m["service"] for m in matches} == {WEB_SERVICE, PRICING_SERVICE, WORKER_SERVICE}
        assert {m["cid"] for m in matches} == {response_cid}

    def test_pricing_and_task_lines_carry_the_users_ids(self, demo: DemoRun) -> None:
        """user.id / organisation.id reach pricing (trusted hop) and the task (carrier)."""
        lines = [m.string for line in _section(demo.stdout) if (m := LOG_LINE.match(line))]
        for line in lines:
            if PRICING_SERVICE in line or WORKER_SERVICE in line:
                assert "user.id=" in line
                assert "organisation.id=1" in line

    def test_the_span_tree_links_the_services(self, demo: DemoRun) -> None:
        """Pricing's server span is printed as the child of the web service's client span."""
        spans = _printed_spans(_section(demo.stdout))
        web_client, _ = spans[WEB_SERVICE, "CLIENT"]
        web_producer, _ = spans[WEB_SERVICE, "PRODUCER"]
        assert spans[PRICING_SERVICE, "SERVER"][1] == web_client
        assert spans[WORKER_SERVICE, "CONSUMER"][1] == web_producer


class TestFolderBroker:
    """Without Redis: kombu's filesystem transport, a folder under the demo's directory."""

    def test_the_demo_says_it_used_the_folder(self, folder_demo: DemoRun) -> None:
        """The summary names the broker, so a user knows where the messages went."""
        folder = folder_demo.directory / "broker"
        assert f"Celery broker: a folder, {folder} (kombu's filesystem transport)" in (
            folder_demo.stdout
        )

    def test_the_task_message_carried_the_trace_and_the_ids(self, folder_demo: DemoRun) -> None:
        """The consumed message file: traceparent of the web PRODUCER span, ids in our carrier."""
        section = _section(folder_demo.stdout)
        (response_cid,) = (line.split(": ", 1)[1] for line in section if "correlation id" in line)
        match = SUMMARY.search(folder_demo.stdout)
        assert match is not None, folder_demo.stdout[-3000:]
        producer, _ = _printed_spans(section)[WEB_SERVICE, "PRODUCER"]
        headers = _task_message_headers(folder_demo.directory / "broker" / "processed")
        # sampled, and random (W3C Level 2) where the API knows that flag (not on API 1.40)
        flags = "03" if hasattr(TraceFlags, "RANDOM_TRACE_ID") else "01"
        assert headers["traceparent"] == f"00-{match['trace']}-{producer}-{flags}"
        carrier = headers["otel_context"]
        assert carrier["traceparent"] == headers["traceparent"]
        baggage = dict(pair.split("=", 1) for pair in carrier["baggage"].split(","))
        assert baggage["correlation.id"] == response_cid
        assert baggage["organisation.id"] == "1"
        assert baggage["user.id"]


def _task_message_headers(processed: Path) -> dict[str, Any]:
    """The headers of the one ``example.record_quote`` message the worker consumed."""
    messages = [json.loads(path.read_text()) for path in processed.glob("*.msg")]
    (headers,) = (m["headers"] for m in messages if m["headers"].get("task") == TASK)
    return dict(headers)


class TestRedisBroker:
    def test_the_demo_says_it_used_redis(self, redis_demo: DemoRun) -> None:
        """With Redis there (or redis-server to start), the demo uses it, as before."""
        assert "Celery broker: Redis" in redis_demo.stdout


def test_an_unknown_broker_choice_is_a_message(tmp_path: Path) -> None:
    """A typo in EXAMPLE_DEMO_BROKER: exit status 2 and one line naming the option."""
    run = run_demo(tmp_path, "rabbit")
    assert run.completed.returncode == 2
    assert "EXAMPLE_DEMO_BROKER must be one of auto, redis, filesystem" in run.completed.stderr
    assert "Traceback" not in run.completed.stderr


def _printed_spans(section: list[str]) -> dict[tuple[str, str], tuple[str, str | None]]:
    """(service, kind) -> (span id, parent id) from the printed span tree."""
    spans = {}
    for heading, ids in itertools.pairwise(section):
        span = SPAN_HEADING.match(heading)
        link = SPAN_IDS.match(ids)
        if span and link:
            spans[span["service"], span["kind"]] = (link["span"], link["parent"])
    return spans
