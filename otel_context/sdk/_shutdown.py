"""Shutting the SDK's providers down within a bound, even at exit on CPython 3.12.0/3.12.1.

The SDK's shutdown can block for half a minute retrying when the collector is down. Each
provider is shut down in a thread of its own; when the bound nears, the exporters are shut
down, which aborts their retries, and what is still queued is dropped. CPython 3.12.0 and
3.12.1 refuse new threads once interpreter shutdown has begun (python/cpython#113964): there
the providers are flushed and shut down in place.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterable

# The logger keeps the name it had before the code moved here: filters on it still apply.
_logger = logging.getLogger("otel_context.providers")


class Stoppable(Protocol):
    """What can be shut down: a provider, a processor, an exporter."""

    def shutdown(self) -> None: ...


def bounded_shutdown(
    owned: Iterable[Stoppable], exporters: Iterable[Stoppable], timeout_s: float
) -> bool:
    """Shut *owned* down in threads within *timeout_s*, aborting *exporters*' retries if late."""
    deadline = time.monotonic() + timeout_s
    owned = tuple(owned)
    threads = [
        threading.Thread(target=_quietly, args=(item,), name="otel_context-shutdown", daemon=True)
        for item in owned
    ]
    try:
        for thread in threads:
            thread.start()
    except RuntimeError:
        # CPython 3.12.0 and 3.12.1 refuse new threads once interpreter shutdown has begun, so
        # at exit (atexit) the bound cannot be kept with threads (python/cpython#113964).
        return _shutdown_in_place(owned, exporters, deadline, threads)
    # Leave a fifth of the budget (at most a second) for the threads to end after the abort.
    if not _join(threads, deadline - min(1.0, timeout_s / 5)):
        _logger.warning("otel_context: export still retrying at shutdown; dropping what is queued")
        for exporter in exporters:
            _quietly(exporter)  # sets the exporter's shutdown event: retries stop at once
        _join(threads, deadline)
    return not any(thread.is_alive() for thread in threads)


def _shutdown_in_place(
    owned: Iterable[Stoppable],
    exporters: Iterable[Stoppable],
    deadline: float,
    threads: list[threading.Thread],
) -> bool:
    """Without new threads: flush what is queued in this thread, then shut down.

    Nothing can interrupt an export from here, so the bound is the exporters' own timeout
    (``OTEL_EXPORTER_OTLP_TIMEOUT``) rather than *deadline* when the collector is down; with the
    collector up, the queue is delivered as with threads. Only at exit on CPython 3.12.0/3.12.1.
    """
    started = [thread for thread in threads if thread.ident is not None]
    pending = [item for item, thread in zip(owned, threads, strict=True) if thread.ident is None]
    for item in pending:
        flush = getattr(item, "force_flush", None)
        if flush is not None:
            remaining_ms = max(0, int((deadline - time.monotonic()) * 1000))
            try:
                flush(remaining_ms)
            except Exception:
                _logger.exception("otel_context: flushing %r failed", item)
    for exporter in exporters:
        _quietly(exporter)  # retries stop at once; what is still queued is dropped
    for item in pending:
        _quietly(item)
    return _join(started, deadline)


def _join(threads: Iterable[threading.Thread], until: float) -> bool:
    for thread in threads:
        thread.join(max(0.0, until - time.monotonic()))
    return not any(thread.is_alive() for thread in threads)


def _quietly(item: Stoppable) -> None:
    try:
        item.shutdown()
    except Exception:
        _logger.exception("otel_context: shutting down %r failed", item)
