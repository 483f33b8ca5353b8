"""Stdlib records held through Django and the OTel middleware (HeldHandler, HOLD_LINES)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path
from opentelemetry import trace

from otel_context import flight_recorder
from otel_context.held_records import HeldHandler
from otel_context.scope import current_scope

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("instrumented"),
    pytest.mark.urls(__name__),
]
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
#: A sampled-out request (flags 00), whose trace the ratio 0 does not keep.
SAMPLED_OUT = {"traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-00"}


def chatter(request: HttpRequest) -> HttpResponse:
    """Three INFO records and a WARNING through the stdlib; ``?fail=1``: then raise."""
    log = logging.getLogger("tests.django.held")
    for index in range(3):
        log.info("step %d", index)
    log.warning("done")
    if request.GET.get("fail"):
        msg = "the view failed on purpose"
        raise RuntimeError(msg)
    return HttpResponse("ok")


urlpatterns = [path("chatter/", chatter)]


class Seen(logging.Handler):
    """The wrapped handler: what it handled, marks, and the trace current when it did."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, object, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        trace_id = trace.get_current_span().get_span_context().trace_id
        why = getattr(record, "log.held.written", None)
        self.seen.append((record.getMessage().split(":")[0], why, f"{trace_id:032x}"))


@pytest.fixture
def seen(settings: Any) -> Iterator[list[tuple[str, object, str]]]:
    """HOLD_LINES on; the view's logger and django.request write through one HeldHandler."""
    settings.OTEL_CONTEXT = {"UNSAMPLED_LOG_RATIO": 0, "HOLD_LINES": True, "HOLD_SLOW_MS": 0}
    target = Seen()
    handler = HeldHandler(target)
    loggers = [logging.getLogger("tests.django.held"), logging.getLogger("django.request")]
    saved = [(one.level, one.propagate) for one in loggers]
    for one in loggers:
        one.addHandler(handler)
        one.setLevel(logging.DEBUG)
        one.propagate = False
    before = flight_recorder._process_bytes[0]
    yield target.seen
    for one, (level, propagate) in zip(loggers, saved, strict=True):
        one.removeHandler(handler)
        one.setLevel(level)
        one.propagate = propagate
    assert flight_recorder._process_bytes[0] == before  # nothing left held
    assert current_scope() is None


def test_a_fine_request_drops_its_info_records(seen: list[tuple[str, object, str]]) -> None:
    """200 from a sampled-out request: the warning only, at once."""
    assert Client().get("/chatter/", headers=SAMPLED_OUT).status_code == 200
    assert seen == [("done", None, TRACE_ID)]


def test_a_failing_request_writes_them_before_djangos_error(
    seen: list[tuple[str, object, str]],
) -> None:
    """The view raises (500): Django's ERROR record writes the held records first."""
    response = Client(raise_request_exception=False).get(
        "/chatter/", {"fail": 1}, headers=SAMPLED_OUT
    )
    assert response.status_code == 500
    assert seen == [
        ("done", None, TRACE_ID),
        ("step 0", "error", TRACE_ID),
        ("step 1", "error", TRACE_ID),
        ("step 2", "error", TRACE_ID),
        ("Internal Server Error", None, TRACE_ID),
    ]


def test_a_sampled_request_writes_as_it_goes(seen: list[tuple[str, object, str]]) -> None:
    """flags 01: nothing held, nothing marked."""
    sampled = {"traceparent": SAMPLED_OUT["traceparent"][:-2] + "01"}
    Client().get("/chatter/", headers=sampled)
    assert [entry[:2] for entry in seen] == [
        ("step 0", None),
        ("step 1", None),
        ("step 2", None),
        ("done", None),
    ]
