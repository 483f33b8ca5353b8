"""Module-level loggers, ``.bind()`` chains, stdlib loggers and a redundant kwarg."""

from __future__ import annotations

import logging

import structlog
from structlog import get_logger as make_logger

log = structlog.get_logger(__name__)
audit = make_logger("audit").bind(component="billing")
stdlib_log = logging.getLogger(__name__)
logger = logging.getLogger("billing.stdlib")  # a stdlib logger, despite its name


def charge(organisation_id: int, amount: int) -> None:
    log.info("charge.started", organisation__id=organisation_id, amount=amount)
    log.bind(invoice__number=7).warning("charge.retried", attempt=2)
    audit.info("charge.audited")
    structlog.get_logger().error("charge.failed", user__id=1, exc_info=True)
    stdlib_log.info("not structlog: %s", amount)
    logger.info("not structlog either")
