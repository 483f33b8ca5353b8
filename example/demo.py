# ruff: noqa: T201 - printing the results is what the demo is for
"""Run the example service under gunicorn, send it a few requests, show what it logged and traced.

``python -m example.demo`` (or ``make demo``). For every request it prints the response's
correlation id, the JSON log lines of that request and its spans, grouped by trace id, and
checks that they agree. Last, one request crosses services: the web service calls the pricing
service (a second gunicorn) and enqueues a Celery task (a ``-P solo`` worker); the lines and
spans of all three processes are shown under the one trace id (``example.demo_services``).
The broker is Redis when one answers on 127.0.0.1:6379 or a ``redis-server`` can be started,
else a folder (kombu's filesystem transport): see ``example.broker`` (``EXAMPLE_DEMO_BROKER``).
Exits non-zero if anything is missing or inconsistent, or if a process did not exit cleanly.
Everything it writes is under ``.demo/`` (or ``EXAMPLE_DEMO_DIR``).
"""

from __future__ import annotations

import os
import re
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests

from example import demo_services
from example.app import demo_data
from example.processes import BrokerUnavailableError, StackFiles, running_stack
from example.runner import REPO_DIR, prepare_database, read_json_lines
from example.tracing import otlp_endpoint

if TYPE_CHECKING:
    from collections.abc import Callable

    from example.runner import Service

TIMEOUT = 10
CORRELATION_HEADERS = ("Correlation-Id", "X-Request-ID")
SHOWN_ATTRIBUTES = (
    "http.route",
    "http.status_code",
    "correlation.id",
    "user.id",
    "organisation.id",
    "project.id",
    "environment.id",
    "identity.identifier",
)
SKIPPED_LOG_KEYS = frozenset(
    {"event", "timestamp", "level", "trace_id", "exception", "service.name"}
)


@dataclass
class Exchange:
    """One request the demo sent, what came back, and what the service recorded for it."""

    scenario: Scenario
    status: int
    correlation_id: str | None
    lines: list[dict[str, Any]] = field(default_factory=list)
    spans: list[dict[str, Any]] = field(default_factory=list)


def _correlation_id(response: requests.Response) -> str | None:
    return next((response.headers[h] for h in CORRELATION_HEADERS if h in response.headers), None)


