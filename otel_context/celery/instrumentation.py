"""``instrument`` and ``uninstrument``: connect otel_context's Celery signal receivers.

The receivers are in :mod:`otel_context.celery.hooks`; they are connected *after*
``CeleryInstrumentor``'s, whose task span they need.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import threading
from typing import Any

from celery import signals
from opentelemetry.instrumentation.celery import CeleryInstrumentor

from otel_context.celery import hooks
from otel_context.conf import get_config
from otel_context.log_records import _handler_ids
from otel_context.propagation import install_propagator

__all__ = ["instrument", "uninstrument"]

_lock = threading.Lock()
_owns_instrumentor = False


def instrument(**instrumentor_options: Any) -> None:
    """Enable otel_context for Celery, in a producer and in a worker; safe to call again.

    Instruments Celery with ``CeleryInstrumentor`` unless already done, wraps the global
    propagator and the ``emit`` of OTel ``LoggingHandler`` classes (a worker without Django
    exports its stdlib records with the task's ids), then connects our signal handlers
    *after* the instrumentor's: our ``task_prerun`` handler needs the task span it makes
    current.

    Args:
        **instrumentor_options: Passed to ``CeleryInstrumentor().instrument()`` when
            otel_context is the one instrumenting (``tracer_provider``, ``use_span_links``).

    .. versionadded:: 0.1.0
    """
    global _owns_instrumentor  # noqa: PLW0603 - one instrumentation per process
    with _lock:
        get_config()  # resolve now: a configuration error surfaces at start-up
        install_propagator()
        _handler_ids.install()  # OTel LoggingHandler classes export stdlib records with the ids
        instrumentor = CeleryInstrumentor()
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(**instrumentor_options)
            _owns_instrumentor = True
        _disconnect()  # connecting again moves our handlers after the instrumentor's
        signals.before_task_publish.connect(hooks.on_publish, weak=False)
        signals.task_prerun.connect(hooks.on_prerun, weak=False)
        signals.task_postrun.connect(hooks.on_postrun, weak=False)


def uninstrument() -> None:
    """Disconnect our handlers, and the instrumentor if :func:`instrument` enabled it.

    .. versionadded:: 0.1.0
    """
    global _owns_instrumentor  # noqa: PLW0603
    with _lock:
        _disconnect()
        if _owns_instrumentor:
            CeleryInstrumentor().uninstrument()
            _owns_instrumentor = False


def _disconnect() -> None:
    signals.before_task_publish.disconnect(hooks.on_publish)
    signals.task_prerun.disconnect(hooks.on_prerun)
    signals.task_postrun.disconnect(hooks.on_postrun)
