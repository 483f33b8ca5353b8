"""A stdlib logger that writes only to one handler for the length of a test."""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING

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
