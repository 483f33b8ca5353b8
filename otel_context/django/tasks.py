"""Django's task framework (``django.tasks``, Django 6.0+): a task keeps its request's ids.

A task enqueued inside a request runs with that request's ``correlation.id`` and
identifiers, in its trace: request span -> ``enqueue/<task>`` (producer) -> ``run/<task>``,
as the Celery path does. The carrier is :func:`otel_context.task_carrier.capture`'s (about 180
bytes of JSON), validated on the way out as any carrier is (:func:`otel_context.task_carrier.read`).

``django.tasks`` keeps nothing but the arguments of a task, and every backend stores them
(they must be JSON), so the carrier travels as one more keyword argument,
:data:`~otel_context.task_carrier.CARRIER_KEY`. It is added in ``Task.enqueue``/``aenqueue`` and
taken out again in ``Task.call``/``acall``, which backends call to run a task (the immediate
backend, ``django-tasks-db``'s worker), so the task function never sees it unless it
declares a parameter of that name. A ``TaskResult``'s ``kwargs`` show it. A task without a
carrier (enqueued before otel_context was there) runs as a new unit of work with a generated
correlation id, unless it is called directly inside a scope, which it then keeps.

Enabled by :func:`otel_context.django.instrumentation.instrument`, so listing
``"otel_context"`` in ``INSTALLED_APPS`` is enough. On Django 5.2 there is no
``django.tasks``: nothing is patched and nothing fails.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.util
import inspect
import logging
import threading
from typing import TYPE_CHECKING, Any, Final, Protocol

from opentelemetry import trace

from otel_context import task_carrier
from otel_context.scope import current_scope
from otel_context.work import TRACER_NAME

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["available", "instrument", "instrumented", "uninstrument"]

#: The span attribute holding the task result's id on the producer span.
_MESSAGE_ID: Final = "messaging.message.id"
_METHODS: Final = ("enqueue", "aenqueue", "call", "acall")

_logger = logging.getLogger(__name__)
_lock = threading.Lock()
#: The original methods of ``django.tasks.Task`` while they are wrapped.
_originals: dict[str, Callable[..., Any]] = {}


class _Task(Protocol):
    """What we use of a ``django.tasks.Task`` (django-stubs for Django 5.2 have none)."""

    @property
    def func(self) -> Callable[..., Any]: ...

    @property
    def module_path(self) -> str: ...


def available() -> bool:
    """Whether this Django ships ``django.tasks`` (Django 6.0 and later).

    .. versionadded:: 0.1.0
    """
    return importlib.util.find_spec("django.tasks") is not None


def instrumented() -> bool:
    """Whether ``django.tasks`` is currently instrumented by :func:`instrument`.

    .. versionadded:: 0.1.0
    """
    return bool(_originals)


def instrument() -> bool:
    """Carry the current trace and ids into every ``django.tasks`` task; safe to call again.

    Never raises: on an error it logs and leaves ``django.tasks`` as it was.

    Returns:
        ``True`` if ``django.tasks`` is (now) instrumented, ``False`` if this Django has
        none (before 6.0) or instrumenting failed.

    .. versionadded:: 0.1.0
    """
    with _lock:
        if _originals:
            return True
        if not available():
            return False
        try:
            task_class = importlib.import_module("django.tasks").Task
            wrappers = {"enqueue": _enqueue, "aenqueue": _aenqueue, "call": _call, "acall": _acall}
            originals = {name: getattr(task_class, name) for name in _METHODS}
            for name, original in originals.items():
                setattr(task_class, name, wrappers[name](original))
            _originals.update(originals)
        except Exception:
            _logger.exception("otel_context: instrumenting django.tasks failed; tasks get no ids")
            return False
        return True


def uninstrument() -> None:
    """Put ``django.tasks.Task``'s own methods back.

    .. versionadded:: 0.1.0
    """
    with _lock:
        if not _originals:
            return
        task_class = importlib.import_module("django.tasks").Task
        for name, original in _originals.items():
            setattr(task_class, name, original)
        _originals.clear()


def _with_carrier(kwargs: dict[str, Any]) -> dict[str, Any]:
    """*kwargs* plus the carrier; a carrier the caller passed itself is left alone."""
    if task_carrier.CARRIER_KEY in kwargs:
        return kwargs
    return {**kwargs, task_carrier.CARRIER_KEY: task_carrier.capture()}  # capture() never raises


def _producer_span(task: _Task) -> contextlib.AbstractContextManager[trace.Span]:
    tracer = trace.get_tracer(TRACER_NAME)
    return tracer.start_as_current_span(f"enqueue/{task.module_path}", kind=trace.SpanKind.PRODUCER)


def _record_id(span: trace.Span, result: object) -> None:
    result_id = getattr(result, "id", None)
    if isinstance(result_id, str):
        span.set_attribute(_MESSAGE_ID, result_id)


def _enqueue(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def enqueue(self: _Task, *args: Any, **kwargs: Any) -> Any:
        with _producer_span(self) as span:
            result = original(self, *args, **_with_carrier(kwargs))
            _record_id(span, result)
            return result

    return enqueue


def _aenqueue(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    async def aenqueue(self: _Task, *args: Any, **kwargs: Any) -> Any:
        with _producer_span(self) as span:
            result = await original(self, *args, **_with_carrier(kwargs))
            _record_id(span, result)
            return result

    return aenqueue


def _take_carrier(task: _Task, kwargs: dict[str, Any]) -> tuple[bool, object]:
    """Whether *kwargs* hold a carrier, and the carrier, removed unless the function wants it."""
    if task_carrier.CARRIER_KEY not in kwargs:
        return False, None
    if _declares_carrier(task.func):
        return True, kwargs[task_carrier.CARRIER_KEY]
    return True, kwargs.pop(task_carrier.CARRIER_KEY)


@functools.lru_cache(maxsize=512)
def _declares_carrier(func: Callable[..., Any]) -> bool:
    try:
        return task_carrier.CARRIER_KEY in inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False


def _restored(task: _Task, stack: contextlib.ExitStack, carrier: object) -> None:
    """Enter :func:`otel_context.task_carrier.restore` on *stack*; a failure only loses the ids."""
    try:
        stack.enter_context(task_carrier.restore(carrier, span_name=f"run/{task.module_path}"))
    except Exception:
        _logger.exception("otel_context: restoring the task context failed; no ids on its logs")


def _call(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def call(self: _Task, *args: Any, **kwargs: Any) -> Any:
        carried, carrier = _take_carrier(self, kwargs)
        if not carried and current_scope() is not None:  # called directly inside a scope
            return original(self, *args, **kwargs)
        with contextlib.ExitStack() as stack:
            _restored(self, stack, carrier)
            return original(self, *args, **kwargs)

    return call


def _acall(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    async def acall(self: _Task, *args: Any, **kwargs: Any) -> Any:
        carried, carrier = _take_carrier(self, kwargs)
        if not carried and current_scope() is not None:
            return await original(self, *args, **kwargs)
        with contextlib.ExitStack() as stack:
            _restored(self, stack, carrier)
            return await original(self, *args, **kwargs)

    return acall