def _log_in(session: requests.Session, service: Service, username: str) -> None:
    """A real form login: GET the form for the CSRF token, POST the credentials."""
    form = session.get(service.url("/accounts/login/"), timeout=TIMEOUT)
    form.raise_for_status()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    if token is None:
        msg = "no CSRF token in the login form"
        raise RuntimeError(msg)
    response = session.post(
        service.url("/accounts/login/"),
        data={
            "csrfmiddlewaretoken": token.group(1),
            "username": username,
            "password": demo_data.PASSWORDS[username],
        },
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    if response.status_code != 302 or "sessionid" not in session.cookies:
        msg = f"login as {username} failed: {response.status_code}"
        raise RuntimeError(msg)


@dataclass(frozen=True)
class Scenario:
    """A demo request and the identifiers each of its log lines must carry.

    In *expect*, ``ANY`` means "present, any value" and ``None`` means "must be absent".
    """

    title: str
    path: str
    as_alice: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    expect: dict[str, str | None] = field(default_factory=dict)


ANY = "<any>"
PROJECT = "/api/v1/organisations/1/projects/1/"
ENVIRONMENT = f"/api/v1/environments/{demo_data.ENVIRONMENT_API_KEY}/flags/"
TENANCY = {"organisation.id": "1", "project.id": "1"}
SCENARIOS = (
    Scenario(
        "alice (session) reads a project",
        PROJECT,
        as_alice=True,
        expect={"user.id": ANY, **TENANCY},
    ),
    Scenario(
        "alice, sending her own Correlation-Id",
        PROJECT,
        as_alice=True,
        headers={"Correlation-Id": f"demo-client-{uuid.uuid4().hex[:8]}"},
        expect={"user.id": ANY, **TENANCY},
    ),
    Scenario(
        "alice reads flags; the environment key in the URL is looked up",
        ENVIRONMENT,
        as_alice=True,
        expect={"user.id": ANY, "environment.id": "1", **TENANCY},
    ),
    Scenario(
        "an organisation API key: a principal, not a user",
        ENVIRONMENT,
        headers={"Authorization": f"Api-Key {demo_data.ORGANISATION_API_KEY}"},
        expect={"user.id": None, "environment.id": "1", **TENANCY},
    ),
    Scenario(
        "the SDK: environment key in a header, identity bound mid-request",
        "/api/v1/sdk/flags/?identifier=visitor-42",
        headers={"X-Environment-Key": demo_data.ENVIRONMENT_API_KEY},
        expect={"user.id": None, "environment.id": "1", **TENANCY},
    ),
    Scenario(
        "alice hits a view that raises (500), sending X-Request-ID",
        "/api/v1/boom/",
        as_alice=True,
        headers={"X-Request-ID": f"req-{uuid.uuid4().hex[:12]}"},
        expect={"user.id": ANY},
    ),
)


def send_requests(service: Service) -> list[Exchange]:
    exchanges = []
    with requests.Session() as alice, requests.Session() as anonymous:
        _log_in(alice, service, "alice")
        for scenario in SCENARIOS:
            session = alice if scenario.as_alice else anonymous
            response = session.get(
                service.url(scenario.path), headers=scenario.headers, timeout=TIMEOUT
            )
            exchanges.append(Exchange(scenario, response.status_code, _correlation_id(response)))
    return exchanges


def _hex(value: str) -> str:
    return value.removeprefix("0x")


def attach_records(
    exchanges: list[Exchange], lines: list[dict[str, Any]], spans: list[dict[str, Any]]
) -> None:
    """Give each exchange its log lines (by correlation id) and the spans of their traces."""
    by_cid: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_cid.setdefault(line.get("correlation.id", ""), []).append(line)
    for exchange in exchanges:
        exchange.lines = by_cid.get(exchange.correlation_id or "", [])
        traces = {line.get("trace_id") for line in exchange.lines}
        exchange.spans = [s for s in spans if _hex(s["context"]["trace_id"]) in traces]


def problems_of(exchange: Exchange) -> list[str]:
    """What is wrong with one exchange; empty when its lines and spans line up."""
    checks: list[tuple[bool, Callable[[], str]]] = [
        (exchange.correlation_id is None, lambda: "no correlation id header in the response"),
        (not exchange.lines, lambda: "no log lines carry its correlation id"),
        (not exchange.spans, lambda: "no span shares a trace id with its log lines"),
    ]
    problems = [describe() for failed, describe in checks if failed]
    if problems:
        return problems
    traces = {line.get("trace_id") for line in exchange.lines}
    if len(traces) != 1:
        problems.append(f"its log lines carry {len(traces)} trace ids: {sorted(map(str, traces))}")
    server = [s for s in exchange.spans if s["kind"] == "SpanKind.SERVER"]
    cids = {s["attributes"].get("correlation.id") for s in server}
    if cids != {exchange.correlation_id}:
        problems.append(f"server span correlation.id {cids} != {exchange.correlation_id}")
    for key, expected in exchange.scenario.expect.items():
        values = {line.get(key) for line in exchange.lines}
        if expected == ANY and None in values:
            problems.append(f"a log line lacks {key}")
        elif expected != ANY and values != {expected}:
            problems.append(f"{key}: expected {expected} on every log line, got {values}")
    return problems


def _fields(record: dict[str, Any], keys: Any) -> str:
    return "  ".join(f"{key}={record[key]}" for key in keys if key in record)


def show(exchange: Exchange, problems: list[str]) -> None:
    print(f"\n== {exchange.scenario.title}")
    print(f"   GET {exchange.scenario.path} -> {exchange.status}")
    print(f"   response correlation id: {exchange.correlation_id}")
    for trace_id in sorted({_hex(s["context"]["trace_id"]) for s in exchange.spans}):
        print(f"   trace {trace_id}")
        for span in (s for s in exchange.spans if _hex(s["context"]["trace_id"]) == trace_id):
            span_id = _hex(span["context"]["span_id"])
            attrs = _fields(span["attributes"], SHOWN_ATTRIBUTES)
            print(f"     span {span_id} {span['kind']} {span['name']!r}\n          {attrs}")
        for line in (ln for ln in exchange.lines if ln.get("trace_id") == trace_id):
            keys = [key for key in line if key not in SKIPPED_LOG_KEYS]
            print(f"     log  {line.get('level', '?'):7} {line['event']!r}\n          ", end="")
            print(_fields(line, keys))
    for problem in problems:
        print(f"   PROBLEM: {problem}")


def demo_dir() -> Path:
    """Where the demo writes: ``EXAMPLE_DEMO_DIR``, default ``.demo/`` in the repository."""
    return Path(os.environ.get("EXAMPLE_DEMO_DIR", "").strip() or REPO_DIR / ".demo")


def run() -> int:
    started = time.monotonic()
    files = StackFiles.in_dir(demo_dir())
    files.truncate_outputs()
    prepare_database(files.web)
    try:
        with running_stack(files) as stack:
            exchanges = send_requests(stack.web)
            crossing = demo_services.send_quote(stack.web, files)
    except BrokerUnavailableError as error:
        print(f"the demo has no broker for its Celery worker: {error}", file=sys.stderr)
        return 2
    attach_records(
        exchanges, read_json_lines(files.web.log_file), read_json_lines(files.web.span_file)
    )
    failures = 0
    for exchange in exchanges:
        problems = problems_of(exchange)
        failures += bool(problems)
        show(exchange, problems)
    demo_services.gather(crossing, files)
    problems = demo_services.problems_of(crossing)
    failures += bool(problems)
    demo_services.show(crossing, problems)
    if otlp_endpoint() and crossing.trace_id is not None:
        jaeger = os.environ.get("EXAMPLE_JAEGER_URL", "").strip() or "http://127.0.0.1:16686"
        print(f"\nexported over OTLP: trace {crossing.trace_id}")
        print(f"   Jaeger query API: {jaeger}/api/traces/{crossing.trace_id}")
        print(f"   Jaeger UI (release images only): {jaeger}/trace/{crossing.trace_id}")
    codes = stack.exit_codes()
    print(f"\nCelery broker: {stack.broker.description}")
    print(f"log lines and spans: {files.directory} (pricing/ and worker/ below it)")
    print(f"exit codes: {codes}; {len(exchanges) + 1} requests, {failures} with problems, ", end="")
    print(f"{time.monotonic() - started:.1f} s")
    return 1 if failures or any(codes.values()) else 0


if __name__ == "__main__":
    sys.exit(run())
