"""The example service under uvicorn (Django's ASGI handler): each log line has its own ids.

One uvicorn process serves every request on one event loop. Async views interleave at each
``await``; the OTel middleware (sync only), the middleware after it and sync views run in a
thread per request, and asgiref copies the context at every hop between the two. A scope
leaking across those copies, or left behind by a request that a client disconnect cancelled,
shows up as a log line carrying another request's trace id, span id, correlation id, user or
job.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import signal
import subprocess
import sys
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from example.app import demo_data
from example.runner import REPO_DIR, service_env
from tests._servers import ServiceFiles, read_json_lines, running_uvicorn, user_ids
from tests.integration.conftest import LOAD_USERS

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

pytestmark = pytest.mark.integration

IN_FLIGHT = 32
TIMEOUT = 30
ASYNC_PATH = "/api/v1/async/work/"
PROJECT_PATH = "/api/v1/organisations/1/projects/1/"
TENANCY = {"organisation.id": "1", "project.id": "1"}
ASYNC_EVENTS = ["async.started", "async.bound", "async.finished"]
#: project_detail: three structlog events and one stdlib record (see example/app/views.py).
SYNC_EVENTS = [
    "project.requested",
    "project.loaded",
    "project summary computed for 3 features",
    "project.served",
]
#: What async_work logs when cancelled mid-view (``async.bound`` only if cancelled late).
CANCELLED_EVENTS = (
    ["async.started", "async.cancelled"],
    ["async.started", "async.bound", "async.cancelled"],
)
#: async_work's events after it bound ``job.id``.
JOB_EVENTS = frozenset({"async.bound", "async.finished"})
#: Every field that names a request: a line is joined to its request by each of them.
OWNED_FIELDS = ("trace_id", "span_id", "correlation.id", "user.id", "job.id")
DETACH_ERROR = "Failed to detach context"
DISCONNECTS = 50
DISCONNECT_BATCH = 5
#: How long a disconnecting client stays after its view started, and the view's pauses.
DISCONNECT_AFTER_S = 0.05
DISCONNECT_PAUSE_MS = 300
LATER_CALLS = 100


@dataclass(frozen=True)
class Call:
    """One request: its own user, correlation id, and (for ``async_work``) its own job id."""

    correlation_id: str
    user_id: str
    token: str
    job_id: str | None  # None: project_detail, the sync view
    trace_id: str | None = None  # sent in a traceparent header
    pause_ms: int = 5

    @property
    def target(self) -> str:
        if self.job_id is None:
            return PROJECT_PATH
        return f"{ASYNC_PATH}?job={self.job_id}&sleep_ms={self.pause_ms}"

    def headers(self) -> dict[str, str]:
        headers = {"Authorization": f"Token {self.token}", "Correlation-Id": self.correlation_id}
        if self.trace_id:
            headers["traceparent"] = f"00-{self.trace_id}-{secrets.token_hex(8)}-01"
        return headers

    def expected(self, event: str) -> dict[str, str]:
        """The identifiers a line of this request with *event* must carry."""
        ids = {"correlation.id": self.correlation_id, "user.id": self.user_id}
        if self.job_id is None:
            ids.update(TENANCY)
        elif event in JOB_EVENTS:
            ids["job.id"] = self.job_id
        return ids


def _calls(
    users: dict[str, str], numbers: Iterable[int], prefix: str, *, disconnecting: bool = False
) -> list[Call]:
    """One call per seeded load user in *numbers*: even ones async, half with a trace id.

    Calls for *disconnecting* clients are all async, with long pauses, and all bring a trace
    id: their lines must be recognisable even if their server spans never get exported.
    """
    calls = []
    for number in numbers:
        username = demo_data.load_username(number)
        calls.append(
            Call(
                correlation_id=f"{prefix}-{uuid.uuid4()}",
                user_id=users[username],
                token=demo_data.user_token(username),
                job_id=f"{prefix}-job-{number}" if disconnecting or number % 2 == 0 else None,
                trace_id=secrets.token_hex(16) if disconnecting or number % 4 < 2 else None,
                pause_ms=DISCONNECT_PAUSE_MS if disconnecting else 5,
            )
        )
    return calls


@dataclass(frozen=True)
class Outcome:
    status: int
    correlation_header: str | None
    identifiers: dict[str, str]


async def _send(client: httpx.AsyncClient, limit: asyncio.Semaphore, call: Call) -> Outcome:
    async with limit:
        response = await client.get(call.target, headers=call.headers())
    body = response.json() if response.status_code == 200 else {}
    return Outcome(
        response.status_code, response.headers.get("Correlation-Id"), body.get("identifiers", {})
    )


async def _send_all(base_url: str, calls: list[Call]) -> list[Outcome]:
    """Send *calls* concurrently, ``IN_FLIGHT`` at a time."""
    limit = asyncio.Semaphore(IN_FLIGHT)
    limits = httpx.Limits(max_connections=IN_FLIGHT, max_keepalive_connections=IN_FLIGHT)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=TIMEOUT) as client:
        return await asyncio.gather(*(_send(client, limit, call) for call in calls))


def _hex(value: str) -> str:
    return value.removeprefix("0x")


def _server_spans(path: Path) -> dict[str, tuple[str, str]]:
    """Correlation id -> (trace id, span id) of every exported server span."""
    return {
        span["attributes"]["correlation.id"]: (
            _hex(span["context"]["trace_id"]),
            _hex(span["context"]["span_id"]),
        )
        for span in read_json_lines(path)
        if span["kind"] == "SpanKind.SERVER" and "correlation.id" in span["attributes"]
    }


@dataclass
class Report:
    """What joining log lines to requests found; ``problems`` should stay empty."""

    stale: frozenset[str] = frozenset()  # correlation ids of requests a client abandoned
    lines_checked: int = 0
    events: defaultdict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    problems: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def add(self, kind: str, detail: object, count: int = 1) -> None:
        self.problems[kind] += count
        if len(self.examples) < 8:
            self.examples.append(f"[{kind}] {detail}")

    def summary(self) -> str:
        shown = "\n  ".join(self.examples)
        return (
            f"{sum(self.problems.values())} problems in {self.lines_checked} lines, "
            f"by kind {dict(self.problems)}; first ones:\n  {shown}"
        )


class Ledger:
    """Which request each id value belongs to, from the calls and their server spans."""

    def __init__(self, calls: list[Call], spans: dict[str, tuple[str, str]]) -> None:
        self.owner: dict[str, dict[str, Call]] = {name: {} for name in OWNED_FIELDS}
        self.span_ids: dict[str, tuple[str | None, str | None]] = {}
        for call in calls:
            trace_id, span_id = spans.get(call.correlation_id, (call.trace_id, None))
            self.span_ids[call.correlation_id] = (trace_id, span_id)
            values = (trace_id, span_id, call.correlation_id, call.user_id, call.job_id)
            for name, value in zip(OWNED_FIELDS, values, strict=True):
                if value is not None:
                    self.owner[name][value] = call

    def owners(self, line: dict[str, Any]) -> set[Call]:
        return {
            self.owner[name][line[name]]
            for name in OWNED_FIELDS
            if line.get(name) in self.owner[name]
        }

    def expected(self, call: Call, event: str) -> dict[str, str]:
        trace_id, span_id = self.span_ids[call.correlation_id]
        ids = call.expected(event)
        ids.update({k: v for k, v in (("trace_id", trace_id), ("span_id", span_id)) if v})
        return ids


def _check_line(line: dict[str, Any], ledger: Ledger, report: Report) -> None:
    """Join *line* to a request by each of its ids; all must agree, and all must be there."""
    report.lines_checked += 1
    owners = ledger.owners(line)
    if len(owners) != 1:
        stale = any(call.correlation_id in report.stale for call in owners)
        report.add("stale id" if stale else f"{len(owners)} owners", line)
        return
    call = owners.pop()
    event = str(line.get("event"))
    report.events[call.correlation_id].append(event)
    for key, value in ledger.expected(call, event).items():
        if line.get(key) != value:
            report.add(f"line {key}", f"{line.get(key)} != {value}: {line}")


def _check_log(ledger: Ledger, lines: list[dict[str, Any]], report: Report) -> None:
    for line in lines:
        if DETACH_ERROR not in str(line.get("event")):  # counted by _detach_errors
            _check_line(line, ledger, report)


def _check_events(calls: list[Call], report: Report) -> None:
    """Each completed request logged exactly its view's events, in order."""
    for call in calls:
        expected = SYNC_EVENTS if call.job_id is None else ASYNC_EVENTS
        if report.events[call.correlation_id] != expected:
            report.add("events", f"{call.correlation_id}: {report.events[call.correlation_id]}")


