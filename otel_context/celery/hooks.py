"""The Celery signal receivers: the carrier on publish, a scope around the task body.

``on_publish`` adds :func:`otel_context.task_carrier.capture`'s carrier to the message as
:data:`HEADER`; ``on_prerun`` attaches a scope with the carried ids on the task span that
``CeleryInstrumentor`` made current; ``on_postrun`` closes and detaches it. With
``HOLD_LINES``, the scope of a task in a sampled-out trace holds the lines the log sampling
would drop, as a request's does, and writes them if the task failed, retried, or was slow.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Final

from opentelemetry import context as otel_context
from opentelemetry import trace

from otel_context import task_carrier
from otel_context.conf import get_config
from otel_context.flight_recorder import held_lines, note_status
from otel_context.scope import RequestScope, attach_scope, release_scope

if TYPE_CHECKING:
    from contextvars import Token

__all__ = ["HEADER", "on_postrun", "on_prerun", "on_publish"]

#: The task message header carrying the context.
HEADER: Final = task_carrier.CARRIER_KEY
#: Where the worker keeps a running task's scope and token: on the task's request context,
#: which lives exactly as long as one execution of the task.
_STATE: Final = "_otel_context_scope"

#: The task states whose held lines are written: the task failed or will run again.
_NOTABLE_STATES: Final = frozenset({"FAILURE", "RETRY"})

# The logger keeps the name it had before the code moved here: filters on it still apply.
_logger = logging.getLogger("otel_context.celery")


def on_publish(*, headers: object = None, **kwargs: Any) -> None:
    """``before_task_publish``: add the carrier to the message headers."""
    try:
        if isinstance(headers, dict):
            carrier = task_carrier.capture()
            if carrier:
                headers[HEADER] = carrier
    except Exception:
        _logger.exception("otel_context: adding the task context header failed")


def on_prerun(*, task: Any = None, **kwargs: Any) -> None:
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
        if config.hold_lines:
            scope.held = held_lines(scope.span, config)
        setattr(request, _STATE, (scope, attach_scope(scope)))
    except Exception:
        _logger.exception("otel_context: restoring the task context failed; no ids on its logs")


def on_postrun(*, task: Any = None, state: object = None, **kwargs: Any) -> None:
    """``task_postrun`` (sent on success and failure alike): close and detach the scope.

    Closing decides on the held lines: a task that failed or retries (*state*) counts as a
    request that answered 500.
    """
    try:
        request = getattr(task, "request", None)
        scope_state: tuple[RequestScope, Token[otel_context.Context]] | None = getattr(
            request, _STATE, None
        )
        if scope_state is None:
            return
        delattr(request, _STATE)
        note_status(scope_state[0], 500 if state in _NOTABLE_STATES else 200)
        release_scope(*scope_state)  # the instrumentor's postrun ran first: see release_scope
    except Exception:
        _logger.exception("otel_context: detaching the task context failed")
