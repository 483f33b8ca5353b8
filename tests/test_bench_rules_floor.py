"""Figure C″'s rules floor keeps the rules it claims to: a floor without them would flatter us.

``benchmarks._rules_floor`` is the least code for the rules otel_context keeps (point 5 of
issue 25). The worker's check (``tests/test_bench_toggles.py``) shows that it puts the same
values in the same places; these show that it also follows the rules themselves, on the cases
figure C″'s request does not exercise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from django.contrib.auth.models import User
from django.http import HttpResponse
from django.test import RequestFactory
from django.utils.functional import SimpleLazyObject
from opentelemetry import context
from opentelemetry.trace import INVALID_SPAN

from benchmarks import _rules_floor as floor

if TYPE_CHECKING:
    from collections.abc import Iterator

    from django.http import HttpRequest


@pytest.fixture
def scope() -> Iterator[floor.Scope]:
    """An open rules-floor scope, current, for a request without a user."""
    opened = floor.Scope(INVALID_SPAN, {}, "c" * 32)
    token = context.attach(context.set_value(floor._SCOPE_KEY, opened))
    try:
        yield opened
    finally:
        context.detach(token)


def _event(**fields: Any) -> dict[str, Any]:
    return floor.processor(None, "info", {"event": "e", **fields})  # type: ignore[no-any-return]


def test_call_site_keys_win_are_renamed_and_become_strings(scope: floor.Scope) -> None:
    scope.bind({"organisation.id": "7"}, floor._URL)
    event = _event(user__id=5, organisation__id=8)
    assert event["user.id"] == "5"
    assert event["organisation.id"] == "8"
    assert "user__id" not in event
    assert event["correlation.id"] == "c" * 32


def test_an_event_without_identifier_keys_gets_the_scope_s_fields(scope: floor.Scope) -> None:
    scope.bind({"project.id": "12"}, floor._URL)
    assert _event(status=200)["project.id"] == "12"
    scope.bind({"project.id": "13"}, floor._URL)
    assert _event(status=200)["project.id"] == "13"  # a bind is seen by the next event


def test_a_lower_ranked_source_does_not_replace_an_id(scope: floor.Scope) -> None:
    scope.bind({"project.id": "1"}, floor._URL)
    scope.bind({"project.id": "2"}, floor._RESOLVER)
    assert scope.ids["project.id"] == "1"


def test_a_closed_scope_adds_nothing(scope: floor.Scope) -> None:
    scope.closed = True
    assert "correlation.id" not in _event()


def test_the_lazy_user_binds_as_it_loads(scope: floor.Scope) -> None:
    lazy = SimpleLazyObject(lambda: User(pk=5, username="u"))
    scope.values["user"] = lazy
    assert "user.id" not in _event()  # looked at, not loaded: the event does not load it
    assert lazy.username == "u"  # the application loads it
    assert scope.ids["user.id"] == "5"
    assert _event()["user.id"] == "5"


def test_inbound_baggage_loses_server_owned_keys_and_is_cut_to_64() -> None:
    entries = {"user.id": "1", **{f"k{i}": str(i) for i in range(70)}}
    kept = floor._filtered(entries)
    assert "user.id" not in kept
    assert len(kept) == 64


def test_an_invalid_inbound_id_is_replaced_and_a_rejected_request_echoes_it() -> None:
    def reject(request: HttpRequest) -> HttpResponse:
        request.__dict__[floor._REJECTED] = True
        return HttpResponse(status=400)

    request = RequestFactory().get("/", HTTP_X_REQUEST_ID="bad value;\x7f")
    echoed = floor.CorrelationLayer(reject)(request)["X-Request-ID"]
    assert len(echoed) == 32
    assert int(echoed, 16) >= 0


def test_a_valid_inbound_id_is_kept() -> None:
    seen: list[object] = []

    def view(request: HttpRequest) -> HttpResponse:
        seen.append(request.__dict__[floor._CORRELATION])
        return HttpResponse()

    floor.CorrelationLayer(view)(RequestFactory().get("/", HTTP_CORRELATION_ID="abc-1"))
    assert seen == [("abc-1", "Correlation-Id")]


def test_outgoing_baggage_carries_the_ids_bound_after_the_context_was_made(
    scope: floor.Scope,
) -> None:
    scope.bind({"project.id": "12"}, floor._URL)
    carrier: dict[str, str] = {}
    floor.ScopeBaggage().inject(carrier)
    assert set(carrier["baggage"].split(",")) == {f"correlation.id={'c' * 32}", "project.id=12"}