def _check_responses(calls: list[Call], outcomes: list[Outcome], report: Report) -> None:
    for call, outcome in zip(calls, outcomes, strict=True):
        final = call.expected(ASYNC_EVENTS[-1])
        if (outcome.status, outcome.correlation_header) != (200, call.correlation_id):
            report.add("response", f"{call.correlation_id}: {outcome}")
        elif outcome.identifiers != final:
            report.add("view identifiers", f"{outcome.identifiers} != {final}")


def _check_spans(calls: list[Call], spans: dict[str, tuple[str, str]], report: Report) -> None:
    """Every request's server span was ended and exported, continuing the client's trace."""
    for call in calls:
        if call.correlation_id not in spans:
            report.add("span missing", call.correlation_id)
        elif call.trace_id and spans[call.correlation_id][0] != call.trace_id:
            report.add("span trace_id", f"{spans[call.correlation_id][0]} != {call.trace_id}")


def test_concurrent_async_and_sync_requests_log_only_their_own_ids(
    example_files: ServiceFiles,
) -> None:
    """400 concurrent requests by 400 users, half to an async view: 0 mismatched lines.

    ``async_work`` pauses between its 3 events and binds ``job.id`` mid-request; the sync
    ``project_detail`` logs 4 lines. Each line is joined to a request by every id it carries
    (trace_id, span_id, correlation.id, user.id, job.id): all must name the same request and
    the line must carry all of that request's ids. Every request must have exactly its view's
    lines, 1400 in all, so the check cannot pass on an empty or partial log.
    """
    calls = _calls(user_ids(example_files.db), range(LOAD_USERS), "load")
    with running_uvicorn(example_files) as service:
        outcomes = asyncio.run(_send_all(service.base_url, calls))
    assert service.process.returncode == -signal.SIGTERM, service.stderr()

    spans = _server_spans(example_files.span_file)
    report = Report()
    _check_responses(calls, outcomes, report)
    _check_spans(calls, spans, report)
    _check_log(Ledger(calls, spans), read_json_lines(example_files.log_file), report)
    _check_events(calls, report)

    assert not report.problems, report.summary()
    assert report.lines_checked == LOAD_USERS // 2 * (len(ASYNC_EVENTS) + len(SYNC_EVENTS))
    assert _detach_errors(example_files) == 0


