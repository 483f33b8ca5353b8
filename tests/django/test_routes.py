"""Route-scoped ``URL_KWARGS`` through the real Django handler, DRF routers and OTel (22.4).

Every DRF router route calls its id ``pk``: ``tenant.id`` must come from the tenant routes'
``pk`` only, never a site's or a device's, and the nested kwargs bind as they always did.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from django.core import checks
from django.test import Client

from tests.testapp import routes

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

pytestmark = [pytest.mark.usefixtures("instrumented", "routed")]

#: Path -> the identifiers its lines and span carry (beyond correlation.id).
EXPECTED = {
    "/api/tenants/7/": {"tenant.id": "7"},
    "/api/tenants/": {},
    "/api/sites/9/": {"site.id": "9"},
    "/api/devices/4/": {},
    "/api/organisations/3/projects/5/": {"organisation.id": "3", "project.id": "5"},
    "/api/organisations/3/projects/5/environments/11/": {
        "organisation.id": "3",
        "project.id": "5",
        "environment.id": "11",
    },
}
DERIVED = {"tenant.id", "site.id", "organisation.id", "project.id", "environment.id"}


@pytest.fixture
def routed(settings: Any) -> None:
    settings.ROOT_URLCONF = "tests.testapp.routes"
    settings.OTEL_CONTEXT = {"URL_KWARGS": routes.URL_KWARGS}


def _derived(values: dict[str, object]) -> dict[str, object]:
    return {key: value for key, value in values.items() if key in DERIVED}


class TestRouteScopedUrlKwargs:
    @pytest.mark.parametrize(("path", "expected"), EXPECTED.items())
    def test_each_route_binds_its_own_pk(
        self,
        path: str,
        expected: dict[str, str],
        events: list[dict[str, object]],
        exporter: InMemorySpanExporter,
    ) -> None:
        """``pk`` binds tenant.id on tenant routes only; nested kwargs bind as before."""
        response = Client().get(path)

        assert response.status_code == 200
        assert _derived(response.json()["identifiers"]) == expected
        assert len(events) == 1
        assert _derived(events[0]) == expected
        (span,) = exporter.get_finished_spans()
        assert _derived(dict(span.attributes or {})) == expected

    def test_the_environment_form_scopes_too(
        self, settings: Any, monkeypatch: pytest.MonkeyPatch, events: list[dict[str, object]]
    ) -> None:
        """``OTEL_CONTEXT_URL_KWARGS`` takes the same keys: ``pk@tenant-*=tenant.id``."""
        settings.OTEL_CONTEXT = {}
        monkeypatch.setenv(
            "OTEL_CONTEXT_URL_KWARGS",
            "organisation_pk=organisation.id, pk@tenant-*=tenant.id,"
            " pk@view:tests.testapp.routes.*=other.id",
        )
        client = Client()
        tenant = client.get("/api/tenants/7/").json()["identifiers"]
        site = client.get("/api/sites/9/").json()["identifiers"]
        project = client.get("/api/organisations/3/projects/5/").json()["identifiers"]

        assert (tenant.get("tenant.id"), tenant.get("other.id")) == ("7", None)
        assert (site.get("tenant.id"), site.get("other.id")) == (None, "9")
        assert (project["organisation.id"], project["other.id"]) == ("3", "5")

    def test_an_unscoped_rule_is_the_fallback(
        self, settings: Any, events: list[dict[str, object]]
    ) -> None:
        """A plain ``pk`` rule applies on the routes no scoped ``pk`` rule names."""
        settings.OTEL_CONTEXT = {"URL_KWARGS": {"pk@tenant-*": "tenant.id", "pk": "object.id"}}
        client = Client()
        tenant = client.get("/api/tenants/7/").json()["identifiers"]
        device = client.get("/api/devices/4/").json()["identifiers"]

        assert (tenant.get("tenant.id"), tenant.get("object.id")) == ("7", None)
        assert (device.get("tenant.id"), device.get("object.id")) == (None, "4")

    def test_a_view_that_cannot_be_a_cache_key_still_gets_its_rules(
        self, events: list[dict[str, object]]
    ) -> None:
        """An unhashable view object: its route's rules are worked out on every request."""
        for _ in range(2):
            response = Client().get("/unhashable/8/")
            assert response.json()["identifiers"]["tenant.id"] == "8"

    def test_a_tenant_id_in_inbound_baggage_is_dropped(
        self, events: list[dict[str, object]]
    ) -> None:
        """A scoped rule's attribute is server-owned: a client cannot claim it on a site route."""
        response = Client().get("/api/sites/9/", headers={"baggage": "tenant.id=666"})

        assert "tenant.id" not in response.json()["identifiers"]
        assert all("tenant.id" not in event for event in events)


class TestMalformedRouteScope:
    @pytest.mark.parametrize(
        ("key", "fragment"),
        [
            ("pk@", "the name after '@' is empty"),
            ("@tenant-*", "URL kwarg name before '@'"),
            ("pk@view:myapp/views", "is not a dotted path"),
        ],
    )
    def test_is_an_e002_message_naming_the_entry(
        self, settings: Any, key: str, fragment: str
    ) -> None:
        """``manage.py check`` reports a malformed route scope as E002, naming option and key."""
        settings.OTEL_CONTEXT = {"URL_KWARGS": {key: "tenant.id"}}
        messages = [m for m in checks.run_checks() if m.id == "otel_context.E002"]

        assert len(messages) == 1
        assert f"OTEL_CONTEXT['URL_KWARGS'][{key!r}]" in messages[0].msg
        assert fragment in messages[0].msg
