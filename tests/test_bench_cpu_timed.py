"""The constant-rate figure's app wrapper (benchmarks/_cpu_timed_wsgi.py) around real Django."""

from __future__ import annotations

import time
import wsgiref.util
from typing import Any

from benchmarks._cpu_timed_wsgi import HEADER, application
from benchmarks._open_loop import server_cpu


def _call(path: str) -> tuple[list[tuple[str, list[tuple[str, str]]]], bytes, float]:
    environ: dict[str, Any] = {"PATH_INFO": path}
    wsgiref.util.setup_testing_defaults(environ)
    calls: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]], _exc: Any = None) -> Any:
        calls.append((status, headers))
        return lambda _data: None

    started = time.thread_time()
    body = application(environ, start_response)
    try:
        data = b"".join(body)
    finally:
        getattr(body, "close", lambda: None)()
    return calls, data, time.thread_time() - started


def test_the_answer_carries_the_call_s_cpu_time() -> None:
    """One ``start_response``, Django's status and headers, plus one ``cpu`` figure that is
    positive and no more than the CPU the whole call took in this thread."""
    calls, data, spent = _call("/plain/")
    ((status, headers),) = calls
    assert status.startswith("200")
    assert data
    timings = [value for name, value in headers if name == HEADER]
    assert len(timings) == 1
    cpu = server_cpu(timings[0])
    assert cpu is not None
    assert 0 < cpu <= spent


def test_an_error_answer_is_timed_too() -> None:
    """A 404 goes through the same path: its status and a figure."""
    calls, _, _ = _call("/no/such/path/")
    ((status, headers),) = calls
    assert status.startswith("404")
    assert server_cpu(dict(headers)[HEADER]) is not None