def _request_bytes(call: Call) -> bytes:
    head = [f"GET {call.target} HTTP/1.1", "Host: 127.0.0.1"]
    head += [f"{name}: {value}" for name, value in call.headers().items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode("ascii")


def _logged(files: ServiceFiles, call: Call, event: str) -> bool:
    """Whether the server logged *event* for *call* (read while the server may be mid-write)."""
    complete = files.log_file.read_text().split("\n")[:-1]  # the last line may be partial
    return any(
        json.loads(line).get("event") == event for line in complete if call.correlation_id in line
    )


async def _wait_for_line(files: ServiceFiles, call: Call, event: str) -> None:
    """Wait (up to ``TIMEOUT``) until the server logged *event* for *call*."""
    try:
        async with asyncio.timeout(TIMEOUT):
            while not _logged(files, call, event):  # noqa: ASYNC110 - a file, not an event
                await asyncio.sleep(0.01)
    except TimeoutError:
        msg = f"{call.correlation_id}: no {event!r} line after {TIMEOUT} s"
        raise TimeoutError(msg) from None


async def _disconnect_mid_view(files: ServiceFiles, port: int, call: Call) -> None:
    """Send *call* on a raw connection and hang up shortly after its view started."""
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(_request_bytes(call))
        await writer.drain()
        await _wait_for_line(files, call, "async.started")
        await asyncio.sleep(DISCONNECT_AFTER_S)
    finally:
        writer.close()
        await writer.wait_closed()


async def _disconnect_all(files: ServiceFiles, port: int, calls: list[Call]) -> None:
    for start in range(0, len(calls), DISCONNECT_BATCH):
        batch = calls[start : start + DISCONNECT_BATCH]
        await asyncio.gather(*(_disconnect_mid_view(files, port, call) for call in batch))
    for call in calls:  # the server noticed every disconnect before the next requests
        await _wait_for_line(files, call, "async.cancelled")


def _check_cancelled(calls: list[Call], report: Report) -> None:
    """Each abandoned request started its view and was cancelled in it, never finishing."""
    for call in calls:
        events = report.events[call.correlation_id]
        if events not in CANCELLED_EVENTS:
            report.add("cancelled events", f"{call.correlation_id}: {events}")


def _detach_errors(files: ServiceFiles) -> int:
    """'Failed to detach context' records in the server's log file and stderr."""
    outputs = (files.log_file, files.stderr_file)
    return sum(path.read_text().count(DETACH_ERROR) for path in outputs if path.exists())


def test_client_disconnects_leave_no_stale_ids_and_no_detach_errors(
    example_files: ServiceFiles,
) -> None:
    """50 clients hang up mid-view: later requests carry none of their ids; no detach errors.

    Each of them sends a request to ``async_work`` (300 ms pauses) on a raw connection and
    closes it 50 ms after the view started, so Django cancels the request mid-view. Each
    must have logged ``async.started`` and ``async.cancelled`` with its own ids, and its
    server span must still be ended and exported. Then 100 requests by other users must log
    only their own ids, the server must still answer, and neither its log nor its stderr may
    hold a "Failed to detach context" record: OTel logs one whenever a context token is reset
    from another context, as for a request whose response hooks never ran (contrib #4102).
    """
    users = user_ids(example_files.db)
    abandoned = _calls(users, range(DISCONNECTS), "gone", disconnecting=True)
    later = _calls(users, range(100, 100 + LATER_CALLS), "later")
    with running_uvicorn(example_files) as service:
        port = int(service.base_url.rpartition(":")[2])
        asyncio.run(_disconnect_all(example_files, port, abandoned))
        outcomes = asyncio.run(_send_all(service.base_url, later))
        health = httpx.get(service.url("/healthz"), timeout=TIMEOUT)
    assert service.process.returncode == -signal.SIGTERM, service.stderr()

    spans = _server_spans(example_files.span_file)
    report = Report(stale=frozenset(call.correlation_id for call in abandoned))
    _check_responses(later, outcomes, report)
    _check_log(Ledger(abandoned + later, spans), read_json_lines(example_files.log_file), report)
    _check_events(later, report)
    _check_cancelled(abandoned, report)
    _check_spans(abandoned + later, spans, report)
    if detach_errors := _detach_errors(example_files):
        report.add("detach error", "in the server's log or stderr", detach_errors)

    assert health.status_code == 200
    assert not report.problems, report.summary()
    assert report.lines_checked >= DISCONNECTS * 2 + LATER_CALLS // 2 * 7


_DETACH_PROBE = """
import contextvars
import uvicorn
from opentelemetry import context
config = uvicorn.Config("example.asgi:application", lifespan="on")  # uvicorn's logging set-up
config.load()  # imports example.asgi: tracing, Django and its LOGGING, as in the server
token = contextvars.copy_context().run(context.attach, context.Context())
context.detach(token)  # reset from another context: OTel logs "Failed to detach context"
"""


def test_a_detach_error_in_the_server_process_is_counted(tmp_path: Path) -> None:
    """The detach-error count is not vacuous: a process set up like the server reports one.

    The probe configures logging as uvicorn and ``example.asgi`` do, then resets an OTel
    context token from another context; its record must reach the output the test reads.
    """
    files = ServiceFiles.in_dir(tmp_path / "probe")
    with files.stderr_file.open("wb") as stderr:
        subprocess.run(
            [sys.executable, "-c", _DETACH_PROBE],
            cwd=REPO_DIR,
            env=service_env(files),
            stdout=stderr,
            stderr=stderr,
            check=True,
            timeout=TIMEOUT,
        )
    assert _detach_errors(files) == 1, files.stderr_file.read_text()
