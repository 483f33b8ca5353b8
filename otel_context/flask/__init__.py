"""The Flask adapter: the request scope of :mod:`otel_context.request` around every Flask request.

:func:`instrument_app` adds three things to an app instrumented by
``opentelemetry-instrumentation-flask`` (it instruments the app itself if nothing has):

* a ``before_request`` function placed right after the instrumentation's own: the span is
  current and the request routed, so it filters inbound baggage and attaches the scope
  (:func:`otel_context.request.begin`), then binds URL-kwarg and resolver ids;
* an ``after_request`` function that hands a streamed body the scope under a child span,
  ``<server span name> stream`` (:mod:`otel_context.streaming`), so its chunks carry the ids;
* a ``teardown_request`` function placed right after the instrumentation's own, so Flask
  (which runs teardown functions in reverse order) ends the scope just before the
  instrumentation ends the span and detaches its context: last in, first out;
* an outermost WSGI layer that echoes the correlation id on every response the app starts
  (500s from unhandled exceptions too; a header the app set itself is left as it is) and,
  should a teardown function raise and skip ours, closes the scope and restores the context
  the request found.

Not the instrumentation's ``request_hook``: it runs before the span is current, and an app
already instrumented (e.g. by ``opentelemetry-instrument``) has its hooks sealed in closures.

``instrumentation`` holds :func:`instrument_app`; ``hooks`` the request functions and the WSGI
layer it adds.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from otel_context.flask.hooks import STATE_KEY as STATE_KEY
from otel_context.flask.hooks import ContextGuard as ContextGuard
from otel_context.flask.hooks import RequestState as RequestState
from otel_context.flask.instrumentation import EXTENSION as EXTENSION
from otel_context.flask.instrumentation import INSTRUMENTOR_OPTIONS as INSTRUMENTOR_OPTIONS
from otel_context.flask.instrumentation import instrument_app

__all__ = ["instrument_app"]
