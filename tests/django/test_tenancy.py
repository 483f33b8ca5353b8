"""Right inside a real multi-tenant DRF API (issue 14): late principals, precedence, types.

Real DRF authentication classes run inside the view, behind the real Django handler and
DjangoInstrumentor; resolvers are configured as Flagsmith's issue #7298 asks.
"""

from __future__ import annotations

import http.server
import threading
from typing import TYPE_CHECKING, Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.test import AsyncClient, Client
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from rest_framework.authtoken.models import Token

from otel_context.django.identifiers import authenticated
from otel_context.scope import current_scope
from tests.testapp import tenancy
from tests.testapp.models import Environment, MasterAPIKey, Membership, Organisation

if TYPE_CHECKING:
    from collections.abc import Iterator

    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("instrumented", "tenancy_settings")]
Events = list[dict[str, object]]


@pytest.fixture
def tenancy_settings(settings: Any) -> None:
    settings.OTEL_CONTEXT = {"RESOLVERS": tenancy.RESOLVERS}


@pytest.fixture
def orgs() -> tuple[Organisation, Organisation]:
    return Organisation.objects.create(name="A"), Organisation.objects.create(name="B")


@pytest.fixture
def member(orgs: tuple[Organisation, Organisation]) -> tuple[str, str]:
    """A user of A (first) and B: their token and their pk."""
    user = get_user_model().objects.create_user("member", password="pw")  # noqa: S106
    for org in orgs:
        Membership.objects.create(user=user, organisation=org)
    return Token.objects.create(user=user).key, str(user.pk)


def _span(exporter: InMemorySpanExporter) -> ReadableSpan:
    (span,) = exporter.get_finished_spans()
    return span


def _ids_of(events: Events, key: str) -> list[object]:
    """The value of *key* on every event of the view (the ones after authentication)."""
    return [event.get(key) for event in events if str(event["event"]).startswith("tenant.")]


