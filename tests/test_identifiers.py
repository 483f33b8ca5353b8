"""The framework-agnostic derivation of identifiers from URL kwargs and resolvers."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest

from otel_context.identifiers import (
    bind_derived,
    checked,
    found,
    from_url_kwargs,
    run_resolvers,
)
from otel_context.scope import RequestScope

if TYPE_CHECKING:
    from otel_context.conf import UrlKwargRule


def _lookup(value: str) -> dict[str, object] | None:
    if value == "raise":
        raise LookupError(value)
    return None if value == "none" else {"environment.id": value, "project.id": f"p-{value}"}


class TestFound:
    def test_drops_only_none(self) -> None:
        """``None`` is "not found"; falsy values that are not ``None`` are kept."""
        assert found({"a": None, "b": "", "c": 0, "d": "x"}) == {"b": "", "c": 0, "d": "x"}


class TestFromUrlKwargs:
    def test_attribute_rules_bind_the_raw_value(self) -> None:
        """A string rule names the attribute; kwargs no rule covers are ignored."""
        ids = from_url_kwargs({"organisation_pk": 7, "other": "x"}, {"organisation_pk": "org.id"})
        assert ids == {"org.id": 7}

    def test_lookup_rules_get_the_value_as_a_string(self) -> None:
        """A lookup gets ``str(value)`` and may return several ids, or ``None`` for none."""
        rules = {"environment_key": _lookup}
        assert from_url_kwargs({"environment_key": 5}, rules) == {
            "environment.id": "5",
            "project.id": "p-5",
        }
        assert from_url_kwargs({"environment_key": "none"}, rules) == {}

    def test_a_raising_lookup_loses_only_its_ids(self, caplog: pytest.LogCaptureFixture) -> None:
        """The exception is logged with the kwarg's name; other rules still apply."""
        rules: dict[str, UrlKwargRule] = {
            "environment_key": _lookup,
            "organisation_pk": "organisation.id",
        }
        ids = from_url_kwargs({"environment_key": "raise", "organisation_pk": 1}, rules)
        assert ids == {"organisation.id": 1}
        (record,) = caplog.records
        assert record.levelno == logging.ERROR
        assert record.getMessage() == "otel_context: URL_KWARGS lookup for 'environment_key' failed"


class TestRunResolvers:
    def test_runs_only_the_named_resolvers_on_the_request(self) -> None:
        """Each named resolver gets the request; the others do not run."""
        calls: list[tuple[str, object]] = []

        def resolver(name: str) -> Callable[[object], str]:
            def resolve(request: object) -> str:
                calls.append((name, request))
                return f"{name}-found"

            return resolve

        resolvers = {"user.id": resolver("user.id"), "tenant.id": resolver("tenant.id")}
        assert run_resolvers(["user.id"], resolvers, "req") == {"user.id": "user.id-found"}
        assert calls == [("user.id", "req")]

    def test_a_raising_resolver_gives_none(self, caplog: pytest.LogCaptureFixture) -> None:
        """The exception is logged with the attribute's name; the result says "not found"."""

        def broken(request: object) -> str:
            raise RuntimeError

        assert run_resolvers(["user.id"], {"user.id": broken}, None) == {"user.id": None}
        assert caplog.records[0].getMessage() == "otel_context: resolver for 'user.id' failed"


class TestChecked:
    @pytest.mark.parametrize(
        "value", [None, "x", 7, uuid.UUID(int=1)], ids=["none", "str", "int", "uuid"]
    )
    def test_ids_pass(self, value: object, caplog: pytest.LogCaptureFixture) -> None:
        """None, str, int and UUID are ids (bound as their str()): returned as they are."""
        assert checked(value, "resolver") is value
        assert caplog.records == []

    @pytest.mark.parametrize("value", [True, {"a": 1}, [1], 1.5, object()])
    def test_anything_else_is_logged_and_dropped(
        self, value: object, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A bool, dict, list, float or object is no id: None, and an error naming the source."""
        assert checked(value, "resolver for 'x.id'") is None
        (record,) = caplog.records
        assert record.levelno == logging.ERROR
        assert "resolver for 'x.id' gave a" in record.getMessage()

    def test_wrong_types_lose_only_their_own_id(self) -> None:
        """A resolver's or a lookup's wrong-typed value is dropped; the others are kept."""
        resolvers = {"a.id": lambda _: {"no": "id"}, "b.id": lambda _: 5}
        assert run_resolvers(["a.id", "b.id"], resolvers, None) == {"a.id": None, "b.id": 5}
        rules: dict[str, UrlKwargRule] = {"k": lambda _: {"x.id": [1], "y.id": "y"}}
        assert from_url_kwargs({"k": "v"}, rules) == {"y.id": "y"}


class TestBindDerived:
    def test_url_ids_beat_resolvers_unless_over_url(self) -> None:
        """The URL's id stays; an over_url resolver's replaces it; None binds nothing."""
        scope = RequestScope()
        resolved = {"organisation.id": "A", "project.id": "P", "tenant.id": None}
        bind_derived(scope, {"organisation.id": "B", "project.id": 9}, resolved, frozenset())
        assert scope.identifiers() == {"organisation.id": "B", "project.id": "9"}
        bind_derived(scope, {}, resolved, frozenset({"project.id"}))
        assert scope.identifiers() == {"organisation.id": "B", "project.id": "P"}
