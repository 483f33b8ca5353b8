"""Celery: a task runs in the trace and with the identifiers of the request that enqueued it.

``opentelemetry-instrumentation-celery`` makes the task span a child of the publishing span
through its own ``traceparent`` header. Our identifiers cannot ride along in that header's
``baggage``: the outbound policy sends baggage only to known hosts, and a publish span has
no destination host. So they travel in a header of their own, :data:`HEADER`, holding
:func:`otel_context.task_carrier.capture`'s carrier (about 180 bytes), and the worker restores them
around the task body as a scope on the task span.

Call :func:`instrument` in the producer and in the worker (e.g. next to the Celery app).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, Final

from celery import signals
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.instrumentation.celery import CeleryInstrumentor

from otel_context import task_carrier
from otel_context.conf import get_config
from otel_context.propagation import install_propagator
from otel_context.scope import RequestScope, attach_scope, release_scope

if TYPE_CHECKING:
    from contextvars import Token

__all__ = ["HEADER", "instrument", "uninstrument"]

#: The task message header carrying the context.
HEADER: Final = task_carrier.CARRIER_KEY
#: Where the worker keeps a running task's scope and token: on the task's request context,
#: which lives exactly as long as one execution of the task.
_STATE: Final = "_otel_context_scope"

_logger = logging.getLogger(__name__)
_lock = threading.Lock()
_owns_instrumentor = False


def instrument(**instrumentor_options: Any) -> None:
    """Enable otel_context for Celery, in a producer and in a worker; safe to call again.

    Instruments Celery with ``CeleryInstrumentor`` unless already done, wraps the global
    propagator, then connects our signal handlers *after* the instrumentor's: our
    ``task_prerun`` handler needs the task span it makes current.

    Args:
        **instrumentor_options: Passed to ``CeleryInstrumentor().instrument()`` when
            otel_context is the one instrumenting (``tracer_provider``, ``use_span_links``).

    .. versionadded:: 0.1.0
    """
    global _owns_instrumentor  # noqa: PLW0603 - one instrumentation per process
    with _lock:
        get_config()  # resolve now: a configuration error surfaces at start-up
        install_propagator()
        instrumentor = CeleryInstrumentor()
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(**instrumentor_options)
            _owns_instrumentor = True
        _disconnect()  # connecting again moves our handlers after the instrumentor's
        signals.before_task_publish.connect(_on_publish, weak=False)
        signals.task_prerun.connect(_on_prerun, weak=False)
        signals.task_postrun.connect(_on_postrun, weak=False)


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
    signals.before_task_publish.disconnect(_on_publish)
    signals.task_prerun.disconnect(_on_prerun)
    signals.task_postrun.disconnect(_on_postrun)


def _on_publish(*, headers: object = None, **kwargs: Any) -> None:
    """``before_task_publish``: add the carrier to the message headers."""
    try:
        if isinstance(headers, dict):
            carrier = task_carrier.capture()
            if carrier:
                headers[HEADER] = carrier
    except Exception:
        _logger.exception("otel_context: adding the task context header failed")


def _on_prerun(*, task: Any = None, **kwargs: Any) -> None:
    """``task_prerun``: attach a scope with the carried ids, on the (current) task span."""
    try:
        request = getattr(task, "request", None)
        if request is None or getattr(request, "is_eager", False):
            return  # an eager task runs inside its caller's scope already
        config = get_config()
        carried = task_carrier.read(getattr(request, HEADER, None), config)
        scope = RequestScope(
            trace.get_current_span(),
            span_attributes=config.span_attributes,
            keys=config.server_owned,
        )
        scope.bind(carried.identifiers)
        setattr(request, _STATE, (scope, attach_scope(scope)))
    except Exception:
        _logger.exception("otel_context: restoring the task context failed; no ids on its logs")


def _on_postrun(*, task: Any = None, **kwargs: Any) -> None:
    """``task_postrun`` (sent on success and failure alike): close and detach the scope."""
    try:
        request = getattr(task, "request", None)
        state: tuple[RequestScope, Token[otel_context.Context]] | None = getattr(
            request, _STATE, None
        )
        if state is None:
            return
        delattr(request, _STATE)
        release_scope(*state)  # the instrumentor's postrun ran first: see release_scope
    except Exception:
        _logger.exception("otel_context: detaching the task context failed")
