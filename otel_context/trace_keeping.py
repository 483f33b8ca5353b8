"""The trace follows the lines: a sampled-out request that failed or was slow keeps its spans here.

Head sampling decides when a request starts; whether it matters is known when it ends. Two
pieces on the SDK's ``TracerProvider``, put in place by :func:`otel_context.configure_providers`
(and the provider set up at the first request) when ``KEEP_NOTABLE_TRACES`` is on, through
:func:`keeping_sampler` and :func:`add_keeper`, or by hand (see docs/sampling.md):

- :class:`RecordSampledOut` wraps the sampler: a span it would drop is recorded instead
  (``RECORD_ONLY``: attributes, events, status), its ``sampled`` flag still off, so no other
  span processor exports it and ``traceparent`` still says "not sampled" downstream;
- :class:`KeepNotableTraces` holds the recorded spans of each sampled-out trace until its local
  root span (the request's, or a task's) ends, then exports them if that root failed (status
  ``ERROR``, or ``http.response.status_code`` 5xx), ran longer than *slow_ms*, or its request's
  held lines were written (``log.held.written``, set by the flight recorder); otherwise they
  are dropped. Why a request was kept is on its exported root span: ``trace.kept``
  (``error``, ``slow``, or the flight recorder's ``log.held.written``: ``unfinished``, ...).

Only this service's spans are kept: the services downstream decided on their own, from the
``traceparent`` they received ("not sampled"). Spans are exported with their ``sampled`` flag
off, as recorded.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import TYPE_CHECKING, Final

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.trace import ProxyTracerProvider, StatusCode

from otel_context.conf import get_config, startup_option
from otel_context.log_sampling import HELD_WHY
from otel_context.sampling import RecordSampledOut

if TYPE_CHECKING:
    from collections.abc import Callable

    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.sdk.trace.sampling import Sampler

__all__ = [
    "TRACE_KEPT",
    "KeepNotableTraces",
    "RecordSampledOut",
    "add_keeper",
    "keeping_sampler",
    "provider_problem",
    "warn_if_unkept",
    "why_kept",
]

_logger = logging.getLogger(__name__)
#: Span attribute of the exported local root of a kept sampled-out trace: why it was kept.
TRACE_KEPT: Final = "trace.kept"
#: How to assemble trace keeping by hand, for the check and the start-up warning.
BY_HAND: Final = (
    "Build the provider with TracerProvider(sampler=RecordSampledOut(<your sampler>)) and add "
    "KeepNotableTraces(<a span exporter>, slow_ms=<HOLD_SLOW_MS>) to it (from "
    "otel_context.trace_keeping; docs/sampling.md), or leave the set-up to configure_providers()."
)


def keeping_sampler(sampler: Sampler) -> Sampler:
    """*sampler* wrapped in :class:`RecordSampledOut` if ``KEEP_NOTABLE_TRACES`` is on.

    .. versionadded:: 0.1.0
    """
    if not startup_option("keep_notable_traces") or isinstance(sampler, RecordSampledOut):
        return sampler
    return RecordSampledOut(sampler)


def add_keeper(
    provider: TracerProvider, exporter: Callable[[], SpanExporter]
) -> SpanExporter | None:
    """Add :class:`KeepNotableTraces` to *provider* if ``KEEP_NOTABLE_TRACES`` is on.

    Args:
        provider: A provider whose sampler is :func:`keeping_sampler`'s.
        exporter: Makes the keeper's own exporter (the same destination as the provider's).

    Returns:
        The keeper's exporter (to abort at a bounded shutdown), or ``None`` when off.

    .. versionadded:: 0.1.0
    """
    if not startup_option("keep_notable_traces"):
        return None
    span_exporter = exporter()
    slow_ms = startup_option("hold_slow_ms")
    provider.add_span_processor(KeepNotableTraces(span_exporter, slow_ms=slow_ms))
    return span_exporter


def provider_problem(provider: object) -> str | None:
    """Why ``KEEP_NOTABLE_TRACES`` cannot work with *provider*; ``None`` if it can, or is off.

    A provider nobody has set yet (the API's proxy) is fine: ours is set up later. One whose
    sampler is a :class:`RecordSampledOut` was assembled for trace keeping (by us or by hand).
    """
    if isinstance(provider, ProxyTracerProvider) or not get_config().keep_notable_traces:
        return None
    sampler = getattr(provider, "sampler", None)
    if isinstance(provider, TracerProvider) and isinstance(sampler, RecordSampledOut):
        return None
    what = sampler.get_description() if sampler is not None else type(provider).__name__
    return (
        f"KEEP_NOTABLE_TRACES is on, but the TracerProvider was set up elsewhere ({what}) and "
        "otel_context cannot wrap it: a sampled-out request that fails or is slow loses its spans."
    )


def warn_if_unkept(provider: object) -> None:
    """Log :func:`provider_problem`'s warning, with how to assemble it by hand. Never raises."""
    try:
        problem = provider_problem(provider)
    except Exception:  # a broken configuration is reported elsewhere (E002)
        return
    if problem:
        _logger.warning("otel_context: %s %s", problem, BY_HAND)


def why_kept(span: ReadableSpan, slow_ms: int) -> str:
    """Why the sampled-out trace of local root *span* is kept: ``""`` if it is not."""
    attributes = span.attributes or {}
    status = attributes.get("http.response.status_code", attributes.get("http.status_code", 0))
    if span.status.status_code is StatusCode.ERROR or (isinstance(status, int) and status >= 500):
        return "error"
    written = attributes.get(HELD_WHY)
    if isinstance(written, str) and written:
        return written
    took_ms = ((span.end_time or 0) - (span.start_time or 0)) / 1_000_000
    return "slow" if slow_ms and took_ms > slow_ms else ""


def marked(span: ReadableSpan, why: str) -> ReadableSpan:
    """*span* (ended, read-only) as exported, with :data:`TRACE_KEPT` set to *why*."""
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes={**(span.attributes or {}), TRACE_KEPT: why},
        events=span.events,
        links=span.links,
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


class KeepNotableTraces(SpanProcessor):
    """Exports a sampled-out trace's recorded spans if its local root failed or was slow.

    Args:
        exporter: Where kept spans go (exported from a background thread).
        slow_ms: A root longer than this is kept; 0: duration is no reason.
        max_spans: Spans held per trace at most (the rest are not kept).
        max_traces: Traces held at once at most (the oldest is forgotten first).

    .. versionadded:: 0.1.0
    """

    def __init__(
        self,
        exporter: SpanExporter,
        *,
        slow_ms: int = 1000,
        max_spans: int = 512,
        max_traces: int = 4096,
    ) -> None:
        self._exporter = exporter
        self._slow_ms = slow_ms
        self._max_spans = max_spans
        self._max_traces = max_traces
        self._pending: dict[int, list[ReadableSpan]] = {}
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[list[ReadableSpan] | None] = queue.SimpleQueue()
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._run, name="otel_context-keep", daemon=True)
        self._thread.start()

    def on_end(self, span: ReadableSpan) -> None:
        """Hold *span* if its trace is sampled out; decide at its local root."""
        context = span.context
        if context is None or context.trace_flags.sampled:
            return
        root = span.parent is None or span.parent.is_remote
        with self._lock:
            spans = self._pending.get(context.trace_id)
            if spans is None:
                if len(self._pending) >= self._max_traces:
                    self._pending.pop(next(iter(self._pending)))
                spans = self._pending[context.trace_id] = []
            if len(spans) < self._max_spans:
                spans.append(span)
            if root:
                del self._pending[context.trace_id]
        why = why_kept(span, self._slow_ms) if root else ""
        if why:
            self._idle.clear()
            self._queue.put([marked(s, why) if s is span else s for s in spans])

    def _run(self) -> None:
        while (spans := self._queue.get()) is not None:
            try:
                self._exporter.export(spans)
            except Exception:
                _logger.exception("otel_context: exporting a kept trace failed")
            if self._queue.empty():
                self._idle.set()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Wait until every kept trace has been handed to the exporter."""
        return self._idle.wait(timeout_millis / 1000)

    def shutdown(self) -> None:
        """Export what is queued, then shut the exporter down."""
        self._queue.put(None)
        self._thread.join(5)
        self._exporter.shutdown()
