"""Helpers for the collector tests: Jaeger's JSON, the demo's broker, OTLP JSON log records."""

from __future__ import annotations

import os
import shutil
from typing import Any

import pytest

from example.processes import broker_answers
from example.tasks import DEFAULT_BROKER_URL


def require_a_broker() -> None:
    """Skip unless the example's worker can get Redis; under ``CI=true`` fail instead."""
    configured = os.environ.get("EXAMPLE_BROKER_URL", "").strip()
    url = configured or DEFAULT_BROKER_URL
    if broker_answers(url) or (not configured and shutil.which("redis-server")):
        return
    reason = f"no Redis broker at {url} and no redis-server binary to start one"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: the Celery worker must run)")
    pytest.skip(reason)


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
