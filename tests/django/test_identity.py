"""user.id comes from authentication only: never from the client, never at a side effect's cost."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("instrumented")]


class TestSessionUser:
    def test_user_id_on_events_and_span_once_the_view_loads_the_user(
        self,
        alice_client: tuple[Client, str],
        events: list[dict[str, object]],
        exporter: InMemorySpanExporter,
    ) -> None:
        """A view that reads request.user: user.id on its events and on the span."""
        client, pk = alice_client
        events.clear()
        exporter.clear()
        client.get("/whoami/")
        (event,) = events
        assert event["user.id"] == pk
        (span,) = exporter.get_finished_spans()
        assert span.attributes is not None
        assert span.attributes["user.id"] == pk

    def test_each_line_follows_the_user_through_the_request(
        self, alice_client: tuple[Client, str], events: list[dict[str, object]]
    ) -> None:
        """Loaded late, replaced by ``login()``, gone after ``logout()``: each line says so."""
        client, alice = alice_client
        bob = str(get_user_model().objects.create_user("bob", password="pw").pk)  # noqa: S106
        events.clear()
        client.get("/user-changes/bob/")
        seen = {event["event"]: event.get("user.id") for event in events}
        assert seen == {
            "user.unloaded": None,
            "user.loaded": alice,
            "user.switched": bob,
            "user.gone": None,
        }

    def test_anonymous_binds_no_user(self, events: list[dict[str, object]]) -> None:
        """An anonymous request has no user.id anywhere."""
        response = Client().get("/whoami/")
        assert "user.id" not in response.json()["identifiers"]
        assert all("user.id" not in event for event in events)

    def test_view_that_never_touches_the_user_gets_no_vary_cookie(
        self, alice_client: tuple[Client, str]
    ) -> None:
        """We never load the session ourselves, so no Vary: Cookie appears because of us."""
        client, _ = alice_client
        response = client.get("/plain/")
        assert "Cookie" not in response.get("Vary", "")
        assert "user.id" not in response.json()["identifiers"]
        touched = client.get("/whoami/")
        assert "Cookie" in touched["Vary"], "control: a view that loads the user does vary"


class TestSpoofedBaggage:
    SPOOF = "user.id=42,organisation.id=7,correlation.id=evil,project.id=3"

    def test_anonymous_request_cannot_claim_ids_through_baggage(
        self, events: list[dict[str, object]], exporter: InMemorySpanExporter
    ) -> None:
        """baggage: user.id=42 on an anonymous request: no line or span claims user 42."""
        response = Client().get("/whoami/", headers={"baggage": self.SPOOF})
        assert response.json()["identifiers"]["correlation.id"] != "evil"
        (span,) = exporter.get_finished_spans()
        assert span.attributes is not None
        for claimed in (events[0], dict(span.attributes), response.json()["identifiers"]):
            assert "user.id" not in claimed
            assert "organisation.id" not in claimed
            assert "project.id" not in claimed
            assert claimed.get("correlation.id") != "evil"
        assert span.attributes["otel_context.baggage.dropped"] == 4

    def test_authenticated_request_server_ids_win(
        self,
        alice_client: tuple[Client, str],
        events: list[dict[str, object]],
        exporter: InMemorySpanExporter,
    ) -> None:
        """Same spoofed header when authenticated: the server's ids everywhere."""
        client, pk = alice_client
        events.clear()
        exporter.clear()
        client.get("/orgs/1/projects/p1/", headers={"baggage": self.SPOOF})
        client.get("/whoami/", headers={"baggage": self.SPOOF})
        assert events
        for event in events:
            assert event.get("user.id") in {None, pk}
            assert event.get("organisation.id") in {None, "1"}
        whoami = [e for e in events if e["event"] == "view.whoami"]
        assert whoami[0]["user.id"] == pk


class TestResolverRetry:
    def test_a_resolver_finding_nothing_after_login_keeps_url_kwarg_ids(
        self,
        alice_client: tuple[Client, str],
        events: list[dict[str, object]],
        settings: pytest.FixtureRequest,
    ) -> None:
        """Regression: the retry after a late user load must not unbind ids it did not find."""
        settings.OTEL_CONTEXT = {  # type: ignore[attr-defined]
            "URL_KWARGS": {"organisation_pk": "organisation.id"},
            "RESOLVERS": {"organisation.id": "tests.testapp.identifiers.tenant_from_header"},
        }
        client, pk = alice_client
        events.clear()
        client.get("/orgs/5/whoami/")
        (event,) = events
        assert event["user.id"] == pk
        assert event["organisation.id"] == "5"
