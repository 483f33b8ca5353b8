"""The test service the W3C Trace Context validation harness drives (Django and Flask apps).

The harness POSTs a JSON list of ``{"url": ..., "arguments": [...]}`` actions; the service
POSTs each action's ``arguments`` to its ``url`` with instrumented ``requests``, so the harness
sees the ``traceparent`` / ``tracestate`` the service sends on (see the harness's README).
"""

from __future__ import annotations

import json
import os

import requests
from opentelemetry import propagate
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.instrumentation.requests import RequestsInstrumentor
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

#: ``true``: the control run, with otel_context's propagator wrapper switched off.
CONTROL_ENV = "OTEL_CONTEXT_TEST_W3C_CONTROL"
TIMEOUT = 5


def call_back(body: bytes) -> int:
    """Make the calls the harness asked for in *body*; return how many were made."""
    actions = json.loads(body or b"[]")
    for action in actions:
        requests.post(action["url"], json=action.get("arguments") or [], timeout=TIMEOUT)
    return len(actions)


def prepare_process() -> None:
    """Instrument ``requests``; for the control run, put the SDK's own propagators back.

    Call it after the app is set up (otel_context wraps the global propagator then).
    """
    instrumentor = RequestsInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:  # opentelemetry-instrument did it
        instrumentor.instrument()
    if os.environ.get(CONTROL_ENV, "").lower() == "true":
        plain = CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])
        propagate.set_global_textmap(plain)
