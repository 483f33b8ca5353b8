"""``URL_KWARGS`` keys scoped to routes: parsing, bad input, which rule a route gets (22.4)."""

from __future__ import annotations

from typing import Any

import pytest

from otel_context import conf
from otel_context._url_kwargs import Route, UrlKwargs, as_url_kwargs, parse_selector
from tests.testapp import routes

OPTION = "OTEL_CONTEXT['URL_KWARGS']"
TENANT = Route("tenant-detail", "api", "api/tenants/(?P<pk>[^/.]+)/$", "app.views.TenantViewSet")
SITE = Route("site-detail", "api", "api/sites/(?P<pk>[^/.]+)/$", "app.views.SiteViewSet")
UNNAMED = Route(None, "", "things/<int:pk>/", "app.views.thing")


def _parse(value: object) -> UrlKwargs:
    return as_url_kwargs(value, OPTION)


class TestParse:
    def test_unscoped_keys_are_as_before(self) -> None:
        """A plain kwarg key has no scope and is found by kwarg, as on main."""
        rules = _parse({"organisation_pk": "organisation__id"})
        assert rules == {"organisation_pk": "organisation.id"}
        assert rules.scoped == ()

    @pytest.mark.parametrize(
        ("key", "kind", "glob"),
        [
            ("pk@tenant-*", "name", "tenant-*"),
            ("pk@api:tenant-detail", "name", "api:tenant-detail"),
            ("pk@name:view:thing", "name", "view:thing"),
            ("pk@view:app.views.TenantViewSet", "view", "app.views.TenantViewSet"),
            ("pk@route:api/tenants/*", "route", "api/tenants/*"),
        ],
    )
    def test_scoped_keys(self, key: str, kind: str, glob: str) -> None:
        """``kwarg@selector``: the selector's kind comes from its prefix, else a URL name."""
        (scoped,) = _parse({key: "tenant.id"}).scoped
        assert (scoped.kwarg, scoped.selector.kind, scoped.selector.glob) == ("pk", kind, glob)
        assert scoped.rule == "tenant.id"

    def test_environment_form(self) -> None:
        """``OTEL_CONTEXT_URL_KWARGS``: the same keys in ``key=rule`` pairs, lookups included."""
        rules = _parse(
            "project_pk=project.id, pk@tenant-*=tenant.id,"
            " pk@view:app.*=lookup:tests.testapp.routes.environment_ids"
        )
        assert [(s.kwarg, str(s.selector)) for s in rules.scoped] == [
            ("pk", "tenant-*"),
            ("pk", "view:app.*"),
        ]
        assert rules.scoped[1].rule is routes.environment_ids

    def test_scoped_attributes_are_server_owned(self) -> None:
        """A client's baggage cannot set what a scoped rule binds."""
        config = conf.build_config(
            {"url_kwargs": {"pk@tenant-*": "tenant.id"}}, setting={}, environ={}
        )
        assert "tenant.id" in config.server_owned

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            ({"pk@": "tenant.id"}, "the name after '@' is empty"),
            ({"@tenant-*": "tenant.id"}, "URL kwarg name before '@'"),
            ({"p k@tenant-*": "tenant.id"}, "URL kwarg name before '@'"),
            ({"pk@view:": "tenant.id"}, "the view after '@' is empty"),
            ({"pk@route: ": "tenant.id"}, "the route after '@' is empty"),
            ({"pk@a@b": "tenant.id"}, "one '@' per key"),
            ({"pk@api:": "tenant.id"}, "empty namespace or name"),
            ({"pk@:tenant-detail": "tenant.id"}, "empty namespace or name"),
            ({"pk@view:app/views.X": "tenant.id"}, "is not a dotted path"),
            ({"pk@ tenant-*": "tenant.id"}, "surrounding spaces"),
            ({"pk@tenant-*": ""}, "expected an attribute name"),
            ({"pk@tenant-*": {"lookup": "no.such.module"}}, "cannot import"),
            ("pk@tenant-*", "expected 'key=value' pairs"),
        ],
    )
    def test_bad_input_names_the_option_and_the_entry(self, value: object, message: str) -> None:
        """A malformed route mapping is a ConfigurationError naming the option and the key."""
        with pytest.raises(conf.ConfigurationError, match="URL_KWARGS") as caught:
            _parse(value)
        assert message in str(caught.value)
        if isinstance(value, dict):
            assert repr(next(iter(value))) in str(caught.value)

    def test_bad_input_from_the_environment_names_the_variable(self) -> None:
        """The environment form's error names ``OTEL_CONTEXT_URL_KWARGS`` and the entry."""
        environ = {"OTEL_CONTEXT_URL_KWARGS": "pk@=tenant.id"}
        with pytest.raises(conf.ConfigurationError, match=r"OTEL_CONTEXT_URL_KWARGS\['pk@'\]"):
            conf.build_config(setting={}, environ=environ)


class TestSelector:
    @pytest.mark.parametrize(
        ("selector", "route", "matches"),
        [
            ("tenant-*", TENANT, True),
            ("tenant-*", SITE, False),
            ("tenant-detail", TENANT, True),  # in any namespace
            ("api:tenant-*", TENANT, True),
            ("v2:tenant-*", TENANT, False),
            ("api:*", SITE, True),
            ("tenant-*", UNNAMED, False),
            ("*", UNNAMED, False),  # an unnamed route has no URL name to match
            ("view:app.views.TenantViewSet", TENANT, True),
            ("view:app.views.*", SITE, True),
            ("view:app.views.Tenant", TENANT, False),  # whole path, not a prefix
            ("route:api/tenants/*", TENANT, True),
            ("route:things/<int:pk>/", UNNAMED, True),
            ("route:api/[^/]*", TENANT, False),  # only '*' is special
        ],
    )
    def test_matches(self, selector: str, route: Route, *, matches: bool) -> None:
        """URL names (namespaced or in any namespace), views and route patterns, '*' globs."""
        assert parse_selector(selector, OPTION).matches(route) is matches


class TestForRoute:
    def test_scoped_beats_unscoped_and_first_scoped_wins(self) -> None:
        """On one route: the first matching scoped rule per kwarg, else the unscoped one."""
        rules = _parse(
            {
                "pk": "object.id",
                "pk@tenant-*": "tenant.id",
                "pk@api:*": "api.id",
                "organisation_pk": "organisation.id",
            }
        )
        assert rules.resolve(TENANT) == {"pk": "tenant.id", "organisation_pk": "organisation.id"}
        assert rules.resolve(SITE)["pk"] == "api.id"
        assert rules.resolve(UNNAMED)["pk"] == "object.id"

    def test_a_route_is_resolved_once(self) -> None:
        """``for_route`` describes a route on its first request only: then a dict lookup."""
        rules = _parse({"pk@tenant-*": "tenant.id"})
        described: list[Any] = []

        def describe(key: Any) -> Route:
            described.append(key)
            return TENANT

        first = rules.for_route("k", describe)
        assert rules.for_route("k", describe) is first
        assert described == ["k"]
        assert first == {"pk": "tenant.id"}

    def test_an_unhashable_route_key_is_resolved_uncached(self) -> None:
        """A view callable that cannot be hashed still gets its route's rules, every time."""
        rules = _parse({"pk@tenant-*": "tenant.id"})
        key = ("api/tenants/<pk>/", "tenant-detail", "api", [])  # a list: unhashable
        assert rules.for_route(key, lambda _: TENANT) == {"pk": "tenant.id"}
        assert rules.cache == {}
