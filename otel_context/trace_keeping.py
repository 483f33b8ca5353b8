"""The trace follows the lines: a sampled-out request that failed or was slow keeps its spans here.

Head sampling decides when a request starts; whether it matters is known when it ends. Two
pieces, set up by hand on the SDK's ``TracerProvider`` (see docs/sampling.md):

- :class:`RecordSampledOut` wraps the sampler: a span it would drop is recorded instead
  (``RECORD_ONLY``: attributes, events, status), its ``sampled`` flag still off, so no other
  span processor exports it and ``traceparent`` still says "not sampled" downstream;
- :class:`KeepNotableTraces` holds the recorded spans of each sampled-out trace until its local
  root span (the request's, or a task's) ends, then exports them if that root failed (status
  ``ERROR``, or ``http.response.status_code`` 5xx), ran longer than *slow_ms*, or its request's
  held lines were written (``log.held.written``, set by the flight recorder); otherwise they
  are dropped. Why a request was kept is on its span: ``log.held.written`` (``error``,
  ``slow``, ``unfinished``) when it held lines, else its status code or duration.

Only this service's spans are kept: the services downstream decided on their own, from the
``traceparent`` they received ("not sampled"). Spans are exported with their ``sampled`` flag
off, as recorded.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import TYPE_CHECKING

from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor
from opentelemetry.trace import StatusCode

from otel_context.sampling import RecordSampledOut

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

__all__ = ["KeepNotableTraces", "RecordSampledOut", "why_kept"]

_logger = logging.getLogger(__name__)


def why_kept(span: ReadableSpan, slow_ms: int) -> str:
    """Why the sampled-out trace of local root *span* is kept: ``""`` if it is not."""
    attributes = span.attributes or {}
    status = attributes.get("http.response.status_code", attributes.get("http.status_code", 0))
    if span.status.status_code is StatusCode.ERROR or (isinstance(status, int) and status >= 500):
        return "error"
    written = attributes.get("log.held.written")
    if isinstance(written, str) and written:
        return written
    took_ms = ((span.end_time or 0) - (span.start_time or 0)) / 1_000_000
    return "slow" if slow_ms and took_ms > slow_ms else ""


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
        if root and why_kept(span, self._slow_ms):
            self._idle.clear()
            self._queue.put(spans)

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
