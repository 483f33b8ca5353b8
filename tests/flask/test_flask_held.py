"""Flask requests hold and sample their lines as Django's do (issue 24), and the configuration
of a Flask process is final once ``instrument_app`` ran (no per-call provisional check).

The real Flask app and FlaskInstrumentor; structlog with the flight recorder writing rendered
lines into a list; sampled-out requests by their ``traceparent`` (flags ``00``).
"""

from __future__ import annotations

from tests._packages import skip_if_omitted

skip_if_omitted("opentelemetry-instrumentation-flask")

import json
import os
import secrets
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING, Any

import pytest
import structlog

from otel_context import (
    FlightRecorder,
    LogSamplingProcessor,
    StructlogOTelProcessor,
    flight_recorder,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from tests.flask.conftest import AppFactory

HOLDING = {"hold_lines": True, "unsampled_log_ratio": 0, "hold_slow_ms": 0}


class Lines:
    """A logger writing rendered lines into a list."""

    def __init__(self) -> None:
        self.written: list[dict[str, Any]] = []

    def msg(self, line: str) -> None:
        self.written.append(json.loads(line))

    debug = info = warning = error = critical = exception = msg

    def of(self, correlation_id: str) -> list[tuple[str, bool]]:
        """(event, held?) of one request's lines, in the order written."""
        return [
            (line["event"], line.get("log.held", False))
            for line in self.written
            if line.get("correlation.id") == correlation_id
        ]


@pytest.fixture
def out() -> Iterator[Lines]:
    lines = Lines()
    structlog.configure(
        processors=[
            LogSamplingProcessor(),
            structlog.processors.add_log_level,
            StructlogOTelProcessor(),
            structlog.processors.TimeStamper(fmt="iso"),
            FlightRecorder(structlog.processors.JSONRenderer()),
        ],
        logger_factory=lambda *_args: lines,
        cache_logger_on_first_use=False,
    )
    yield lines
    structlog.reset_defaults()


def get(app: Any, path: str, correlation_id: str, *, sampled: bool = False) -> int:
    headers = {
        "Correlation-Id": correlation_id,
        "traceparent": f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-0{int(sampled)}",
    }
    return int(app.test_client().get(path, headers=headers).status_code)


class TestHeldLines:
    def test_a_failing_request_writes_its_held_lines(
        self, make_app: AppFactory, out: Lines
    ) -> None:
        """500 (an unhandled exception): the chatter is written, marked held."""
        assert get(make_app(**HOLDING), "/raises", "f-500") == 500
        assert out.of("f-500") == [("view.before_raise", True)]

    def test_a_fine_request_drops_them(self, make_app: AppFactory, out: Lines) -> None:
        """200, fast: nothing of its chatter is written, and nothing stays held."""
        before = flight_recorder._process_bytes[0]
        assert get(make_app(**HOLDING), "/plain", "f-200") == 200
        assert out.of("f-200") == []
        assert flight_recorder._process_bytes[0] == before

    def test_a_sampled_request_writes_as_it_goes(self, make_app: AppFactory, out: Lines) -> None:
        assert get(make_app(**HOLDING), "/plain", "f-sampled", sampled=True) == 200
        assert out.of("f-sampled") == [("view.start", False), ("service.called", False)]

    @pytest.mark.usefixtures("contrib_3937")  # the floor's stream_with_context double detach
    def test_a_streamed_body_holds_until_it_is_done(self, make_app: AppFactory, out: Lines) -> None:
        """The body's lines are the request's: held, and dropped once it ended fine."""
        app = make_app(**HOLDING)
        response = app.test_client().get(
            "/stream",
            headers={
                "Correlation-Id": "f-stream",
                "traceparent": f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-00",
            },
        )
        assert response.get_data(as_text=True) == "streamed"
        response.close()
        assert out.of("f-stream") == []

    def test_a_propagated_exception_is_unfinished_and_writes_them(
        self, make_app: AppFactory, out: Lines
    ) -> None:
        """PROPAGATE_EXCEPTIONS: no response at all; the held lines are written."""
        app = make_app(**HOLDING)
        app.config["PROPAGATE_EXCEPTIONS"] = True
        with pytest.raises(RuntimeError, match="on purpose"):
            get(app, "/raises", "f-raised")
        assert out.of("f-raised") == [("view.before_raise", True)]

    def test_without_hold_lines_nothing_is_held(self, make_app: AppFactory, out: Lines) -> None:
        """Without HOLD_LINES nothing is held: the log-time policy drops the chatter."""
        app = make_app(unsampled_log_ratio=0)
        assert get(app, "/raises", "f-no-hold") == 500
        assert out.of("f-no-hold") == []


_FINAL = textwrap.dedent(
    """
    import flask
    from otel_context import conf
    from otel_context.flask import instrument_app

    conf.get_config()
    print(conf._cached is None)
    instrument_app(flask.Flask("x"))
    print(conf._cached is None, conf.get_config() is conf._cached)
    """
)


def test_instrument_app_makes_the_configuration_final() -> None:
    """A Flask process never configures Django's settings: get_config() takes its fast path."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        [sys.executable, "-c", _FINAL], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False", "True"]
