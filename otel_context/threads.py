"""Carry the current trace context and identifiers into threads and thread pools.

A new thread starts with an empty ``contextvars`` context, so work handed to a
``ThreadPoolExecutor`` loses the span, the baggage and the request's identifiers.
:func:`with_context` captures them when the work is *handed over* and restores them around
the call. Identifiers are a snapshot in a scope of the work's own: the work keeps them even
if it runs after the request has ended (the request's own scope is closed by then).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import contextvars
import functools
from concurrent.futures import Executor, Future
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from opentelemetry import trace

from otel_context.scope import RequestScope, current_scope, scoped

if TYPE_CHECKING:
    from collections.abc import Callable

P = ParamSpec("P")
R = TypeVar("R")


def with_context(fn: Callable[P, R]) -> Callable[P, R]:
    """Wrap *fn* to run with the caller's context (span, baggage, identifiers, contextvars).

    Capture happens now; each call runs in its own copy, so the wrapper may be called from
    several threads at once.

    .. versionadded:: 0.1.0
    """
    captured = contextvars.copy_context()
    scope = current_scope()
    ids = scope.identifiers() if scope is not None else None

    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        def call() -> R:
            if ids is None:
                return fn(*args, **kwargs)
            # The request span may have ended: bind into the snapshot, never onto that span.
            with scoped(RequestScope(trace.get_current_span(), span_attributes=False), **ids):
                return fn(*args, **kwargs)

        return captured.copy().run(call)

    return run


class ContextExecutor(Executor):
    """An executor whose every submitted callable runs with the submitter's context.

    Args:
        executor: The executor doing the work, e.g. ``ThreadPoolExecutor(max_workers=1)``.

    .. versionadded:: 0.1.0
    """

    def __init__(self, executor: Executor) -> None:
        self.executor = executor

    def submit(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> Future[R]:
        """Submit *fn* wrapped with :func:`with_context`."""
        return self.executor.submit(with_context(fn), *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:  # noqa: FBT001, FBT002 - Executor's signature
        """Shut the wrapped executor down."""
        self.executor.shutdown(wait, cancel_futures=cancel_futures)