class TestLatePrincipals:
    def test_token_user_gets_user_id_and_their_organisation(
        self,
        member: tuple[str, str],
        orgs: tuple[Organisation, Organisation],
        events: Events,
        exporter: InMemorySpanExporter,
    ) -> None:
        """Token auth inside the view: user.id and the user's first organisation, as strings."""
        key, pk = member
        response = Client().get("/tenancy/me/", headers={"Authorization": f"Token {key}"})
        assert response.status_code == 200
        first = str(orgs[0].pk)
        assert _ids_of(events, "user.id") == [pk, pk]
        assert _ids_of(events, "organisation.id") == [first, first]
        assert response.json()["identifiers"]["organisation.id"] == first
        attributes = _span(exporter).attributes or {}
        assert (attributes["user.id"], attributes["organisation.id"]) == (pk, first)
        assert current_scope() is None

    def test_api_key_principal_carries_its_organisation_and_no_user(
        self,
        orgs: tuple[Organisation, Organisation],
        events: Events,
        exporter: InMemorySpanExporter,
    ) -> None:
        """A master API key's principal is no user: the key's organisation, no user.id."""
        MasterAPIKey.objects.create(key="mk-1", organisation=orgs[1])
        response = Client().get("/tenancy/me/", headers={"Authorization": "Api-Key mk-1"})
        assert response.status_code == 200
        assert _ids_of(events, "organisation.id") == [str(orgs[1].pk)]
        assert all("user.id" not in event for event in events)
        attributes = _span(exporter).attributes or {}
        assert attributes["organisation.id"] == str(orgs[1].pk)
        assert "user.id" not in attributes

    def test_api_key_principal_under_asgi(
        self,
        orgs: tuple[Organisation, Organisation],
        events: Events,
        exporter: InMemorySpanExporter,
    ) -> None:
        """The same through Django's ASGI handler: the view runs in another context copy."""
        MasterAPIKey.objects.create(key="mk-2", organisation=orgs[1])

        async def fetch() -> int:
            response = await AsyncClient().get(
                "/tenancy/me/", headers={"Authorization": "Api-Key mk-2"}
            )
            return response.status_code

        assert async_to_sync(fetch)() == 200
        assert _ids_of(events, "organisation.id") == [str(orgs[1].pk)]
        assert (_span(exporter).attributes or {})["organisation.id"] == str(orgs[1].pk)
        assert current_scope() is None

    def test_environment_key_in_a_header(
        self,
        orgs: tuple[Organisation, Organisation],
        events: Events,
        exporter: InMemorySpanExporter,
    ) -> None:
        """Looked up by the key in X-Environment-Key: its id; request.auth gives the org."""
        environment = Environment.objects.create(api_key="env-key", organisation=orgs[0])
        response = Client().get("/tenancy/me/", headers={"X-Environment-Key": "env-key"})
        assert response.status_code == 200
        assert _ids_of(events, "environment.id") == [str(environment.pk)]
        assert _ids_of(events, "organisation.id") == [str(orgs[0].pk)]
        attributes = _span(exporter).attributes or {}
        assert attributes["environment.id"] == str(environment.pk)
        assert "user.id" not in attributes

    def test_unknown_key_binds_nothing_and_resolvers_run_once(
        self, events: Events, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """No principal appears: no late run; an unknown environment key finds no id."""
        calls: list[str] = []
        original = tenancy.organisation_of_principal

        def counting(request: Any) -> int | None:
            calls.append("organisation.id")
            return original(request)

        monkeypatch.setattr(tenancy, "organisation_of_principal", counting)
        response = Client().get("/tenancy/me/", headers={"X-Environment-Key": "nope"})
        assert response.status_code == 200
        assert calls == ["organisation.id"]
        assert _ids_of(events, "organisation.id") == [None]
        assert _ids_of(events, "environment.id") == [None]

    def test_a_resolver_runs_at_most_twice(
        self, member: tuple[str, str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """After routing, then once when the principal appears; not again when it changes."""
        calls: list[object] = []

        def late(request: Any) -> None:
            calls.append(request.__dict__.get("auth"))

        monkeypatch.setattr(tenancy, "organisation_of_principal", late)
        key, _ = member
        Client().get("/tenancy/me/", headers={"Authorization": f"Token {key}"})
        assert len(calls) == 2
        assert calls[0] is None
        assert calls[1] is not None

    def test_the_session_is_never_loaded_for_us(self) -> None:
        """Without an authentication header nothing reads the session: no Vary: Cookie."""
        response = Client().get("/tenancy/me/")
        assert response.status_code == 200
        assert "Cookie" not in response.get("Vary", "")


class TestPrecedence:
    def test_two_organisation_user_asking_for_the_second_sees_b_everywhere(
        self,
        member: tuple[str, str],
        orgs: tuple[Organisation, Organisation],
        events: Events,
        exporter: InMemorySpanExporter,
        recorder: tuple[int, list[dict[str, str]]],
    ) -> None:
        """URL says B, the resolver's retry says A (the first): B on lines, span, baggage."""
        key, _ = member
        b = str(orgs[1].pk)
        port, received = recorder
        response = Client().get(
            f"/tenancy/orgs/{b}/",
            {"call": f"http://127.0.0.1:{port}/downstream"},
            headers={"Authorization": f"Token {key}"},
        )
        assert response.status_code == 200
        assert _ids_of(events, "organisation.id") == [b, b, b]
        assert response.json()["identifiers"]["organisation.id"] == b
        server = next(s for s in exporter.get_finished_spans() if s.name.startswith("GET tenancy"))
        assert (server.attributes or {})["organisation.id"] == b
        (headers,) = received
        assert f"organisation.id={b}" in headers["baggage"].split(",")

    def test_over_url_resolver_beats_the_url(
        self,
        member: tuple[str, str],
        orgs: tuple[Organisation, Organisation],
        events: Events,
        settings: Any,
    ) -> None:
        """A resolver configured over_url replaces the URL's id, on its late run too."""
        settings.OTEL_CONTEXT = {
            "RESOLVERS": {
                "organisation.id": {
                    "resolver": tenancy.RESOLVERS["organisation.id"],
                    "over_url": True,
                }
            }
        }
        key, _ = member
        Client().get(f"/tenancy/orgs/{orgs[1].pk}/", headers={"Authorization": f"Token {key}"})
        assert _ids_of(events, "organisation.id")[0] == str(orgs[0].pk)


class TestSpanAttributesTheAppSets:
    def test_set_after_our_bind_is_overwritten_at_the_response(
        self,
        member: tuple[str, str],
        orgs: tuple[Organisation, Organisation],
        events: Events,
        exporter: InMemorySpanExporter,
    ) -> None:
        """The view sets organisation.id=<int> on the span: the bound id (a str) wins."""
        key, _ = member
        b = str(orgs[1].pk)
        Client().get(
            f"/tenancy/orgs/{b}/",
            {"set_attribute": "12345"},
            headers={"Authorization": f"Token {key}"},
        )
        assert (_span(exporter).attributes or {})["organisation.id"] == b
        assert set(_ids_of(events, "organisation.id")) == {b}

    def test_set_before_our_bind_is_replaced_by_it(
        self,
        member: tuple[str, str],
        orgs: tuple[Organisation, Organisation],
        events: Events,
        exporter: InMemorySpanExporter,
    ) -> None:
        """Set before authentication: the late resolver's id replaces it, as a string."""
        key, _ = member
        Client().get(
            "/tenancy/me/", {"set_before": "12345"}, headers={"Authorization": f"Token {key}"}
        )
        assert (_span(exporter).attributes or {})["organisation.id"] == str(orgs[0].pk)
        assert set(_ids_of(events, "organisation.id")) == {str(orgs[0].pk)}

    def test_unbound_key_is_kept_as_a_string(
        self, exporter: InMemorySpanExporter, events: Events
    ) -> None:
        """Nothing bound organisation.id: the app's int stays, as "12345"."""
        Client().get("/tenancy/me/", {"set_attribute": "12345"})
        assert (_span(exporter).attributes or {})["organisation.id"] == "12345"


class TestBadInput:
    @pytest.mark.parametrize("resolver", ["raising_resolver", "wrong_type_resolver"])
    def test_broken_resolver_on_a_late_principal_loses_only_its_id(
        self,
        resolver: str,
        member: tuple[str, str],
        events: Events,
        settings: Any,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        """It raises (or gives a dict) on the late run: logged, the others and the line go on."""
        settings.OTEL_CONTEXT = {
            "RESOLVERS": {**tenancy.RESOLVERS, "tenant.id": f"tests.testapp.tenancy.{resolver}"}
        }
        key, pk = member
        response = Client().get("/tenancy/me/", headers={"Authorization": f"Token {key}"})
        assert response.status_code == 200
        first = Membership.objects.order_by("id").values_list("organisation_id", flat=True)[0]
        assert _ids_of(events, "organisation.id") == [str(first)] * 2
        assert _ids_of(events, "user.id") == [pk, pk]
        assert _ids_of(events, "tenant.id") == [None, None]
        assert "resolver for 'tenant.id'" in caplog.text


class TestAuthenticated:
    def test_any_authenticated_principal_or_drf_auth_counts(self) -> None:
        """request.auth, or a principal whose is_authenticated is true; a raising one is not."""

        class Raising:
            @property
            def is_authenticated(self) -> bool:
                raise RuntimeError

        key = MasterAPIKey(key="k")
        assert authenticated(tenancy.APIKeyUser(key), None)
        assert authenticated(None, key)
        assert not authenticated(AnonymousUser(), None)
        assert not authenticated(None, None)
        assert not authenticated(object(), None)
        assert not authenticated(Raising(), None)


class _Recorder(http.server.BaseHTTPRequestHandler):
    received: list[dict[str, str]] = []  # noqa: RUF012 - shared by the server's threads on purpose

    def do_GET(self) -> None:
        self.received.append({k.lower(): v for k, v in self.headers.items()})
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recorder(instrumented: TracerProvider) -> Iterator[tuple[int, list[dict[str, str]]]]:
    """A real HTTP server on 127.0.0.1 recording headers; instrumented ``requests``."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    _Recorder.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    RequestsInstrumentor().instrument(tracer_provider=instrumented)
    yield server.server_address[1], _Recorder.received
    RequestsInstrumentor().uninstrument()
    server.shutdown()
    server.server_close()
