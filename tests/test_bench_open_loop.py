"""The constant-rate load generator (benchmarks/_open_loop.py) against a real local server."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator

import pytest

from benchmarks._open_loop import Target, closed_loop, constant_rate, server_cpu

STALL = 0.3  # seconds the server stalls on its STALLED-th request
STALLED = 5
LOCK = threading.Lock()


class _Handler(http.server.BaseHTTPRequestHandler):
    """Answers 200 with a small body on keep-alive connections; stalls once."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        with LOCK:
            self.server.count += 1  # type: ignore[attr-defined]
            stall = self.server.count == STALLED  # type: ignore[attr-defined]
        if stall:
            time.sleep(STALL)
        body = b'{"ok": true}'
        self.send_response(200 if self.path == "/" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Quiet."""


def _serve(httpd: http.server.HTTPServer) -> Iterator[http.server.HTTPServer]:
    httpd.count = 0  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def server() -> Iterator[http.server.HTTPServer]:
    """A one-thread server on 127.0.0.1: one connection, one request at a time."""
    yield from _serve(http.server.HTTPServer(("127.0.0.1", 0), _Handler))


@pytest.fixture
def threaded() -> Iterator[http.server.HTTPServer]:
    """A thread-per-connection server on 127.0.0.1."""
    yield from _serve(http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler))


def _target(httpd: http.server.HTTPServer, path: str = "/") -> Target:
    return Target.get("127.0.0.1", httpd.server_address[1], path, {"Authorization": "Token x"})


class TestConstantRate:
    def test_a_stall_is_charged_to_every_request_it_delays(
        self, server: http.server.HTTPServer
    ) -> None:
        """One connection, a 0.3 s stall at 50 req/s: the ~15 requests due meanwhile wait.

        Their latency counts from when they were due, not from when the busy connection let
        them go (what a closed-loop client would report: one slow request, then fast ones).
        """
        recording = constant_rate(_target(server), rate=50, seconds=1, cap=1)
        assert len(recording.latencies) == 50
        assert not recording.errors
        delayed = [lat for lat in recording.latencies if lat >= STALL / 3]
        assert len(delayed) >= 5
        assert max(recording.lags) >= STALL / 2  # the generator saw itself held up

    def test_errors_are_named(self, threaded: http.server.HTTPServer) -> None:
        """A non-200 answer is an error, counted by kind; every request is still timed."""
        recording = constant_rate(_target(threaded, "/missing"), rate=20, seconds=0.5)
        assert len(recording.latencies) == 10
        assert recording.errors == {"status 404": 10}


class TestClosedLoop:
    def test_counts_every_completed_request(self, threaded: http.server.HTTPServer) -> None:
        """Concurrent clients' completions all count (none lost between their awaits)."""
        threaded.count = STALLED  # type: ignore[attr-defined]  # past the stall
        rate = closed_loop(_target(threaded), connections=4, seconds=0.5)
        served = threaded.count - STALLED  # type: ignore[attr-defined]
        assert served > 20
        assert rate * 0.5 == pytest.approx(served, rel=0.1)


class _TimedHandler(_Handler):
    """Answers as :class:`_Handler`, with a ``Server-Timing`` that has a ``cpu`` metric."""

    def end_headers(self) -> None:
        self.send_header("Server-Timing", 'db;dur=9, cpu;desc="work";dur=1.25')
        super().end_headers()


class TestServerCpu:
    @pytest.mark.parametrize(
        ("value", "seconds"),
        [
            ("cpu;dur=2.5", 0.0025),
            ('db;dur=9, cpu;desc="x";dur=0.5', 0.0005),
            ("cpu", None),
            ("cpu;dur=fast", None),
            ("cpuish;dur=3", None),
            ("", None),
            (None, None),
        ],
    )
    def test_the_cpu_metric_only(self, value: str | None, seconds: float | None) -> None:
        """Only the ``cpu`` metric's ``dur`` counts; a missing or bad one is no figure."""
        assert server_cpu(value) == (pytest.approx(seconds) if seconds is not None else None)

    def test_each_answer_s_figure_is_recorded(self) -> None:
        """Every 200 from a server that sends one adds its CPU time; others add none."""
        timed = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _TimedHandler)
        for httpd in _serve(timed):
            httpd.count = STALLED  # type: ignore[attr-defined]
            recording = constant_rate(_target(httpd), rate=20, seconds=0.5)
        assert recording.server_cpu == [pytest.approx(0.00125)] * 10
        plain = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        for httpd in _serve(plain):
            httpd.count = STALLED  # type: ignore[attr-defined]
            assert constant_rate(_target(httpd), rate=20, seconds=0.5).server_cpu == []
