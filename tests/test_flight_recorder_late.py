"""The flight recorder renders a held line when it writes it, not when it holds it."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any

import pytest
import structlog
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_ON

from otel_context import (
    FlightRecorder,
    LogSamplingProcessor,
    StructlogOTelProcessor,
    flight_recorder,
)
from tests.test_flight_recorder import Lines, end, holding, logger_for, out, request_scope

if TYPE_CHECKING:
    from collections.abc import MutableMapping

    from otel_context.scope import RequestScope

__all__ = ["out", "request_scope"]  # the fixtures, shared with the recorder's tests


class CountingRenderer:
    """JSONRenderer that counts its calls, and fails on an event named ``bad``."""

    def __init__(self) -> None:
        self.rendered: list[str] = []
        self.json = structlog.processors.JSONRenderer()

    def __call__(self, logger: Any, method: str, event: MutableMapping[str, Any]) -> str:
        self.rendered.append(event["event"])
        if event["event"] == "bad":
            msg = "cannot render this one"
            raise ValueError(msg)
        return str(self.json(logger, method, event))


def counted(out: Lines, renderer: Any) -> Any:
    processors: list[Any] = [
        LogSamplingProcessor(),
        structlog.processors.add_log_level,
        StructlogOTelProcessor(),
        structlog.processors.TimeStamper(fmt="iso"),
        FlightRecorder(renderer),
    ]
    return structlog.wrap_logger(out, processors=processors)


class TestLateRendering:
    def test_a_dropped_line_is_never_rendered(self, out: Lines, request_scope: Any) -> None:
        """A fine request: only the warning (written as it came) is rendered."""
        renderer = CountingRenderer()
        log = counted(out, renderer)
        for index in range(19):
            log.info("step", index=index)
        log.warning("done")
        end(request_scope, 200)
        assert renderer.rendered == ["done"]
        assert out.events() == ["done"]

    def test_a_written_line_is_rendered_once_when_written(
        self, out: Lines, request_scope: Any
    ) -> None:
        """A failed request: each held line rendered once, at the end, in order."""
        renderer = CountingRenderer()
        log = counted(out, renderer)
        log.info("a")
        log.debug("b")
        assert renderer.rendered == []
        end(request_scope, 500)
        assert renderer.rendered == ["a", "b"]
        assert out.events() == ["a", "b"]

    def test_values_are_rendered_as_they_are_when_written(
        self, out: Lines, request_scope: Any
    ) -> None:
        """A shallow copy is held (as logging.MemoryHandler holds records): a list changed
        after logging is written changed; a key bound later to the logger is not added."""
        items = [1]
        log = logger_for(out)
        log.info("a", items=items)
        items.append(2)
        log.bind(later=True).info("b")
        end(request_scope, 500)
        assert out.written[0]["items"] == [1, 2]
        assert "later" not in out.written[0]

    def test_exc_info_is_the_exception_being_handled_when_logged(self, request_scope: Any) -> None:
        """``exc_info=True`` is resolved when held: ConsoleRenderer writes that traceback."""
        written: list[str] = []

        class Text:
            def msg(self, line: str) -> None:
                written.append(line)

            info = debug = msg

        renderer = structlog.dev.ConsoleRenderer(colors=False)
        log = structlog.wrap_logger(
            Text(), processors=[LogSamplingProcessor(), FlightRecorder(renderer)]
        )
        try:
            missing = "the-lost-key"
            raise KeyError(missing)  # noqa: TRY301 - the exception to log
        except KeyError:
            log.debug("retrying", exc_info=True)
        end(request_scope, 500)
        (line,) = written
        assert "KeyError" in line
        assert "the-lost-key" in line


class TestRenderingFailure:
    def test_a_line_that_fails_to_render_is_counted_and_the_others_written(
        self, out: Lines, request_scope: RequestScope, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Never raises into the request: logged at DEBUG, counted on the span."""
        provider = TracerProvider(sampler=ALWAYS_ON, shutdown_on_exit=False)
        span = provider.get_tracer("t").start_span("request")
        request_scope.span = span
        log = counted(out, CountingRenderer())
        log.info("a")
        log.info("bad")
        log.info("c")
        with caplog.at_level(logging.DEBUG, "otel_context.held_export"):
            end(request_scope, 500)
        span.end()
        assert out.events() == ["a", "c"]
        assert "writing a held line failed" in caplog.text
        assert "cannot render this one" in caplog.text
        assert span.attributes is not None  # type: ignore[attr-defined]
        assert span.attributes["log.held.failed"] == 1  # type: ignore[attr-defined]
        assert span.attributes["log.held.written"] == "error"  # type: ignore[attr-defined]

    def test_an_error_line_still_goes_out_after_a_failed_held_one(
        self, out: Lines, request_scope: Any
    ) -> None:
        """The ERROR line that triggered the write is written although a held one failed."""
        log = counted(out, CountingRenderer())
        log.info("bad")
        log.error("boom")
        assert out.events() == ["boom"]
        assert request_scope.held.failed == 1
        assert json.loads(json.dumps(out.written[0]))["event"] == "boom"


class TestEstimatedBounds:
    def test_a_huge_line_is_dropped_alone(self, out: Lines, request_scope: Any) -> None:
        """Over HOLD_MAX_BYTES by itself: dropped, counted, the lines held before it kept."""
        request_scope.held._config = holding(hold_max_bytes=1000)
        log = logger_for(out)
        log.info("before")
        log.info("big", blob="x" * 5000)
        log.info("after")
        assert request_scope.held.dropped == 1
        end(request_scope, 500)
        assert out.events() == ["before", "after"]

    def test_a_huge_container_is_counted_without_rendering(
        self, out: Lines, request_scope: Any
    ) -> None:
        """A million-item list is over the bound at once: dropped, never rendered."""
        renderer = CountingRenderer()
        counted(out, renderer).info("big", items=list(range(1_000_000)))
        assert request_scope.held.dropped == 1
        assert not request_scope.held.lines
        assert renderer.rendered == []

    def test_held_bytes_follow_the_rendered_size(self, out: Lines, request_scope: Any) -> None:
        """The estimate counted for typical lines is close to what JSONRenderer writes."""
        log = logger_for(out)
        for index in range(50):
            log.info("step", index=index, path="/api/v1/things/", user="someone@example.com")
        held = request_scope.held.bytes
        assert held == flight_recorder.held_now()[1]
        end(request_scope, 500)
        marks = {"log.held", "log.held.written"}  # added when written, not counted when held
        unmarked = [{k: v for k, v in line.items() if k not in marks} for line in out.written]
        rendered = sum(len(json.dumps(line)) for line in unmarked)
        assert 0.9 < held / rendered < 1.1

    def test_the_process_bound_counts_the_estimate(self, out: Lines, request_scope: Any) -> None:
        """HOLD_MAX_PROCESS_BYTES at 300: the first lines fit, the next are dropped."""
        request_scope.held._config = holding(hold_max_process_bytes=300)
        log = logger_for(out)
        for _ in range(10):
            log.info("x" * 50)
        assert 0 < len(request_scope.held.lines) < 10
        assert flight_recorder.held_now()[1] <= 300
        assert request_scope.held.dropped == 10 - len(request_scope.held.lines)
