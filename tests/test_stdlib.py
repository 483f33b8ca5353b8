"""OTelContextFilter: the same fields on plain stdlib records."""

from __future__ import annotations

import logging

from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

from otel_context import OTelContextFilter
from otel_context.scope import RequestScope, scoped
from otel_context.stdlib import STANDARD_RECORD_ATTRIBUTES

FORMAT = "%(trace_id)s %(span_id)s %(correlation_id)s %(user_id)s %(message)s"


def _record(**extra: object) -> logging.LogRecord:
    record = logging.LogRecord("app", logging.INFO, __file__, 1, "hello", (), None)
    record.__dict__.update(extra)
    return record


class TestOTelContextFilter:
    def test_defaults_outside_a_request_so_format_strings_never_fail(self) -> None:
        """Every standard attribute exists, set to the default."""
        record = _record()
        assert OTelContextFilter().filter(record) is True
        assert logging.Formatter(FORMAT).format(record) == "- - - - hello"
        for name in STANDARD_RECORD_ATTRIBUTES:
            assert getattr(record, name) == "-"

    def test_ids_inside_a_request(self, tracer: trace.Tracer) -> None:
        """trace ids and identifiers, underscored for format strings."""
        record = _record()
        with (
            tracer.start_as_current_span("req") as span,
            scoped(
                RequestScope(span), **{"correlation.id": "c-9", "user.id": "5", "tenant.id": "t"}
            ),
        ):
            OTelContextFilter(default="").filter(record)
        ctx = span.get_span_context()
        line = logging.Formatter(FORMAT).format(record)
        assert line == f"{ctx.trace_id:032x} {ctx.span_id:016x} c-9 5 hello"
        assert record.tenant_id == "t"  # type: ignore[attr-defined]
        assert record.organisation_id == ""  # type: ignore[attr-defined]

    def test_extra_wins(self, tracer: trace.Tracer) -> None:
        """A value passed with extra= is not overwritten."""
        record = _record(user_id="from-extra")
        with tracer.start_as_current_span("req") as span, scoped(RequestScope(span), user__id="5"):
            OTelContextFilter().filter(record)
        assert record.user_id == "from-extra"  # type: ignore[attr-defined]

    def test_extra_identifier_values_become_strings(self, tracer: trace.Tracer) -> None:
        """extra={'organisation_id': 7} wins as "7": one type per identifier on every record."""
        inside, outside = _record(organisation_id=7, user_id=None), _record(project_id=12)
        with tracer.start_as_current_span("req") as span, scoped(RequestScope(span), user__id="5"):
            OTelContextFilter().filter(inside)
        OTelContextFilter().filter(outside)
        assert inside.organisation_id == "7"  # type: ignore[attr-defined]
        assert inside.user_id == "5"  # type: ignore[attr-defined]
        assert outside.project_id == "12"  # type: ignore[attr-defined]

    def test_configured_identifier_from_extra_is_a_string_too(self, tracer: trace.Tracer) -> None:
        """A key URL_KWARGS/RESOLVERS name (the scope's keys), not bound here: "3", not 3."""
        record = _record(tenant_id=3, other_id=4)
        with tracer.start_as_current_span("req") as span, scoped(RequestScope(span)) as scope:
            scope.keys = frozenset({"tenant.id"})
            scope.bind({"user.id": "5"})
            OTelContextFilter().filter(record)
        assert record.tenant_id == "3"  # type: ignore[attr-defined]
        assert record.other_id == 4, "not an identifier: left alone"  # type: ignore[attr-defined]

    def test_ecs_names_on_the_record(self, tracer: trace.Tracer) -> None:
        """field_names='ecs' puts ECS names on the record for JSON formatters."""
        record = _record()
        with (
            tracer.start_as_current_span("req") as span,
            scoped(RequestScope(span), **{"correlation.id": "c-9", "user.id": "5"}),
        ):
            OTelContextFilter(field_names="ecs").filter(record)
        assert record.__dict__["http.request.id"] == "c-9"
        assert record.__dict__["trace.id"] == f"{span.get_span_context().trace_id:032x}"
        assert record.__dict__["trace.sampled"] is True
        assert "user_id" not in record.__dict__

    def test_trace_sampled_for_sampled_and_sampled_out_requests(self, tracer: trace.Tracer) -> None:
        """%(trace_sampled)s is the span's sampled flag: True when kept, False when dropped."""
        dropped = TracerProvider(sampler=ALWAYS_OFF, shutdown_on_exit=False).get_tracer("tests")
        lines = []
        for source in (tracer, dropped):
            record = _record()
            with source.start_as_current_span("req") as span, scoped(RequestScope(span)):
                OTelContextFilter().filter(record)
            lines.append(logging.Formatter("%(trace_sampled)s %(message)s").format(record))
            assert record.trace_id == f"{span.get_span_context().trace_id:032x}"  # type: ignore[attr-defined]
        assert lines == ["True hello", "False hello"]
