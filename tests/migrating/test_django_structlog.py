"""docs/migrating.md, django-structlog: its fields map onto ours; left in place, it coexists.

Real ``django_structlog.middlewares.RequestMiddleware`` in the test project's middleware, the
real Django handler and DjangoInstrumentor, structlog configured as in the README.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import pytest

from tests._packages import require
from tests.migrating.conftest import logged_in, middleware

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

require("django-structlog", "django_structlog.middlewares")

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("instrumented", "migrating_urls"),
]

PEER = "django_structlog.middlewares.RequestMiddleware"
OUTER = "tests.migrating.views.LogAfterInnerMiddleware"
PATH = "/orgs/7/work/"
Events = list[dict[str, object]]


def _event(events: Events, name: str) -> dict[str, object]:
    (event,) = [event for event in events if event["event"] == name]
    return event


class TestRecipe:
    @pytest.mark.parametrize(
        "case",
        [
            ("DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID", "X-Request-ID", {}),
            (
                "DJANGO_STRUCTLOG_TRUST_UPSTREAM_CORRELATION_ID",
                "X-Correlation-ID",
                {"CORRELATION_ID_HEADERS": ["X-Correlation-ID", "X-Request-ID"]},
            ),
        ],
    )
    def test_same_ids_under_our_names(
        self, settings: Any, alice: Any, events: Events, case: tuple[str, str, dict[str, object]]
    ) -> None:
        """Before: ``request_id``/``correlation_id`` and ``user_id``; after: the same values
        as ``correlation.id`` and ``user.id`` (a string), and no peer fields left.
        """
        peer_setting, header, ours = case
        sent = str(uuid.uuid4())
        peer_field = "request_id" if header == "X-Request-ID" else "correlation_id"
        setattr(settings, peer_setting, True)
        settings.MIDDLEWARE = middleware(after_auth=(PEER,))
        logged_in(alice).get(PATH, headers={header: sent})
        before = _event(events, "work.done")
        assert (before[peer_field], before["user_id"]) == (sent, alice.pk)

        events.clear()
        settings.MIDDLEWARE = middleware()  # the recipe: RequestMiddleware removed
        settings.OTEL_CONTEXT = {**settings.OTEL_CONTEXT, **ours}
        logged_in(alice).get(PATH, headers={header: sent})
        after = _event(events, "work.done")
        assert (after["correlation.id"], after["user.id"]) == (sent, str(alice.pk))
        assert not {"request_id", "correlation_id", "user_id", "ip"} & after.keys()
        assert [event["event"] for event in events] == ["work.done"]


class TestCoexistence:
    def test_clear_contextvars_leaves_our_scope(
        self, settings: Any, alice: Any, events: Events, exporter: InMemorySpanExporter
    ) -> None:
        """Its ``clear_contextvars()`` at the end of the request wipes its own fields only:
        a line logged after it still has our ids, the span and the response header too.
        """
        settings.DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID = True
        settings.MIDDLEWARE = middleware(first=(OUTER,), after_auth=(PEER,))
        sent = str(uuid.uuid4())
        response = logged_in(alice).get(PATH, headers={"X-Request-ID": sent})
        ours = {"correlation.id": sent, "user.id": str(alice.pk), "organisation.id": "7"}
        outer = _event(events, "outer.response")
        assert {key: outer.get(key) for key in ours} == ours
        assert outer["order.id"] == "17"  # bound with otel_context.bind() in the view
        assert "request_id" not in outer, "control: django-structlog did clear its own fields"
        assert response["X-Request-ID"] == sent
        (span,) = exporter.get_finished_spans()
        assert span.attributes is not None
        assert {key: span.attributes.get(key) for key in ours} == ours

    def test_lines_carry_both_sets_without_conflict(
        self, settings: Any, alice: Any, events: Events
    ) -> None:
        """Its request lines and the view's line carry its fields and ours, all agreeing."""
        settings.DJANGO_STRUCTLOG_TRUST_UPSTREAM_REQUEST_ID = True
        settings.MIDDLEWARE = middleware(after_auth=(PEER,))
        sent = str(uuid.uuid4())
        logged_in(alice).get(PATH, headers={"X-Request-ID": sent})
        names = [event["event"] for event in events]
        assert names == ["request_started", "work.done", "request_finished"]
        for event in events:
            assert event["request_id"] == event["correlation.id"] == sent
            assert event["trace_id"] == events[0]["trace_id"]
        finished = _event(events, "request_finished")
        assert finished["user_id"] == alice.pk
        assert finished["user.id"] == str(alice.pk)
        assert _event(events, "work.done")["order.id"] == "17"
