"""The Celery adapter: a task runs in the trace and with the ids of the request that enqueued it.

``opentelemetry-instrumentation-celery`` makes the task span a child of the publishing span
through its own ``traceparent`` header. Our identifiers cannot ride along in that header's
``baggage``: the outbound policy sends baggage only to known hosts, and a publish span has
no destination host. So they travel in a header of their own, :data:`HEADER`, holding
:func:`otel_context.task_carrier.capture`'s carrier (about 180 bytes), and the worker restores
them around the task body as a scope on the task span.

Call :func:`instrument` in the producer and in the worker (e.g. next to the Celery app).

``instrumentation`` holds :func:`instrument` and :func:`uninstrument`; ``hooks`` the signal
receivers they connect.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from otel_context.celery.hooks import HEADER
from otel_context.celery.instrumentation import instrument, uninstrument

__all__ = ["HEADER", "instrument", "uninstrument"]
