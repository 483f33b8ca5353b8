"""Carry a request's trace and identifiers into a task, for any task runner.

At enqueue time :func:`capture` returns a small JSON-serialisable carrier: the W3C
``traceparent`` (and ``tracestate``) of the current span and the identifiers allowed to
travel, as a ``baggage`` string. Nothing else from the context goes: no structlog
contextvars and no other baggage (shipping the whole context bloats every message and breaks
on values that are not JSON; django-structlog #34, #277). At run time :func:`restore` (or the
:func:`restored` decorator) makes the carried trace the parent and the identifiers current
around the task body.

A carrier is read like inbound headers: whatever is wrong with it is dropped (with a debug
log that never repeats its content) and the task still runs, in a new trace and with a
generated correlation id if that is what it takes. A typical carrier (trace context, a
correlation id and three short ids) is 180 bytes once JSON-encoded.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import functools
import inspect
import logging
import re
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, ParamSpec, TypeVar, cast

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from otel_context import correlation
from otel_context.attributes import CORRELATION_ID
from otel_context.baggage import accept_identifier
from otel_context.conf import get_config
from otel_context.flight_recorder import held_lines, note_status
from otel_context.patterns import key_allowed
from otel_context.propagation import encode_baggage, parse_baggage
from otel_context.scope import RequestScope, current_scope, scoped
from otel_context.work import background

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from otel_context.conf import Config

__all__ = [
    "CARRIER_KEY",
    "MAX_CARRIER_SIZE",
    "MAX_IDENTIFIERS",
    "Carried",
    "capture",
    "read",
    "restore",
    "restored",
]

P = ParamSpec("P")
R = TypeVar("R")

#: The keyword argument (and Celery message header) a carrier travels under by default.
CARRIER_KEY: Final = "otel_context"
#: A carrier whose values add up to more characters than this is ignored whole (the W3C
#: baggage limit; a typical carrier is 180).
MAX_CARRIER_SIZE: Final = 8192
#: At most this many identifiers are restored (the W3C minimum a baggage reader must take).
MAX_IDENTIFIERS: Final = 64

_TRACEPARENT: Final = "traceparent"
_TRACESTATE: Final = "tracestate"
_BAGGAGE: Final = "baggage"
#: W3C tracestate: at most 512 characters of printable ASCII (checked before the SDK parses
#: it, because the SDK logs a malformed member verbatim).
_TRACESTATE_SAFE: Final = re.compile(r"[\x20-\x7e]{0,512}")
_trace_context = TraceContextTextMapPropagator()
# The logger keeps the name it had before the code moved here: filters on it still apply.
_logger = logging.getLogger("otel_context.tasks")


@dataclass(frozen=True, slots=True)
class Carried:
    """What a validated carrier holds.

    .. versionadded:: 0.1.0
    """

    #: The remote span the task continues, or ``None`` (the task starts a new trace).
    parent: trace.SpanContext | None = None
    #: Accepted identifiers, always with a ``correlation.id``.
    identifiers: dict[str, str] = field(default_factory=dict)


def capture() -> dict[str, str]:
    """Capture the current trace context and travelling identifiers for a task message.

    Identifiers travel only with ``PROPAGATE_IDENTIFIERS`` and only the keys matched by
    ``OUTBOUND_BAGGAGE_KEYS``. Never raises: on an internal error the carrier is empty.

    Returns:
        ``traceparent`` (and ``tracestate``) of a valid current span, and ``baggage`` with
        the identifiers; empty outside a span and a scope. Strings only: JSON-serialisable.

    .. versionadded:: 0.1.0
    """
    carrier: dict[str, str] = {}
    try:
        _trace_context.inject(carrier)
        ids = _travelling(get_config())
        room = MAX_CARRIER_SIZE - sum(len(value) for value in carrier.values())
        header = encode_baggage(ids, MAX_IDENTIFIERS, room) if ids else ""
        if header:
            carrier[_BAGGAGE] = header
    except Exception:
        _logger.exception("otel_context: capturing the task context failed; it starts afresh")
        return {}
    return carrier


def _travelling(config: Config) -> dict[str, str]:
    scope = current_scope()
    if scope is None or not config.propagate_identifiers:
        return {}
    return {
        key: value
        for key, value in scope.identifiers().items()
        if key_allowed(key, config.outbound_baggage_keys)
    }


def read(carrier: object, config: Config | None = None) -> Carried:
    """Validate *carrier* as :func:`capture` made it; never raises.

    A carrier that is not a mapping, or whose values exceed :data:`MAX_CARRIER_SIZE`, is
    ignored whole; a value that is not a string is ignored. An invalid ``traceparent`` means
    a new trace. Identifiers are kept if their key is server-owned or matched by
    ``OUTBOUND_BAGGAGE_KEYS`` (what a producer with the same configuration sends), their
    value is printable and at most 256 characters, and ``correlation.id`` has the shape a
    request header must have; a missing or invalid correlation id is generated.

    Args:
        carrier: What :func:`capture` returned, after its trip through the task queue.
        config: The configuration to validate against; default: the current one.

    Returns:
        The parent span context (or ``None``) and the accepted identifiers.

    .. versionadded:: 0.1.0
    """
    try:
        config = get_config() if config is None else config
        fields = _fields(carrier)
        ids = _identifiers(fields.get(_BAGGAGE, ""), config)
        if CORRELATION_ID not in ids:
            ids[CORRELATION_ID] = correlation.generate(config.correlation_id_generator)
        return Carried(_parent(fields), ids)
    except Exception:
        _logger.exception("otel_context: reading a task carrier failed; the task starts afresh")
        return Carried(None, {CORRELATION_ID: correlation.generate()})


def _fields(carrier: object) -> dict[str, str]:
    """The carrier's known string entries, or nothing if it is no mapping or too large."""
    if not isinstance(carrier, Mapping):
        if carrier is not None:
            _logger.debug("task carrier ignored: a %s, not a mapping", type(carrier).__name__)
        return {}
    fields: dict[str, str] = {}
    for name in (_TRACEPARENT, _TRACESTATE, _BAGGAGE):
        value = carrier.get(name)
        if isinstance(value, str):
            fields[name] = value
        elif value is not None:
            _logger.debug("task carrier entry %s ignored: not a string", name)
    size = sum(len(value) for value in fields.values())
    if size > MAX_CARRIER_SIZE:
        _logger.debug("task carrier of %d characters ignored (limit %d)", size, MAX_CARRIER_SIZE)
        return {}
    return fields


