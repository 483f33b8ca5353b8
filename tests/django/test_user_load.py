"""A lazy user binds ``user.id`` as it loads: no log event has to look for it (issue 25)."""

from __future__ import annotations

import asyncio
import copy
import functools
import logging
from typing import TYPE_CHECKING, Any

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.http import HttpRequest
from django.test import AsyncClient, Client
from django.utils.functional import LazyObject, SimpleLazyObject

from otel_context.conf import get_config
from otel_context.django.identifiers import DjangoIdentifiers, OnLoad, lazy_state
from otel_context.scope import RequestScope

if TYPE_CHECKING:
    from opentelemetry import trace
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


BROKEN = "broken principal"


def alice() -> Any:
    return get_user_model()(pk=5, username="alice")


def watched(user: object) -> tuple[HttpRequest, RequestScope, DjangoIdentifiers]:
    """A request whose ``user`` is *user*, its scope, and its identifiers after a first look.

    The scope's ``refresh`` is left unset: what it holds is only what was bound, not looked for.
    """
    request = HttpRequest()
    request.user = user
    scope = RequestScope()
    identifiers = DjangoIdentifiers(request, scope, get_config())
    identifiers()
    return request, scope, identifiers


def async_get(client: Client, path: str) -> Any:
    """GET *path* through Django's ASGI handler with *client*'s cookies (its session)."""

    async def fetch() -> Any:
        async_client = AsyncClient()
        async_client.cookies = client.cookies
        return await async_client.get(path)

    return async_to_sync(fetch)()


class CustomLazy(LazyObject):
    """A ``LazyObject`` with its own ``_setup``: nothing to hook, so it is peeked at."""

    def _setup(self) -> None:
        self._wrapped = alice()


class TestHook:
    def test_loading_binds_the_user_without_a_log_event(self) -> None:
        request, scope, _ = watched(SimpleLazyObject(alice))
        assert scope.identifiers() == {}, "not loaded: nothing bound, nothing loaded by us"
        assert request.user.is_authenticated
        assert scope.identifiers() == {"user.id": "5"}

    def test_the_lazy_object_keeps_its_repr_and_copies_still_load(self) -> None:
        lazy = SimpleLazyObject(alice)
        before = repr(lazy)
        _, scope, identifiers = watched(lazy)
        identifiers.look()  # a second look hooks nothing twice
        hooked = lazy_state(lazy)["_setupfunc"]  # type: ignore[index]
        assert isinstance(hooked, OnLoad)
        assert not isinstance(hooked[0], OnLoad)
        assert repr(lazy) == before
        assert copy.copy(lazy).pk == 5
        assert scope.identifiers() == {"user.id": "5"}, "the copy's load is the same user"

    def test_a_lazy_object_of_another_kind_is_peeked_at_on_each_look(self) -> None:
        request, scope, identifiers = watched(CustomLazy())
        assert request.user.pk == 5
        assert scope.identifiers() == {}, "no hook: the load shows at the next look"
        identifiers()
        assert scope.identifiers() == {"user.id": "5"}

    def test_auser_binds_and_a_later_look_keeps_it(self) -> None:
        async def load(_: HttpRequest) -> Any:
            return alice()

        lazy = SimpleLazyObject(alice)
        request = HttpRequest()
        request.user = lazy
        request.auser = functools.partial(load, request)  # type: ignore[attr-defined]
        scope = RequestScope()
        identifiers = DjangoIdentifiers(request, scope, get_config())
        identifiers()
        assert asyncio.run(request.auser()).pk == 5  # type: ignore[attr-defined]
        assert scope.identifiers() == {"user.id": "5"}
        request.auth = "changed"  # type: ignore[attr-defined] - DRF's: forces a look
        identifiers()
        assert scope.identifiers() == {"user.id": "5"}, "request.user still unloaded: kept"
        assert lazy_state(lazy)["_wrapped"] is not None  # type: ignore[index]

    def test_a_load_after_the_scope_closed_binds_nothing(self, tracer: trace.Tracer) -> None:
        span = tracer.start_span("request")
        request = HttpRequest()
        request.user = SimpleLazyObject(alice)
        scope = RequestScope(span)
        DjangoIdentifiers(request, scope, get_config())()
        scope.close()
        assert request.user.pk == 5
        span.end()
        assert "user.id" not in (span.attributes or {})  # type: ignore[attr-defined]

    def test_a_failing_bind_is_logged_and_the_load_returns(
        self, caplog: pytest.LogCaptureFixture
    ) -> None:
        class Broken(get_user_model()):  # type: ignore[misc]
            class Meta:
                proxy = True
                app_label = "auth"

            @property
            def is_authenticated(self) -> bool:
                raise RuntimeError(BROKEN)

        request, scope, _ = watched(SimpleLazyObject(lambda: Broken(pk=6)))
        with caplog.at_level(logging.ERROR, "otel_context"):
            assert request.user.pk == 6
        assert "binding the loaded user failed" in caplog.text
        assert scope.identifiers() == {}


@pytest.mark.django_db
@pytest.mark.usefixtures("instrumented")
class TestRequests:
    def test_user_id_binds_as_the_user_loads_and_is_on_the_span(
        self, alice_client: tuple[Client, str], exporter: InMemorySpanExporter
    ) -> None:
        client, pk = alice_client
        exporter.clear()
        found = client.get("/user-loads/").json()
        assert found["bound_user"] == pk, "bound as the load returned, with no log event"
        assert found["span_user_before_response"] is None, "the span is settled at the end"
        (span,) = (span for span in exporter.get_finished_spans() if span.parent is None)
        assert span.attributes is not None
        assert span.attributes["user.id"] == pk
        assert "<lambda>" in found["repr"], "request.user's repr is Django's own"

    def test_await_auser_binds_the_user_in_an_async_view(
        self, alice_client: tuple[Client, str], events: list[dict[str, object]]
    ) -> None:
        client, pk = alice_client
        events.clear()
        assert async_get(client, "/async/user/").json()["identifiers"]["user.id"] == pk
        seen = {event["event"]: event.get("user.id") for event in events}
        assert seen == {"async.anonymous": None, "async.user": pk}

    @pytest.mark.usefixtures("organisation_of_user")
    def test_a_resolver_run_again_as_the_user_loads_sees_the_user(
        self, alice_client: tuple[Client, str], events: list[dict[str, object]]
    ) -> None:
        """The retry runs inside the load: ``loaded_user()`` must already see the user."""
        client, pk = alice_client
        events.clear()
        client.get("/whoami/")
        (event,) = events
        assert event["organisation.id"] == f"org-of-{pk}"
        assert event["user.id"] == pk

    @pytest.mark.usefixtures("organisation_of_user")
    def test_a_resolver_sees_the_user_that_auser_loaded(
        self, alice_client: tuple[Client, str], events: list[dict[str, object]]
    ) -> None:
        client, pk = alice_client
        events.clear()
        async_get(client, "/async/user/")
        (event,) = [e for e in events if e["event"] == "async.user"]
        assert event["organisation.id"] == f"org-of-{pk}"
