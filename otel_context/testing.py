"""Test helpers: capture structlog events and finished spans, and assert on their ids.

Used by the pytest plugin (``otel_context.pytest_plugin``, fixture ``otel_capture``) and usable
on their own::

    with capture_telemetry() as telemetry:
        client.get("/projects/1/")
    telemetry.assert_events_carry(user__id="42", organisation__id="7")

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import structlog
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_context.attributes import dotted
from otel_context.processors import StructlogOTelProcessor, is_renderer

if TYPE_CHECKING:
    from collections.abc import Iterator, MutableMapping

Event = dict[str, Any]
_lock = threading.Lock()
_exporter: InMemorySpanExporter | None = None


def span_exporter() -> InMemorySpanExporter:
    """An in-memory exporter on the global SDK tracer provider (installing one if none is)."""
    global _exporter  # noqa: PLW0603 - one exporter per process, added to the provider once
    with _lock:
        if _exporter is None:
            provider = trace.get_tracer_provider()
            if not isinstance(provider, TracerProvider):
                provider = TracerProvider()
                trace.set_tracer_provider(provider)
            _exporter = InMemorySpanExporter()
            provider.add_span_processor(SimpleSpanProcessor(_exporter))
        return _exporter


@dataclass
class CapturedTelemetry:
    """What a block emitted: structlog event dicts (after otel_context's processor) and spans."""

    events: list[Event] = field(default_factory=list)
    exporter: InMemorySpanExporter | None = None

    @property
    def spans(self) -> tuple[ReadableSpan, ...]:
        """Spans that finished during the block."""
        return tuple(self.exporter.get_finished_spans()) if self.exporter else ()

    def events_for(self, response: Any, header: str = "Correlation-Id") -> list[Event]:
        """The events of the request whose *response* echoed its correlation id in *header*."""
        correlation_id = response[header] if hasattr(response, "__getitem__") else None
        return [event for event in self.events if event.get("correlation.id") == correlation_id]

    def assert_events_carry(self, events: list[Event] | None = None, **ids: object) -> None:
        """Assert every event (or every one of *events*) carries each of *ids*.

        Keys may use ``__`` for dots. Raises AssertionError naming each offending event (an
        explicit raise, so it also works under ``python -O``).
        """
        checked = self.events if events is None else events
        if not checked:
            msg = "no events were captured"
            raise AssertionError(msg)
        expected = {dotted(key): str(value) for key, value in ids.items()}
        wrong = [
            f"{event.get('event')!r}: {key}={event.get(key)!r}, expected {value!r}"
            for event in checked
            for key, value in expected.items()
            if event.get(key) != value
        ]
        if wrong:
            raise AssertionError("events without the expected ids:\n  " + "\n  ".join(wrong))

    def assert_span_has(self, name: str, **attributes: object) -> ReadableSpan:
        """Assert a finished span called *name* has *attributes* (``__`` for dots); return it."""
        spans = [span for span in self.spans if span.name == name]
        if not spans:
            msg = f"no finished span named {name!r}: {[s.name for s in self.spans]}"
            raise AssertionError(msg)
        actual = dict(spans[-1].attributes or {})
        for key, value in attributes.items():
            found = actual.get(dotted(key))
            if found != value:
                msg = f"{name}: {dotted(key)}={found!r}, expected {value!r}"
                raise AssertionError(msg)
        return spans[-1]


class _Capture:
    def __init__(self, sink: list[Event]) -> None:
        self.sink = sink

    def __call__(self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> Any:
        self.sink.append({**event_dict, "log_level": method_name})
        raise structlog.DropEvent


@contextmanager
def capture_telemetry(*, spans: bool = True) -> Iterator[CapturedTelemetry]:
    """Capture structlog events and finished spans for a block, in a fresh OTel context.

    structlog keeps its configured processors up to the renderer; events are captured in
    place of rendering, after ``StructlogOTelProcessor`` (added if the chain lacks it).
    """
    captured = CapturedTelemetry(exporter=span_exporter() if spans else None)
    if captured.exporter is not None:
        captured.exporter.clear()
    previous = structlog.get_config()
    chain = list(previous["processors"])
    while chain and is_renderer(chain[-1]):
        chain.pop()
    if not any(isinstance(p, StructlogOTelProcessor) for p in chain):
        chain.append(StructlogOTelProcessor())
    structlog.configure(processors=[*chain, _Capture(captured.events)])
    token = otel_context.attach(otel_context.Context())
    try:
        yield captured
    finally:
        otel_context.detach(token)
        structlog.configure(**previous)
