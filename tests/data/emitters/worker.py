"""A logger kept on ``self``, a dynamic event name, a logger found by name, a ``bind()``."""

from __future__ import annotations

from typing import Any

import structlog

import otel_context


class Worker:
    def __init__(self) -> None:
        self.log = structlog.get_logger().bind(worker__name="w1")

    def run(self, name: str) -> None:
        self.log.debug("worker.ran", job__id=3)
        self.log.info(name, correlation_id="not the dotted name")
        otel_context.bind(job__id=3)


def handle(_log: Any) -> None:
    _log.info("job.handled", project__id=1)
