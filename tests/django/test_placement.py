"""Whether otel_context is really in place: hooks, middleware and logging handlers (W006-W009)."""

from __future__ import annotations

import io
import logging
from typing import Any

import pytest
import structlog
from opentelemetry.instrumentation.django.middleware.otel_middleware import _DjangoMiddleware

from otel_context import (
    FlightRecorder,
    LogSamplingFilter,
    LogSamplingProcessor,
    OTelContextFilter,
    StructlogOTelLogProcessor,
    StructlogOTelProcessor,
)
from otel_context.django import hooks, placement
from otel_context.django.instrumentation import _Chained
from otel_context.held_records import HeldHandler


def _handler(formatter: logging.Formatter, *filters: logging.Filter) -> logging.Handler:
    handler = logging.StreamHandler(io.StringIO())
    handler.set_name("h")
    handler.setFormatter(formatter)
    for flt in filters:
        handler.addFilter(flt)
    return handler


@pytest.fixture
def only(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Make the given handlers the only ones any logger has."""

    def install(*handlers: logging.Handler) -> None:
        monkeypatch.setattr(placement, "_handlers", lambda: iter([("app", h) for h in handlers]))

    return install


class TestHooks:
    def test_in_place(self) -> None:
        """INSTALLED_APPS put both hooks on the instrumentation: nothing to report."""
        assert placement.hook_problems() == []
        assert [m.id for m in placement.check_in_place()] == []

    def test_chained_hooks_count(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Ours chained with someone else's hook is in place too."""
        chained = _Chained(hooks.request_hook, lambda *args: None)
        monkeypatch.setattr(_DjangoMiddleware, "_otel_request_hook", chained)
        assert placement.hook_problems() == []

    def test_missing(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A response hook that is not ours: W006 names it."""
        monkeypatch.setattr(_DjangoMiddleware, "_otel_response_hook", lambda *args: None)
        (message,) = placement.check_in_place()
        assert message.id == "otel_context.W006"
        assert message.msg.startswith("otel_context's response_hook is not on")


class TestMiddleware:
    FULL = (placement.CORRELATION_MIDDLEWARE, placement.OTEL_MIDDLEWARE, "auth")

    @pytest.mark.parametrize(
        ("middleware", "fragment"),
        [
            ([placement.CORRELATION_MIDDLEWARE, placement.IDENTIFIERS_MIDDLEWARE], "OpenTelemetry"),
            (
                [placement.CORRELATION_MIDDLEWARE, placement.OTEL_MIDDLEWARE],
                "IdentifiersMiddleware",
            ),
            ([placement.OTEL_MIDDLEWARE, placement.IDENTIFIERS_MIDDLEWARE], "is not in MIDDLEWARE"),
            (
                [
                    placement.OTEL_MIDDLEWARE,
                    placement.CORRELATION_MIDDLEWARE,
                    placement.IDENTIFIERS_MIDDLEWARE,
                ],
                "comes after the OpenTelemetry middleware",
            ),
        ],
    )
    def test_each_problem(self, middleware: list[str], fragment: str) -> None:
        """Each missing or misplaced middleware: one sentence."""
        (problem,) = placement.middleware_problems(middleware)
        assert fragment in problem

    def test_the_installed_chain(self, settings: Any) -> None:
        """What ready() installed is complete."""
        assert placement.middleware_problems(list(settings.MIDDLEWARE)) == []


class TestHandlers:
    @pytest.mark.parametrize(
        "fmt",
        ["%(trace_id)s %(message)s", "%(tenant_id)s %(message)s", "%(tenant.id)s %(message)s"],
    )
    def test_format_without_filter(self, only: Any, fmt: str) -> None:
        """Standard and configured ids (tests.settings resolves tenant.id), either spelling."""
        only(_handler(logging.Formatter(fmt)))
        (message,) = placement.check_logging()
        assert message.id == "otel_context.W008"
        assert "formats %(" in message.msg
        assert "but has no OTelContextFilter" in message.msg

    def test_brace_style(self, only: Any) -> None:
        """A {-style format is read too."""
        only(_handler(logging.Formatter("{user_id} {message}", style="{")))
        (message,) = placement.check_logging()
        assert "%(user_id)s" in message.msg

    def test_format_with_filter(self, only: Any) -> None:
        """The filter on the handler: in place."""
        only(_handler(logging.Formatter("%(trace_id)s %(message)s"), OTelContextFilter()))
        assert placement.check_logging() == []

    def test_a_format_naming_nothing_of_ours(self, only: Any) -> None:
        """%(message)s alone needs nothing (W009 aside, when structlog adds the ids)."""
        only(_handler(logging.Formatter("%(levelname)s %(message)s")))
        assert placement.handler_problems() == ([], False)

    def test_processor_formatter(self, only: Any) -> None:
        """A ProcessorFormatter without our processor in foreign_pre_chain: W008; with it: none."""
        bare = structlog.stdlib.ProcessorFormatter(processor=structlog.processors.JSONRenderer())
        only(_handler(bare))
        (message,) = placement.check_logging()
        assert "without StructlogOTelProcessor in its foreign_pre_chain" in message.msg
        ours = structlog.stdlib.ProcessorFormatter(
            processor=structlog.processors.JSONRenderer(),
            foreign_pre_chain=[StructlogOTelProcessor()],
        )
        only(_handler(ours))
        assert placement.handler_problems() == ([], True)


class TestNoLineHasIds:
    def test_w008(self, only: Any) -> None:
        """No handler adds ids and structlog has no processor of ours: W009."""
        only(_handler(logging.Formatter("%(message)s")))
        structlog.reset_defaults()
        assert [m.id for m in placement.check_logging()] == ["otel_context.W009"]

    def test_structlog_alone_is_enough(self, only: Any, events: object) -> None:
        """structlog's chain has StructlogOTelProcessor: lines carry ids, no W009."""
        only(_handler(logging.Formatter("%(message)s")))
        assert placement.check_logging() == []


class TestLogSampling:
    """W010: log sampling configured but not installed, or placed after export."""

    def test_configured_but_not_installed(self, only: Any) -> None:
        """A ratio below 1 with neither processor nor filter: one problem naming the option."""
        only(_handler(logging.Formatter("%(message)s")))
        (problem,) = placement.sampling_problems(0.1, [StructlogOTelProcessor()])
        assert "UNSAMPLED_LOG_RATIO is 0.1" in problem

    @pytest.mark.parametrize("where", ["processor", "filter"])
    def test_installed(self, only: Any, where: str) -> None:
        """Either the processor in the chain or the filter on a handler is enough."""
        only(_handler(logging.Formatter("%(message)s"), LogSamplingFilter()))
        chain: list[object] = [LogSamplingProcessor()] if where == "processor" else []
        assert placement.sampling_problems(0.1, chain) == []

    def test_off_needs_nothing(self, only: Any) -> None:
        """The default ratio (1: off) with nothing installed is fine."""
        only(_handler(logging.Formatter("%(message)s")))
        assert placement.sampling_problems(1.0, []) == []

    @pytest.mark.parametrize(
        "before", [StructlogOTelLogProcessor(), structlog.processors.JSONRenderer()]
    )
    def test_after_export_or_the_renderer(self, only: Any, before: object) -> None:
        """Placed after what writes the line, it drops too late."""
        only()
        problems = placement.sampling_problems(1.0, [before, LogSamplingProcessor()])
        assert len(problems) == 1
        assert "comes after" in problems[0]

    def test_the_check(self, only: Any, settings: Any) -> None:
        """The configured ratio reaches the check, as a W010."""
        only()
        settings.OTEL_CONTEXT = {"UNSAMPLED_LOG_RATIO": 0}
        assert [m.id for m in placement.check_log_sampling()] == ["otel_context.W010"]
        settings.OTEL_CONTEXT = {}
        assert placement.check_log_sampling() == []

    def test_holding_without_a_ratio(self, only: Any) -> None:
        """HOLD_LINES with UNSAMPLED_LOG_RATIO 1: nothing would ever be held."""
        only()
        chain: list[object] = [LogSamplingProcessor(), FlightRecorder(str)]
        (problem,) = placement.sampling_problems(1.0, chain, hold_lines=True)
        assert "UNSAMPLED_LOG_RATIO is 1" in problem

    def test_holding_without_the_recorder(self, only: Any) -> None:
        """HOLD_LINES without FlightRecorder around the renderer: nothing is held."""
        only()
        chain: list[object] = [LogSamplingProcessor(), structlog.processors.JSONRenderer()]
        (problem,) = placement.sampling_problems(0.0, chain, hold_lines=True)
        assert "FlightRecorder" in problem
        chain[-1] = FlightRecorder(structlog.processors.JSONRenderer())
        assert placement.sampling_problems(0.0, chain, hold_lines=True) == []

    def test_a_held_handler_holds_and_samples_stdlib_records(self, only: Any) -> None:
        """HOLD_LINES with stdlib records only: a HeldHandler is both the policy and the hold."""
        only(HeldHandler(logging.StreamHandler()))
        assert placement.sampling_problems(0.0, [], hold_lines=True) == []
        assert placement.sampling_problems(0.1, []) == []
