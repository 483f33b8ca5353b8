"""background(): a unit of work outside a request gets a span, a correlation id and a scope."""

from __future__ import annotations

import structlog
from opentelemetry import trace

import otel_context
from otel_context import task_carrier as tasks
from otel_context.work import background

log = structlog.get_logger("tests.work")


class TestBackground:
    def test_a_correlation_id_and_the_given_ids_inside_nothing_after(
        self, events: list[dict[str, object]]
    ) -> None:
        """Inside: a generated correlation id and the given ids as strings; after: nothing."""
        with background("nightly", organisation__id=7):
            log.info("job.ran")
        (event,) = events
        assert event["organisation.id"] == "7"
        assert isinstance(event["correlation.id"], str)
        assert len(event["correlation.id"]) == 32
        assert otel_context.get_identifiers() == {}

    def test_call_site_values_of_configured_keys_are_strings(
        self, events: list[dict[str, object]]
    ) -> None:
        """A configured key (RESOLVERS' tenant.id) passed as an int at a call site logs a string."""
        with background("nightly"):
            log.info("job.ran", tenant__id=3, other=4)
        (event,) = events
        assert event["tenant.id"] == "3"
        assert event["other"] == 4


class TestRestoredTaskKeys:
    def test_call_site_values_of_configured_keys_are_strings_in_a_task(
        self, events: list[dict[str, object]]
    ) -> None:
        """In a restored task, a configured key passed as an int at a call site logs a string."""
        with tasks.restore(None):
            assert trace.get_current_span() is not None
            log.info("task.ran", tenant__id=3)
        (event,) = events
        assert event["tenant.id"] == "3"
