"""``instrument_app``: instrument a Flask app and put otel_context's request functions in place.

Ours go right after the instrumentation's own ``before_request`` and ``teardown_request``
functions (found by their ``__qualname__``), so the scope is attached after the span and ended
before it: last in, first out. The functions themselves are in :mod:`otel_context.flask.hooks`.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, Final

from opentelemetry.instrumentation.flask import FlaskInstrumentor

from otel_context import _private
from otel_context.conf import mark_final
from otel_context.flask import hooks
from otel_context.log_records import _handler_ids
from otel_context.propagation import prepare

if TYPE_CHECKING:
    import flask

__all__ = ["EXTENSION", "INSTRUMENTOR_OPTIONS", "instrument_app"]

# The logger keeps the name it had before the code moved here: filters on it still apply.
_logger = logging.getLogger("otel_context.flask")
#: The ``__qualname__`` prefixes of the instrumentation's request functions (it keeps no
#: reference to its teardown function on every path): ours go right after each.
_BEFORE_PREFIX: Final[str] = _private.resolve(_private.FLASK_BEFORE_REQUEST).__name__ + "."
_TEARDOWN_PREFIX: Final[str] = _private.resolve(_private.FLASK_TEARDOWN).__name__ + "."
_lock = threading.Lock()
#: The ``app.extensions`` key marking an app as set up.
EXTENSION: Final = "otel_context"
#: ``instrument_app`` keywords handed to ``FlaskInstrumentor.instrument_app``.
INSTRUMENTOR_OPTIONS: Final = (
    "tracer_provider",
    "meter_provider",
    "excluded_urls",
    "enable_commenter",
    "commenter_options",
    "request_hook",
    "response_hook",
)


def _insert_after(functions: list[Any], anchor: object, ours: object) -> None:
    functions.insert(functions.index(anchor) + 1, ours)


def _instrumentation_function(functions: list[Any], name: _private.PrivateName) -> object:
    """The instrumentation's function among *functions*, made by *name*.

    Raises:
        otel_context._private.MissingPrivateNameError: it is not there; with it, the order
            of the scope and the span (last in, first out) would be lost.
    """
    prefix = _BEFORE_PREFIX if name is _private.FLASK_BEFORE_REQUEST else _TEARDOWN_PREFIX
    found = [f for f in functions if getattr(f, "__qualname__", "").startswith(prefix)]
    if not found:
        raise _private.MissingPrivateNameError(_private.message(name))
    return found[0]


def _register(app: flask.Flask) -> None:
    before = app.before_request_funcs.setdefault(None, [])
    teardown = app.teardown_request_funcs.setdefault(None, [])
    before_anchor = _instrumentation_function(before, _private.FLASK_BEFORE_REQUEST)
    teardown_anchor = _instrumentation_function(teardown, _private.FLASK_TEARDOWN)
    _insert_after(before, before_anchor, hooks.before_request)
    app.after_request_funcs.setdefault(None, []).append(hooks.after_request)
    _insert_after(teardown, teardown_anchor, hooks.teardown_request)
    app.wsgi_app = hooks.ContextGuard(app.wsgi_app)  # type: ignore[method-assign]


def instrument_app(app: flask.Flask, **options: Any) -> None:
    """Enable otel_context for a Flask app; safe to call more than once.

    Instruments *app* with ``FlaskInstrumentor().instrument_app`` unless it already is (by
    ``FlaskInstrumentor().instrument()`` or ``opentelemetry-instrument``), then adds
    otel_context's request functions. Identifiers: ``correlation.id`` from the request
    headers (validated, echoed on every response); ``URL_KWARGS`` rules on
    ``request.view_args``; each ``RESOLVERS`` callable ``(flask.Request) -> str | None`` once
    the request is routed, and once more when the response starts if it found nothing. Flask
    has no authentication of its own: ``user.id`` is whatever the resolver named ``"user.id"``
    returns. ``USER_ID_FIELD`` applies to Django only.

    Args:
        app: The Flask application.
        **options: Lower-case names of otel_context options (``resolvers``, ``url_kwargs``,
            ...), set process-wide with :func:`otel_context.conf.configure`; they win over
            ``OTEL_CONTEXT_*`` environment variables. ``tracer_provider``,
            ``meter_provider``, ``excluded_urls``, ``enable_commenter``,
            ``commenter_options``, ``request_hook`` and ``response_hook`` go to
            ``FlaskInstrumentor.instrument_app`` when otel_context instruments the app.

    Raises:
        otel_context.conf.ConfigurationError: an option has an unusable value.

    .. versionadded:: 0.1.0
    """
    passthrough = {key: options.pop(key) for key in INSTRUMENTOR_OPTIONS if key in options}
    with _lock:
        prepare(options)
        mark_final()  # no Django settings will come: get_config() takes its fast path
        _handler_ids.install()  # OTel LoggingHandler classes export stdlib records with the ids
        if app.extensions.get(EXTENSION):
            return
        if not getattr(app, "_is_instrumented_by_opentelemetry", False):
            FlaskInstrumentor.instrument_app(app, **passthrough)
        elif passthrough:
            _logger.warning(
                "otel_context: %s already instrumented; ignoring %s", app.name, sorted(passthrough)
            )
        _register(app)
        app.extensions[EXTENSION] = True
