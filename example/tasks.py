"""The example's Celery app: the quote view enqueues :func:`record_quote`, a worker runs it.

Worker: ``celery -A example.tasks worker -P solo`` (``example.processes.start_worker``).
Tracing, logging and ``otel_context.celery.instrument()`` are set up in the worker's
``worker_init`` only, so the web process can import this module to enqueue without side
effects; it instruments its own side in ``example.app.apps``. ``worker_init`` runs in the
worker's main process: with ``-P prefork`` the set-up would belong in ``worker_process_init``.

Environment:
    EXAMPLE_BROKER_URL: the broker (default ``redis://127.0.0.1:6379/0``): a Redis URL, or
        ``filesystem://localhost/<folder>`` for kombu's filesystem transport on that folder
        (the demo's broker when there is no Redis, ``example.broker``).
    EXAMPLE_TASK_QUEUE: the queue tasks go to and the worker consumes (default ``example``).
    EXAMPLE_LOG_FILE, EXAMPLE_SPAN_FILE, OTEL_SERVICE_NAME: as for the web service.
"""

from __future__ import annotations

import logging.config
import os
from typing import Any, Final

import structlog
from celery import Celery, signals

from example.broker import DEFAULT_BROKER_URL, celery_settings

__all__ = ["BROKER_URL", "DEFAULT_BROKER_URL", "QUEUE", "app", "record_quote", "store_report"]

BROKER_URL: Final = os.environ.get("EXAMPLE_BROKER_URL", "").strip() or DEFAULT_BROKER_URL
QUEUE: Final = os.environ.get("EXAMPLE_TASK_QUEUE", "").strip() or "example"

app = Celery("example", broker=BROKER_URL)
app.conf.update(
    task_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    task_default_queue=QUEUE,
    worker_hijack_root_logger=False,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    # Publishing happens inside a web request: give up quickly if the broker is gone.
    task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5},
    **celery_settings(BROKER_URL),  # the folder broker's transport, when it is one
)
log = structlog.get_logger(__name__)


@app.task(name="example.record_quote")
def record_quote(project_id: int, total: str) -> None:
    """Record a quote the web service obtained from the pricing service."""
    log.info("quote.report.started", project=project_id)
    store_report(total)


def store_report(total: str) -> None:
    """Where a real service would write the report; it gets no ids, its line has them."""
    log.info("quote.report.stored", total=total)


# ---------------------------------------------------------------- worker set-up
@signals.setup_logging.connect
def _setup_logging(**kwargs: Any) -> None:
    """Celery's own records (received, succeeded, failed) as JSON lines with the ids."""
    from example.logs import logging_config  # noqa: PLC0415 - worker only

    logging.config.dictConfig(logging_config(os.environ.get("EXAMPLE_LOG_FILE") or None))


@signals.worker_init.connect
def _setup_worker(**kwargs: Any) -> None:
    """Tracing to ``EXAMPLE_SPAN_FILE``, structlog to ``EXAMPLE_LOG_FILE``, then otel_context."""
    import otel_context.celery  # noqa: PLC0415 - worker only
    from example.logs import configure_structlog  # noqa: PLC0415
    from example.tracing import setup_tracing  # noqa: PLC0415

    setup_tracing(warn=logging.getLogger(__name__).warning, shutdown_on_exit=True)
    configure_structlog(os.environ.get("EXAMPLE_LOG_FILE") or None)
    otel_context.celery.instrument()


@signals.worker_ready.connect
def _worker_ready(**kwargs: Any) -> None:
    log.info("worker.ready", queue=QUEUE)
