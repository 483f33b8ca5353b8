"""``RecordClientSpans``: sampled-out outgoing calls still show where they go.

The outbound baggage policy (:mod:`otel_context.propagation`) decides what leaves from the
destination host, read from the client span the ``requests`` / ``httpx`` / ``urllib3``
instrumentation starts. A span the sampler drops is a ``NonRecordingSpan`` with no
attributes: the destination is unknown, so the policy fails closed and a sampled-out request
sends no baggage and no correlation id, even to our own services. With a sampling ratio of
0.1 that is nine requests in ten.

This sampler wrapper turns the inner sampler's ``DROP`` into ``RECORD_ONLY`` for CLIENT spans:
the span keeps its attributes (the instrumentations pass ``url.full`` / ``server.address``
when they start it, for samplers to see), the sampled flag stays off, so no span processor
exports it and ``traceparent`` still says "not sampled". Every other decision is the inner
sampler's. :func:`otel_context.configure_providers` wraps the sampler it builds; wrap your own
with ``TracerProvider(sampler=RecordClientSpans(ParentBased(TraceIdRatioBased(0.1))))``.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import logging
import math
import os
from typing import TYPE_CHECKING, ClassVar

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import SpanKind

if TYPE_CHECKING:
    from collections.abc import Sequence

    from opentelemetry.context import Context
    from opentelemetry.trace import Link
    from opentelemetry.trace.span import TraceState
    from opentelemetry.util.types import Attributes

__all__ = [
    "SAMPLER_FACTORIES",
    "RecordClientSpans",
    "RecordSampledOut",
    "parentbased_always_on",
    "parentbased_traceidratio",
    "sampler_from_env",
]

_logger = logging.getLogger(__name__)


class _RecordDropped(Sampler):
    """Delegates to *inner*, but records (never samples) the spans of :attr:`KINDS` it would drop.

    Args:
        inner: The sampler that decides, e.g. ``ParentBased(TraceIdRatioBased(0.1))``.
    """

    #: The span kinds whose ``DROP`` becomes ``RECORD_ONLY``; ``None``: every kind.
    KINDS: ClassVar[frozenset[SpanKind] | None] = None

    def __init__(self, inner: Sampler) -> None:
        self.inner = inner

    def should_sample(  # noqa: PLR0913, PLR0917 - the Sampler interface
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        """The inner decision, with ``DROP`` made ``RECORD_ONLY`` for the spans of KINDS."""
        result = self.inner.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )
        kinds = self.KINDS
        if result.decision is Decision.DROP and (kinds is None or kind in kinds):
            return SamplingResult(Decision.RECORD_ONLY, attributes, result.trace_state)
        return result

    def get_description(self) -> str:
        """``<class name>{<inner's description>}``."""
        return f"{type(self).__name__}{{{self.inner.get_description()}}}"


class RecordClientSpans(_RecordDropped):
    """Delegates to *inner*, but records (never samples) the CLIENT spans it would drop.

    Args:
        inner: The sampler that decides, e.g. ``ParentBased(TraceIdRatioBased(0.1))``.
    """

    KINDS = frozenset({SpanKind.CLIENT})


class RecordSampledOut(_RecordDropped):
    """Delegates to *inner*, but records (never samples) every span it would drop.

    For :class:`otel_context.trace_keeping.KeepNotableTraces`, which exports the recorded spans
    of a sampled-out request that failed or was slow (docs/sampling.md).

    Args:
        inner: The sampler that decides, e.g. ``ParentBased(TraceIdRatioBased(0.1))``.
    """


def parentbased_always_on(arg: str | None = None) -> Sampler:
    """``parentbased_always_on``, wrapped; *arg* (``OTEL_TRACES_SAMPLER_ARG``) is unused."""
    del arg
    return RecordClientSpans(ParentBased(ALWAYS_ON))


def parentbased_traceidratio(arg: str | None = None) -> Sampler:
    """``parentbased_traceidratio`` at the ratio *arg*, wrapped.

    A missing or unusable ratio (not a number in [0, 1]) logs a warning and samples
    everything, as the SDK's own ``parentbased_traceidratio`` does.
    """
    try:
        rate = float(arg) if arg else 1.0
    except ValueError:
        rate = math.nan
    if not 0.0 <= rate <= 1.0:
        _logger.warning("OTEL_TRACES_SAMPLER_ARG=%r is not a ratio in [0, 1]: using 1.0", arg)
        rate = 1.0
    return RecordClientSpans(ParentBased(TraceIdRatioBased(rate)))


#: ``OTEL_TRACES_SAMPLER`` names, also registered as ``opentelemetry_traces_sampler`` entry points.
SAMPLER_FACTORIES = {
    "otel_context_parentbased_always_on": parentbased_always_on,
    "otel_context_parentbased_traceidratio": parentbased_traceidratio,
}


def sampler_from_env() -> Sampler:
    """The ``OTEL_TRACES_SAMPLER`` / ``OTEL_TRACES_SAMPLER_ARG`` sampler, wrapped.

    Standard names are read by the SDK (``TracerProvider()``), then wrapped; the names above
    (unknown to ``TracerProvider()``) are built here. Pass it as ``TracerProvider(sampler=...)``.
    """
    name = os.environ.get("OTEL_TRACES_SAMPLER", "").strip().lower()
    if name in SAMPLER_FACTORIES:
        return SAMPLER_FACTORIES[name](os.environ.get("OTEL_TRACES_SAMPLER_ARG"))
    # TracerProvider() reads the variables (the SDK's public way to); nothing else is used
    sampler = TracerProvider(resource=Resource.get_empty(), shutdown_on_exit=False).sampler
    return sampler if isinstance(sampler, RecordClientSpans) else RecordClientSpans(sampler)
