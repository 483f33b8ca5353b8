"""Figure A's variants: each way of putting trace ids and identifiers on a structlog event.

Each variant is processors for the bare pipeline (or contextvars bindings), what the rendered
event must then contain, and a note on what it does not do.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import structlog
from opentelemetry import baggage, trace
from opentelemetry import context as otel_context
from opentelemetry.sdk._logs import LogRecordProcessor, ReadWriteLogRecord

from otel_context import StructlogOTelProcessor
from otel_context.processors import _SPAN_KEY, _current_context

if TYPE_CHECKING:
    from collections.abc import Callable, MutableMapping

    from opentelemetry.trace import Span
    from structlog.typing import Processor

IDS: dict[str, str] = {
    "correlation.id": uuid.UUID(int=0x5EED).hex,
    "user.id": "42",
    "organisation.id": "7",
    "project.id": "12",
    "environment.id": "99",
}
TRACE_KEYS = ("trace_id", "span_id")
#: What otel_context adds to each event here (``trace_sampled`` included), as constants.
FLOOR_FIELDS: dict[str, object] = {
    "trace_id": "0" * 31 + "1",
    "span_id": "0" * 15 + "1",
    "trace_sampled": True,
    **IDS,
}
DJANGO_STRUCTLOG_FIELDS: dict[str, object] = {
    "request_id": str(uuid.UUID(int=0xD5)),
    "user_id": 42,
    "ip": "127.0.0.1",
}
BASELINE = "bare"
Expect = Mapping[str, object]
#: The request's identifiers in the context, put there once a request for the derivation floor
#: (figure A's request environment, A″'s view): the least a processor must find per event.
DERIVED_KEY: Final = otel_context.create_key("benchmarks.derived_fields")
#: The derivation floor's one-entry cache: (the ids found, the span, their fields).
_derived_last: list[tuple[object, object, dict[str, object]]] = [(None, None, {})]


@dataclass(frozen=True, slots=True)
class EventVariant:
    """One way of putting ids on an event: its processors and its contextvars bindings."""

    key: str
    label: str
    #: Inserted right after ``merge_contextvars`` / right before the renderer.
    early: tuple[Processor, ...] = ()
    late: tuple[Processor, ...] = ()
    bound: Callable[[Span], Mapping[str, object]] = lambda _span: {}
    #: What the rendered event must contain, given (request span, child span).
    expect: Callable[[Span, Span], Expect] = lambda _req, _child: {}
    absent: tuple[str, ...] = ()
    extra_check: Callable[[Span], str | None] | None = None
    note: str = ""

    def processors(self) -> list[Processor]:
        """The bare pipeline with this variant's processors in place."""
        return [
            structlog.contextvars.merge_contextvars,
            *self.early,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            *self.late,
            structlog.processors.JSONRenderer(),
        ]


def hex_ids(span: Span) -> Expect:
    """``trace_id`` and ``span_id`` of *span* as the processors format them."""
    ctx = span.get_span_context()
    return {"trace_id": f"{ctx.trace_id:032x}", "span_id": f"{ctx.span_id:016x}"}


