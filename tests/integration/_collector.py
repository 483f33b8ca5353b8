"""Helpers for the collector tests: the demo run, Jaeger's JSON, OTLP JSON log records."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import TYPE_CHECKING, Any

from example.runner import REPO_DIR

if TYPE_CHECKING:
    from pathlib import Path

#: The demo's summary line naming the quote request's trace.
SUMMARY = re.compile(r"cross-service: trace (?P<trace>[0-9a-f]{32}):")


def run_demo(
    otlp_endpoint: str, demo_dir: Path, **env: str
) -> tuple[subprocess.CompletedProcess[str], str | None]:
    """``make demo``'s job, exporting to *otlp_endpoint*: (the process, its quote trace id).

    The test's own ``OTEL_*`` environment is left out; *env* adds to the demo's. Its Celery
    broker is Redis where there is one, else a folder (``example.broker``).
    """
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
        "EXAMPLE_DEMO_DIR": str(demo_dir),
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_endpoint,
        **env,
    }
    demo = subprocess.run(
        [sys.executable, "-m", "example.demo"],
        cwd=REPO_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    match = SUMMARY.search(demo.stdout)
    return demo, match["trace"] if match else None


def tags(pairs: list[dict[str, Any]]) -> dict[str, Any]:
    """Jaeger's ``[{"key": …, "type": …, "value": …}]`` as a dict."""
    return {pair["key"]: pair["value"] for pair in pairs}


def service_of(trace: dict[str, Any], span: dict[str, Any]) -> str:
    return str(trace["processes"][span["processID"]]["serviceName"])


def spans_of(trace: dict[str, Any], service: str, kind: str) -> list[dict[str, Any]]:
    """The spans of *service* with ``span.kind`` *kind* (``server``, ``client``, …)."""
    return [
        span
        for span in trace["spans"]
        if service_of(trace, span) == service and tags(span["tags"]).get("span.kind") == kind
    ]


def parent_of(span: dict[str, Any]) -> str | None:
    refs = [ref["spanID"] for ref in span.get("references") or [] if ref["refType"] == "CHILD_OF"]
    return refs[0] if refs else None


def events_of(span: dict[str, Any]) -> list[dict[str, Any]]:
    """The span's events (Jaeger's "logs") as dicts; the event's name is under ``event``."""
    return [tags(log["fields"]) for log in span.get("logs") or []]
