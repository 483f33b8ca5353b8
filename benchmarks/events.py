"""Figure A: the cost of one structlog event, as a ratio to the bare pipeline.

Every variant (``benchmarks._event_variants``) renders the same event through the same bare
pipeline plus its own processor (or contextvars bindings), inside one active SDK span
carrying five identifiers. Each is checked once, then all are timed in interleaved short
blocks (``benchmarks._stats``).
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import logging
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

import structlog
from opentelemetry import baggage, trace
from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import TracerProvider

from benchmarks._event_variants import BASELINE, DERIVED_KEY, IDS, EventVariant, variants
from benchmarks._stats import Blocks, Summary, interleave, paired_ratios, round_medians
from otel_context.scope import RequestScope, scoped

__all__ = ["BASELINE", "EventPlan", "EventResults", "run"]

if TYPE_CHECKING:
    import random
    from collections.abc import Iterator, Mapping, Sequence

    from opentelemetry.trace import Span
    from structlog.typing import FilteringBoundLogger, Processor


def wrap(processors: Sequence[Processor], stream: TextIO) -> FilteringBoundLogger:
    """A concrete bound logger (no lazy proxy, no caching) writing to *stream*."""
    proxy = structlog.wrap_logger(
        structlog.WriteLogger(stream),
        processors=list(processors),
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
    )
    return proxy.bind()  # type: ignore[no-any-return]


def emit(logger: FilteringBoundLogger) -> None:
    """The event every variant renders."""
    logger.info("project.loaded", path="/orgs/7/projects/12/", status=200)


@contextlib.contextmanager
def request_environment(provider: TracerProvider) -> Iterator[Span]:
    """An active SDK span with the five ids in its request scope and in baggage."""
    context = otel_context.set_value(DERIVED_KEY, dict(IDS))  # for the derivation floor
    for key, value in IDS.items():
        context = baggage.set_baggage(key, value, context)
    token = otel_context.attach(context)
    tracer = provider.get_tracer("benchmarks.events")
    try:
        with tracer.start_as_current_span("request") as span, scoped(RequestScope(span), **IDS):
            yield span
    finally:
        otel_context.detach(token)


def check(variant: EventVariant, request_span: Span, provider: TracerProvider) -> None:
    """Render one event inside a child span and verify the fields; raise if wrong."""
    stream = io.StringIO()
    logger = wrap(variant.processors(), stream)
    child_span = provider.get_tracer("benchmarks.events").start_span("child")
    with (
        trace.use_span(child_span, end_on_exit=True),
        structlog.contextvars.bound_contextvars(**variant.bound(request_span)),
    ):
        emit(logger)
        problem = variant.extra_check(child_span) if variant.extra_check else None
    event = json.loads(stream.getvalue())
    wrong = {
        key: event.get(key)
        for key, value in variant.expect(request_span, child_span).items()
        if event.get(key) != value
    }
    present = [key for key in variant.absent if key in event]
    if wrong or present or problem:
        msg = f"{variant.key}: wrong {wrong}, unexpected {present}, {problem or ''}"
        raise AssertionError(msg)


def time_block(logger: FilteringBoundLogger, bound: Mapping[str, object], events: int) -> float:
    """CPU µs per event over *events* events (GC off during the block, as ``timeit``)."""
    info = logger.info
    with structlog.contextvars.bound_contextvars(**bound):
        gc.disable()
        try:
            start = time.process_time()
            for _ in range(events):
                info("project.loaded", path="/orgs/7/projects/12/", status=200)
            elapsed = time.process_time() - start
        finally:
            gc.enable()
    return elapsed / events * 1e6


@dataclass(frozen=True, slots=True)
class EventResults:
    """The variants measured and their block times (µs per event)."""

    variants: list[EventVariant]
    blocks: Blocks

    def ratio_summaries(self) -> dict[str, Summary]:
        """Each variant's ratio to the bare pipeline, summarised over rounds."""
        return {key: Summary.of(paired_ratios(self.blocks, key, BASELINE)) for key in self.blocks}

    def microseconds(self) -> dict[str, Summary]:
        """Each variant's µs per event (median block per round), summarised over rounds."""
        return {key: Summary.of(round_medians(self.blocks, key)) for key in self.blocks}


@dataclass(frozen=True, slots=True)
class EventPlan:
    """Rounds of sub-rounds, each running one block of *events* events per variant."""

    rounds: int
    subrounds: int
    events: int


def run(plan: EventPlan, rng: random.Random) -> EventResults:
    """Check every variant, warm up, then time them interleaved (see ``_stats``)."""
    found = variants()
    provider = TracerProvider()  # no span processor: spans are recorded and dropped
    with request_environment(provider) as span, open(os.devnull, "w") as devnull:  # noqa: PTH123
        for variant in found:
            check(variant, span, provider)
        loggers = {variant.key: wrap(variant.processors(), devnull) for variant in found}
        bound = {variant.key: variant.bound(span) for variant in found}
        for key, logger in loggers.items():
            time_block(logger, bound[key], plan.events * 10)  # warm-up

        def measure(key: str) -> float:
            return time_block(loggers[key], bound[key], plan.events)

        blocks = interleave(list(loggers), plan.rounds, plan.subrounds, rng, measure)
    return EventResults(found, blocks)
