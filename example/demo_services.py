# ruff: noqa: T201 - printing the results is what the demo is for
"""The demo's cross-service request: web -> pricing over HTTP, and a Celery task.

One request to the web service's quote view calls the pricing service with ``requests`` and
enqueues a task. Afterwards the log lines and spans of all three processes are gathered by the
request's trace id and printed together, one trace, each line naming its service. The checks:
one trace id everywhere, the response's correlation id on every line, the caller's
``user.id`` / ``organisation.id`` on pricing's lines (a trusted hop) and on the task's (the
task carrier), and the pricing server span a child of the web service's client span.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import requests

from example.app import demo_data
from example.processes import PRICING_SERVICE, WEB_SERVICE, WORKER_SERVICE
from example.runner import read_json_lines

if TYPE_CHECKING:
    from example.processes import StackFiles
    from example.runner import Service

QUOTE_PATH: Final = "/api/v1/organisations/1/projects/1/quote/"
#: The worker's last event for the quote's task (``example.tasks``).
TASK_DONE_EVENT: Final = "quote.report.stored"
SERVICES: Final = (WEB_SERVICE, PRICING_SERVICE, WORKER_SERVICE)
#: The ids that must travel from the web service to pricing and to the task.
TRAVELLING: Final = ("correlation.id", "user.id", "organisation.id", "project.id")
SHOWN_KEYS: Final = (*TRAVELLING, "span_id")
TIMEOUT: Final = 10


@dataclass
class Crossing:
    """The quote request, what came back, and what the three processes recorded for it."""

    status: int
    correlation_id: str | None
    trace_id: str | None = None
    lines: list[dict[str, Any]] = field(default_factory=list)
    spans: list[dict[str, Any]] = field(default_factory=list)

    def lines_of(self, service: str) -> list[dict[str, Any]]:
        return [line for line in self.lines if line.get("service.name") == service]

    def spans_of(self, service: str, kind: str) -> list[dict[str, Any]]:
        return [s for s in self.spans if _service(s) == service and s["kind"] == f"SpanKind.{kind}"]


def _service(span: dict[str, Any]) -> str:
    return str(span["resource"]["attributes"].get("service.name"))


def send_quote(web: Service, files: StackFiles, task_timeout: float = 20) -> Crossing:
    """Ask for a quote as alice (token), then wait until the worker has run the task."""
    response = requests.get(
        web.url(QUOTE_PATH),
        headers={"Authorization": f"Token {demo_data.user_token('alice')}"},
        timeout=TIMEOUT,
    )
    crossing = Crossing(response.status_code, response.headers.get("Correlation-Id"))
    deadline = time.monotonic() + task_timeout
    while crossing.status == 200 and not _task_done(files, crossing.correlation_id):
        if time.monotonic() > deadline:
            break  # the checks report the missing task lines
        time.sleep(0.1)
    return crossing


def _task_done(files: StackFiles, correlation_id: str | None) -> bool:
    return any(
        line.get("event") == TASK_DONE_EVENT and line.get("correlation.id") == correlation_id
        for line in read_json_lines(files.worker.log_file)
    )


def gather(crossing: Crossing, files: StackFiles) -> None:
    """Give *crossing* every log line and span of its trace, from all three processes.

    The trace id is found on the web service's lines with the response's correlation id;
    call this once every process has stopped (spans are flushed on exit).
    """
    if crossing.correlation_id is None:
        return
    web_lines = read_json_lines(files.web.log_file)
    traces = {
        ln.get("trace_id")
        for ln in web_lines
        if ln.get("correlation.id") == crossing.correlation_id
    }
    if len(traces) != 1:
        return
    crossing.trace_id = str(traces.pop())
    for service_files in files.by_service().values():
        crossing.lines += [
            line
            for line in read_json_lines(service_files.log_file)
            if line.get("trace_id") == crossing.trace_id
        ]
        crossing.spans += [
            span
            for span in read_json_lines(service_files.span_file)
            if span["context"]["trace_id"].removeprefix("0x") == crossing.trace_id
        ]
    crossing.lines.sort(key=lambda line: str(line.get("timestamp")))


def problems_of(crossing: Crossing) -> list[str]:
    """What is wrong with the quote request's trace; empty when all three processes agree."""
    if crossing.status != 200:
        return [f"the quote request answered {crossing.status}"]
    if crossing.correlation_id is None:
        return ["the quote response has no Correlation-Id header"]
    if crossing.trace_id is None:
        return ["the web service's lines for the request do not carry exactly one trace id"]
    problems = [
        f"no {name} log line in the trace" for name in SERVICES if not crossing.lines_of(name)
    ]
    for key in TRAVELLING:
        values = {line.get(key) for line in crossing.lines}
        if len(values) != 1 or None in values:
            problems.append(
                f"{key} differs between the services' lines: {sorted(map(str, values))}"
            )
    if {line.get("correlation.id") for line in crossing.lines} != {crossing.correlation_id}:
        problems.append("the lines' correlation.id is not the response's")
    return problems + _span_problems(crossing)


def _span_problems(crossing: Crossing) -> list[str]:
    """The pricing server span and the task span must be children of the web service's."""
    problems = []
    for parent_kind, child_service, child_kind in (
        ("CLIENT", PRICING_SERVICE, "SERVER"),
        ("PRODUCER", WORKER_SERVICE, "CONSUMER"),
    ):
        parents = {s["context"]["span_id"] for s in crossing.spans_of(WEB_SERVICE, parent_kind)}
        children = crossing.spans_of(child_service, child_kind)
        if not children or any(span["parent_id"] not in parents for span in children):
            problems.append(f"no {child_service} {child_kind} span under a web {parent_kind} span")
    return problems


def show(crossing: Crossing, problems: list[str]) -> None:
    """Print the request, its span tree and its log lines from all three services."""
    print("\n== alice asks for a quote: web calls pricing (requests) and enqueues a task (Celery)")
    print(f"   GET {QUOTE_PATH} -> {crossing.status}")
    print(f"   response correlation id: {crossing.correlation_id}")
    if crossing.trace_id is not None:
        print(f"   trace {crossing.trace_id}\n     spans (a child is indented under its parent)")
        _show_span_tree(crossing.spans)
        print("     log lines of all three services, in time order")
        for line in crossing.lines:
            fields = "  ".join(f"{key}={line[key]}" for key in SHOWN_KEYS if key in line)
            print(f"       {line.get('service.name', '?'):21} {_short(line['event']):34} {fields}")
    for problem in problems:
        print(f"   PROBLEM: {problem}")
    counts = ", ".join(f"{name} ({len(crossing.lines_of(name))})" for name in SERVICES)
    print(f"\ncross-service: trace {crossing.trace_id}: log lines from {counts}")


def _show_span_tree(spans: list[dict[str, Any]]) -> None:
    ids = {span["context"]["span_id"] for span in spans}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for span in sorted(spans, key=lambda s: str(s.get("start_time"))):
        parent = span["parent_id"] if span["parent_id"] in ids else None
        children.setdefault(parent, []).append(span)

    def walk(parent: str | None, depth: int) -> None:
        for span in children.get(parent, []):
            kind = span["kind"].removeprefix("SpanKind.")
            span_id = span["context"]["span_id"].removeprefix("0x")
            link = f" (parent {parent.removeprefix('0x')})" if parent else ""
            print(f"       {'  ' * depth}{_service(span)} {kind} {span['name']!r}")
            print(f"       {'  ' * depth}  span_id={span_id}{link}")
            walk(span["context"]["span_id"], depth + 1)

    walk(None, 0)


def _short(text: str, width: int = 34) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
