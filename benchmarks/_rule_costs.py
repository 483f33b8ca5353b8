"""Figure C″: what each of otel_context's per-request rules costs, taken out one at a time.

A *rule* is work otel_context does in a request beyond deriving its values (the derivation
floor of figure C′). Each entry of :data:`RULES` swaps the functions that carry one rule for
ones that skip it, keeping the rule's effect where the figure's request has one: a request
counted without a rule still puts the same values in the same places. These swaps exist to be
counted, never to be shipped: without them otel_context is not correct (point 5 of issue 25).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import otel_context.django.hooks as django_hooks
import otel_context.request as lifecycle
from otel_context.django.identifiers import URL, DjangoIdentifiers, from_url_kwargs

if TYPE_CHECKING:
    from collections.abc import Mapping

    from otel_context.scope import RequestScope


class _NoUserCheck(DjangoIdentifiers):
    """URL ids only: no hook on the lazy user, no check of ``request.user`` per event."""

    __slots__ = ()
    __call__ = None  # type: ignore[assignment]  # scope.refresh is None: nothing is called

    def on_view(self, view_kwargs: Mapping[str, Any]) -> None:
        url_ids = from_url_kwargs(view_kwargs, self._url_rules()) if view_kwargs else {}
        if url_ids:
            self.scope.bind(url_ids, URL)


def _settle_without_reading(scope: RequestScope, ids: dict[str, str] | None = None) -> None:
    """The ids written on the span, the application's own attributes not read back."""
    ids = scope.identifiers(settling=True) if ids is None else ids
    span = scope.span
    if span is not None and scope.span_attributes and span.is_recording() and ids:
        span.set_attributes(ids)


#: rule -> what it is, and the (owner, name, replacement) swaps that take it out.
RULES: Final[dict[str, tuple[str, tuple[tuple[object, str, object], ...]]]] = {
    "app_attributes": (
        "the span's identifier attributes the application set: read back, kept as strings",
        ((lifecycle, "settle_span", _settle_without_reading),),
    ),
    "user": (
        "the lazy user's load hook and the per-event check of `request.user` / `request.auth`",
        ((django_hooks, "DjangoIdentifiers", _NoUserCheck),),
    ),
    "inbound_gate": (
        "reading what the inbound gate held back and the W3C limits cut (none here)",
        (
            (lifecycle, "inbound_entries", lambda context: {}),
            (lifecycle, "cut_count", lambda context: 0),
        ),
    ),
    "late_4xx": (
        "the ended request's fields kept on it, for Django's late 4xx records",
        ((django_hooks, "mark_ended", lambda request, scope, span: None),),
    ),
    "streaming": (
        "the check for a streamed body to hand the scope over to",
        ((django_hooks, "wants_hand_over", lambda response: False),),
    ),
    "app_header": (
        "a correlation header the application set is left as it is",
        ((django_hooks, "header_value", lambda response, name: None),),
    ),
    "route_rules": (
        "route-scoped `URL_KWARGS` rules",
        ((DjangoIdentifiers, "_url_rules", lambda self: self.config.url_kwargs),),
    ),
}


class Ablation:
    """Takes rules out (and puts them back) in a running process, between blocks."""

    def __init__(self) -> None:
        self._saved: list[tuple[object, str, object]] = []

    def apply(self, rules: list[str]) -> None:
        """Restore everything, then take out exactly *rules* (names of :data:`RULES`)."""
        while self._saved:
            owner, name, value = self._saved.pop()
            setattr(owner, name, value)
        for rule in rules:
            for owner, name, replacement in RULES[rule][1]:
                self._saved.append((owner, name, getattr(owner, name)))
                setattr(owner, name, replacement)
