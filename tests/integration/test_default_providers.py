"""The Quickstart alone, no provider set by anyone: every line has a trace id and its own span id.

A project made by ``django-admin startproject``, with ``"otel_context"`` added to
``INSTALLED_APPS`` and the Quickstart's structlog chain, nothing else (no ``TracerProvider``,
no exporter), served by real gunicorn (gthread, 2 workers x 4 threads, with and without
``--preload``), uvicorn and ``runserver`` with its autoreloader. otel_context sets up the SDK's
provider at the first request (issue 21): each line carries a trace id and a span id of this
service; under a caller's ``traceparent`` the caller's trace id with a new span id; and
``trace_sampled`` is false, because nothing of this service is exported.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from example.runner import (
    Service,
    ServiceFiles,
    listening_socket,
    service_env,
    stop_process,
    wait_until_ready,
)
from tests._upstream import without_known_upstream_tracebacks
from tests.integration._startproject import (
    BIN,
    gunicorn_command,
    log_lines,
    make_project,
    project_env,
    serving,
)

pytestmark = pytest.mark.integration

REQUESTS = 40
LINES_PER_REQUEST = 2
ANNOUNCEMENT = "otel_context: no OpenTelemetry TracerProvider was set"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``django-admin startproject mysite`` plus the Quickstart, and a view that logs."""
    return make_project(tmp_path_factory.mktemp("startproject"))


def _traceparent() -> tuple[str, str, str]:
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return f"00-{trace_id}-{span_id}-01", trace_id, span_id


def _send(base_url: str) -> list[dict[str, Any]]:
    """REQUESTS concurrent requests, every other one with a caller's sampled traceparent."""

    def one(number: int) -> dict[str, Any]:
        headers, caller = {}, None
        if number % 2:
            headers["traceparent"], *caller = _traceparent()
        response = requests.get(f"{base_url}/hello/", headers=headers, timeout=10)
        assert response.status_code == 200
        return {"cid": response.headers["Correlation-Id"], "caller": caller}

    with ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(one, range(REQUESTS)))


def check_lines(output: str, sent: list[dict[str, Any]], *, sampled: bool = False) -> None:
    """Every request's lines: one trace id, a span id of this service, a truthful flag."""
    lines = [line for line in log_lines(output) if line.get("event", "").startswith("hello.")]
    assert len(lines) == REQUESTS * LINES_PER_REQUEST, output[-3000:]
    by_cid: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_cid.setdefault(line["correlation.id"], []).append(line)
    for request in sent:
        own = by_cid[request["cid"]]
        assert len(own) == LINES_PER_REQUEST
        assert len({(line["trace_id"], line["span_id"]) for line in own}) == 1
        trace_id, span_id = own[0]["trace_id"], own[0]["span_id"]
        assert re.fullmatch("[0-9a-f]{32}", trace_id)
        assert re.fullmatch("[0-9a-f]{16}", span_id)
        if request["caller"] is not None:
            caller_trace, caller_span = request["caller"]
            assert trace_id == caller_trace, "the caller's trace continues"
            assert span_id != caller_span, "a span of this service, not the caller's"
        assert {line["trace_sampled"] for line in own} == {sampled}
    assert len({lines[0]["span_id"] for lines in by_cid.values()}) == REQUESTS


def check_announced(output: str, processes: int) -> None:
    """One line per serving process (at most *processes*), saying what and how to opt out."""
    announced = [line for line in output.splitlines() if line.startswith(ANNOUNCEMENT)]
    assert 1 <= len(announced) <= processes, output[-3000:]
    assert all("OTEL_CONTEXT_SET_UP_PROVIDERS=false" in line for line in announced)
    clean = without_known_upstream_tracebacks(output)
    assert "Traceback" not in clean
    assert "Overriding of current TracerProvider" not in clean


@pytest.mark.parametrize("preload", [False, True], ids=["fork", "preload"])
def test_gunicorn_gthread_workers_get_their_own_spans(
    project: Path, tmp_path: Path, preload: bool
) -> None:
    """2 workers x 4 threads: each worker sets up its provider at its first request."""
    files = ServiceFiles.in_dir(tmp_path)
    command = gunicorn_command(project, *(["--preload"] if preload else []))
    with serving(command, files, project_env(project)) as service:
        sent = _send(service.base_url)
    output = service.stderr()
    check_lines(output, sent)
    check_announced(output, 2)  # each worker at its first request; never the master


def test_uvicorn(project: Path, tmp_path: Path) -> None:
    """Django's ASGI handler under uvicorn: the same lines."""
    files = ServiceFiles.in_dir(tmp_path)
    command = [
        str(BIN / "uvicorn"),
        "mysite.asgi:application",
        "--fd={fd}",
        f"--app-dir={project}",
        "--no-access-log",
    ]
    with serving(command, files, project_env(project)) as service:
        sent = _send(service.base_url)
    output = service.stderr()
    check_lines(output, sent)
    check_announced(output, 1)


def test_gunicorn_with_a_span_file_exports_and_says_sampled(project: Path, tmp_path: Path) -> None:
    """An exporter configured (SPAN_FILE): spans are written, lines say trace_sampled true."""
    files = ServiceFiles.in_dir(tmp_path)
    span_file = tmp_path / "spans.jsonl"
    env = project_env(project, OTEL_CONTEXT_SPAN_FILE=str(span_file))
    with serving(gunicorn_command(project), files, env) as service:
        sent = _send(service.base_url)
    output = service.stderr()
    check_lines(output, sent, sampled=True)
    assert f"spans are exported to {span_file}" in output
    spans = [json.loads(line) for line in span_file.read_text().splitlines()]
    exported = {span["context"]["span_id"].removeprefix("0x") for span in spans}
    logged = {line["span_id"] for line in log_lines(output) if "span_id" in line}
    assert logged <= exported, "every logged span id is an exported span"


def _runserver(project: Path, files: ServiceFiles, env: dict[str, str]) -> Service:
    """``manage.py runserver`` with its autoreloader, on a free port (retried if taken)."""
    for _ in range(5):
        with listening_socket() as sock:
            port = sock.getsockname()[1]
        with files.stderr_file.open("ab") as stderr:
            process = subprocess.Popen(
                [sys.executable, str(project / "manage.py"), "runserver", f"127.0.0.1:{port}"],
                cwd=project,
                env=service_env(files, env),
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                start_new_session=True,
            )
        service = Service(process, f"http://127.0.0.1:{port}", files)
        try:
            wait_until_ready(service, 30)
        except RuntimeError:
            if "already in use" not in service.stderr():
                raise
            continue
        return service
    pytest.fail("no free port for runserver")


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the autoreloader and its child (one process group), SIGKILL if they linger."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    stop_process(process, 10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def test_runserver_with_autoreload(project: Path, tmp_path: Path) -> None:
    """The autoreloader's parent never serves: only the child sets up a provider, once."""
    files = ServiceFiles.in_dir(tmp_path)
    service = _runserver(project, files, project_env(project))
    try:
        sent = _send(service.base_url)
    finally:
        _stop_group(service.process)
    output = service.stderr()
    assert "Watching for file changes with StatReloader" in output, "autoreload is on"
    check_lines(output, sent)
    check_announced(output, 1)
