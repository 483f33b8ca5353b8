"""A stdlib logger that writes only to one handler for the length of a test."""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

import structlog

import otel_context

if TYPE_CHECKING:
    from collections.abc import Iterator


@contextlib.contextmanager
def logger_to(name: str, handler: logging.Handler) -> Iterator[logging.Logger]:
    """*name*'s logger at ``DEBUG``, writing to *handler* only (no propagation), until exit."""
    logger = logging.getLogger(name)
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield logger
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


def holding_logger(lines: list[dict[str, Any]]) -> Any:
    """A structlog logger that samples, adds the ids and holds (``FlightRecorder``): each line
    written, at once or when its held lines are, is appended to *lines* as its event dict."""
    return structlog.wrap_logger(
        structlog.testing.CapturingLogger(),
        processors=[
            otel_context.LogSamplingProcessor(),
            otel_context.StructlogOTelProcessor(),
            otel_context.FlightRecorder(lambda _l, _m, event: lines.append(event) or ""),
        ],
    )
