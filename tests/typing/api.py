"""Documented usage of the public API; mypy --strict must accept this file."""

from __future__ import annotations

import logging

import structlog

import otel_context
from otel_context import OTelContextFilter, OTelContextFormatter, StructlogOTelProcessor

structlog.configure(
    processors=[
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        StructlogOTelProcessor(),
        structlog.processors.TimeStamper(fmt="iso"),
        structlog.processors.JSONRenderer(),
    ]
)

formatter = structlog.stdlib.ProcessorFormatter(
    foreign_pre_chain=[StructlogOTelProcessor()],
    processor=structlog.processors.JSONRenderer(),
)

handler = logging.StreamHandler()
handler.addFilter(OTelContextFilter(default=""))
handler.setFormatter(OTelContextFormatter("%(trace_id)s %(tenant.id)s %(order_id)s %(message)s"))
braces = OTelContextFormatter("{order_id} {message}", style="{", default="", defaults={"x": 1})


def in_a_view() -> dict[str, str]:
    bound: bool = otel_context.bind(order__id=17, feature="beta")
    assert bound in {True, False}
    return otel_context.get_identifiers()


def in_a_task() -> None:
    with otel_context.scoped(**{"correlation.id": "c-1", "user.id": "42"}) as scope:
        scope.bind({"organisation.id": 7})


def enable() -> None:
    otel_context.instrument(user_id_field="uuid", correlation_id_headers=["X-Request-ID"])