def _parent(fields: dict[str, str]) -> trace.SpanContext | None:
    if not _TRACESTATE_SAFE.fullmatch(fields.get(_TRACESTATE, "")):
        fields.pop(_TRACESTATE)  # malformed: keep the trace, drop its vendor state
    context = _trace_context.extract(fields, otel_context.Context())
    span_context = trace.get_current_span(context).get_span_context()
    if not span_context.is_valid and _TRACEPARENT in fields:
        _logger.debug("task carrier traceparent invalid: the task starts a new trace")
    return span_context if span_context.is_valid else None


def _identifiers(header: str, config: Config) -> dict[str, str]:
    ids: dict[str, str] = {}
    entries = parse_baggage(header) if header else {}
    for key, value in entries.items():
        if len(ids) >= MAX_IDENTIFIERS:
            break
        if key in config.server_owned or key_allowed(key, config.outbound_baggage_keys):
            accepted = _accept(key, value, config)
            if accepted is not None:
                ids[key] = accepted
    if len(ids) < len(entries):
        _logger.debug("task carrier: %d identifier(s) dropped", len(entries) - len(ids))
    return ids


def _accept(key: str, value: str, config: Config) -> str | None:
    # Ids accepted from a trusted proxy may have any header-safe shape: accept the same shapes
    # here, or the task would get a new id and lose its request's log lines.
    return accept_identifier(key, value, trusted_correlation=config.trust_correlation_id)


@contextmanager
def restore(carrier: object, *, span_name: str | None = None) -> Iterator[RequestScope]:
    """Run a block with the trace and identifiers of *carrier* (see :func:`read`).

    Every event logged inside carries the carried ``trace_id`` and identifiers; with
    ``HOLD_LINES``, a task in a sampled-out trace holds the lines the log sampling would drop
    and writes them if the block raises, runs longer than ``HOLD_SLOW_MS`` or logs an error,
    as a request does. The carried
    span becomes the current parent; with *span_name* a span of that name starts as its child
    (with the identifiers as attributes), else events carry the producer's ``span_id``.
    Without a valid parent the task starts a new trace, or continues a span already current.

    Args:
        carrier: What :func:`capture` returned at enqueue time; anything else is sanitised.
        span_name: Name of a span to start around the block, or ``None`` for no span.

    Returns:
        A context manager yielding the task's :class:`~otel_context.RequestScope`, which
        ``otel_context.bind()`` inside the block adds to.

    .. versionadded:: 0.1.0
    """
    config = get_config()
    carried = read(carrier, config)
    context = otel_context.get_current()
    if carried.parent is not None:
        context = trace.set_span_in_context(trace.NonRecordingSpan(carried.parent), context)
    token = otel_context.attach(context)
    try:
        if span_name is not None:
            with background(span_name, **carried.identifiers) as scope, _holding(scope, config):
                yield scope
            return
        scope = RequestScope(
            trace.get_current_span(),
            span_attributes=config.span_attributes,
            keys=config.server_owned,
        )
        with scoped(scope, **carried.identifiers):
            try:
                with _holding(scope, config):
                    yield scope
            finally:
                scope.close()
    finally:
        otel_context.detach(token)


@contextmanager
def _holding(scope: RequestScope, config: Config) -> Iterator[None]:
    """``HOLD_LINES`` for a task: its lines held as a request's; an exception is a 5xx."""
    if config.hold_lines:
        scope.held = held_lines(scope.span, config)
    try:
        yield
    except BaseException:
        note_status(scope, 500)
        raise
    note_status(scope, 200)


def restored(
    keyword: str = CARRIER_KEY, *, span_name: str | None = None
) -> Callable[[Callable[P, R]], Callable[..., R]]:
    """Decorate a task function to run inside :func:`restore` of its ``keyword`` argument.

    The carrier is passed as a keyword argument at enqueue time, e.g.
    ``queue.enqueue(send_mail, 42, otel_context=capture())``. It is removed before the call
    unless the function declares a parameter of that name. Coroutine functions are supported.

    Args:
        keyword: The keyword argument holding the carrier.
        span_name: Name of a span to start around each call, or ``None`` for no span.

    Returns:
        A decorator; the decorated function also accepts the carrier keyword.

    .. versionadded:: 0.1.0
    """

    def decorate(fn: Callable[P, R]) -> Callable[..., R]:
        keep = keyword in inspect.signature(fn).parameters

        def carrier_of(kwargs: dict[str, Any]) -> object:
            return kwargs.get(keyword) if keep else kwargs.pop(keyword, None)

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with restore(carrier_of(kwargs), span_name=span_name):
                    return await fn(*args, **kwargs)

            return cast("Callable[..., R]", run_async)  # R is the coroutine type here

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> R:
            with restore(carrier_of(kwargs), span_name=span_name):
                return fn(*args, **kwargs)

        return run

    return decorate
