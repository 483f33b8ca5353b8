"""Units of work outside a request: management commands, scripts, cron jobs.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING

from opentelemetry import trace

from otel_context import correlation
from otel_context.attributes import CORRELATION_ID, dotted
from otel_context.conf import get_config
from otel_context.scope import RequestScope, scoped
from otel_context.sdk import _default_provider

if TYPE_CHECKING:
    from collections.abc import Iterator

TRACER_NAME = "otel_context"


@contextmanager
def background(name: str, **ids: object) -> Iterator[RequestScope]:
    """Run a block as its own unit of work: a span named *name*, a correlation id, a scope.

    Every event logged inside carries the span's trace ids, the correlation id (generated
    unless given as ``correlation__id=``) and *ids*. The span is a child of the current span
    if there is one, else a new trace.

    .. versionadded:: 0.1.0
    """
    if _default_provider.armed:  # a management command's first span
        _default_provider.set_up()
    config = get_config()
    given = {dotted(key): value for key, value in ids.items()}
    given.setdefault(CORRELATION_ID, correlation.generate(config.correlation_id_generator))
    tracer = trace.get_tracer(TRACER_NAME)
    with tracer.start_as_current_span(name) as span:
        scope = RequestScope(span, span_attributes=config.span_attributes, keys=config.server_owned)
        with scoped(scope, **given):
            try:
                yield scope
            finally:
                scope.close()
