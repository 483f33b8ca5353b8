"""Bad input to the flight recorder through real Django requests (issue 24).

A view logs 100,000 lines and one huge line while its request holds them (sampled out,
``HOLD_LINES`` on): the held buffer stays within ``HOLD_MAX_LINES`` / ``HOLD_MAX_BYTES``, what it
dropped is counted (one warning, ``log.held.dropped`` on a recording span), and the request
answers. Failing, only the newest ``HOLD_MAX_LINES`` lines are written; going fine, none.
"""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING, Any

import pytest
import structlog
from django.test import Client

from otel_context import FlightRecorder, LogSamplingProcessor, StructlogOTelProcessor, conf
from otel_context.flight_recorder import held_now

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

LINES = 100_000
MAX_LINES = 1000
MAX_BYTES = 256 * 1024


class Counting:
    """A logger that counts what it writes and keeps the last line."""

    def __init__(self) -> None:
        self.count = 0
        self.held = 0
        self.last = ""

    def msg(self, line: str) -> None:
        self.count += 1
        self.held += '"log.held": true' in line
        self.last = line

    debug = info = warning = error = critical = exception = msg


@pytest.fixture
def out() -> Iterator[Counting]:
    counting = Counting()
    conf.configure(hold_lines=True, unsampled_log_ratio=0, hold_slow_ms=0)
    structlog.configure(
        processors=[
            LogSamplingProcessor(),
            structlog.processors.add_log_level,
            StructlogOTelProcessor(),
            FlightRecorder(structlog.processors.JSONRenderer()),
        ],
        logger_factory=lambda *_args: counting,
        cache_logger_on_first_use=False,
    )
    yield counting
    structlog.reset_defaults()


def noisy(**query: Any) -> dict[str, Any]:
    headers = {"traceparent": f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-00"}
    response = Client(raise_request_exception=False).get("/noisy/", query, headers=headers)
    assert response.status_code == (500 if query.get("fail") else 200)
    return dict(response.json())


@pytest.mark.usefixtures("instrumented")
class TestBadInput:
    def test_100000_lines_and_a_huge_one_in_a_failing_request(
        self, out: Counting, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Within bounds while it ran; the newest 1,000 written; the rest counted."""
        with caplog.at_level(logging.WARNING, "otel_context.flight_recorder"):
            held = noisy(lines=LINES, huge=MAX_BYTES + 1, fail=1)
        assert held["held_lines"] == MAX_LINES
        assert held["held_bytes"] <= MAX_BYTES
        assert out.held == MAX_LINES
        assert '"index": 99999' in out.last
        assert f"{LINES + 1 - MAX_LINES} held log lines of this request were dropped" in caplog.text
        assert held_now() == (0, 0)

    def test_a_fine_request_drops_them_all(self, out: Counting) -> None:
        noisy(lines=LINES, huge=10 * MAX_BYTES)
        assert out.count == 0
        assert held_now() == (0, 0)