def add_floor_fields(logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> Any:
    """The floor: the same eight fields as constants, no lookup at all."""
    event_dict.update(FLOOR_FIELDS)
    return event_dict


def add_derived_fields(logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> Any:
    """The derivation floor per event: the request's ids and the current span's ids, found in
    the context, their fields cached for the last (ids, span); call-site keys overwritten.

    What any processor that takes the values from the request (not constants) pays at least:
    one context read, two lookups, one comparison and one ``dict.update``. It leaves out
    otel_context's rules (call-site keys winning, the type rule, the scope's state, lazy ids).
    """
    ctx = _current_context()
    found = ctx.get(DERIVED_KEY)
    if found is not None:
        span = ctx.get(_SPAN_KEY)
        last = _derived_last[0]
        if last[0] is not found or last[1] is not span:
            ids = span.get_span_context()
            trace_fields = {
                "trace_id": format(ids.trace_id, "032x"),
                "span_id": format(ids.span_id, "016x"),
                "trace_sampled": ids.trace_flags.sampled,
            }
            last = _derived_last[0] = (found, span, {**trace_fields, **found})
        event_dict.update(last[2])
    return event_dict


def add_trace_and_baggage(logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> Any:
    """The naive pattern: read the current span and copy all baggage on every event.

    As Flagsmith's ``add_otel_trace_context`` plus its baggage copy (``flagsmith-common``
    ``core/otel.py``).
    """
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        event_dict["trace_id"] = format(ctx.trace_id, "032x")
        event_dict["span_id"] = format(ctx.span_id, "016x")
    for key, value in baggage.get_all(otel_context.get_current()).items():
        event_dict[key] = str(value)
    return event_dict


def core_variants() -> list[EventVariant]:
    """Bare, floor, otel_context, contextvars, naive and django-structlog's bindings."""
    return [
        EventVariant(BASELINE, "bare pipeline (baseline)", absent=TRACE_KEYS),
        EventVariant(
            "floor",
            "(1) floor: the same 8 fields as constants",
            early=(add_floor_fields,),
            expect=lambda _req, _child: FLOOR_FIELDS,
        ),
        EventVariant(
            "derived",
            "(1′) derivation floor: the same fields found in the context (no rules)",
            early=(add_derived_fields,),
            expect=lambda _req, child: {**hex_ids(child), "trace_sampled": True, **IDS},
        ),
        EventVariant(
            "otel_context",
            "(2) otel_context `StructlogOTelProcessor`",
            early=(StructlogOTelProcessor(),),
            expect=lambda _req, child: {**hex_ids(child), "trace_sampled": True, **IDS},
        ),
        EventVariant(
            "contextvars",
            "(3) `bind_contextvars` of the same 7 keys",
            bound=lambda span: {**hex_ids(span), **IDS},
            expect=lambda req, _child: {**hex_ids(req), **IDS},
            note="ids bound once per request: span_id stays the request span's inside a child",
        ),
        EventVariant(
            "naive",
            "(4) naive: current span + copy of 5 baggage entries",
            early=(add_trace_and_baggage,),
            expect=lambda _req, child: {**hex_ids(child), **IDS},
        ),
        EventVariant(
            "django_structlog",
            "(6) django-structlog: `bind_contextvars` request_id, user_id, ip",
            bound=lambda _span: DJANGO_STRUCTLOG_FIELDS,
            expect=lambda _req, _child: DJANGO_STRUCTLOG_FIELDS,
            absent=TRACE_KEYS,
            note="binds no trace ids and none of the 5 identifiers except the user's",
        ),
    ]


def bridge_variant() -> EventVariant | None:
    """opentelemetry-instrumentation-structlog's ``StructlogProcessor``, if installed."""
    try:
        from opentelemetry.instrumentation.structlog import (  # noqa: PLC0415
            StructlogProcessor,
        )
        from opentelemetry.sdk._logs import LoggerProvider  # noqa: PLC0415
    except ImportError:
        return None
    last = _LastRecord()
    provider = LoggerProvider()
    provider.add_log_record_processor(last)
    # Its __call__ is typed for dict, not MutableMapping; structlog passes a dict.
    bridge: Processor = StructlogProcessor(logger_provider=provider)  # type: ignore[no-untyped-call, assignment]

    def check(child: Span) -> str | None:
        record = last.record
        span_id = getattr(getattr(record, "log_record", record), "span_id", None)
        if span_id != child.get_span_context().span_id:
            return f"bridge LogRecord span_id {span_id!r} is not the child span's"
        return None

    return EventVariant(
        "otel_bridge",
        "(5) opentelemetry-instrumentation-structlog `StructlogProcessor`",
        late=(bridge,),
        absent=TRACE_KEYS,
        extra_check=check,
        note="emits an OTel LogRecord (SDK LoggerProvider, processor keeps only the last record);"
        " adds nothing to the rendered line",
    )


class _LastRecord(LogRecordProcessor):
    """A log record processor that keeps the last record and exports nothing."""

    record: ReadWriteLogRecord | None = None

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        self.record = log_record

    def shutdown(self) -> None:
        """Nothing to release."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def variants() -> list[EventVariant]:
    """Every variant available in this environment, baseline first."""
    found = core_variants()
    bridge = bridge_variant()
    if bridge is not None:
        found.insert(len(found) - 1, bridge)
    return found
