"""Enable otel_context on Django: hooks, propagator and middleware, exactly once.

``DjangoInstrumentor`` keeps one request hook and one response hook as class attributes of
its middleware, and a second ``instrument()`` call only warns and drops the new hooks
(opentelemetry-python-contrib #2296). So when Django is already instrumented (e.g. by
``opentelemetry-instrument``), ours are chained onto the existing ones instead: both run,
ours outermost (our scope is attached first and detached last).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import functools
import logging
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

from otel_context import _private
from otel_context.conf import ConfigurationError
from otel_context.django import hooks
from otel_context.django import tasks as django_tasks
from otel_context.django.middleware import CORRELATION_PATH
from otel_context.django.middleware import PATH as MIDDLEWARE_PATH
from otel_context.log_records import _handler_ids
from otel_context.log_records._official_structlog import TAKEN_OUT, export_once
from otel_context.propagation import install_propagator, prepare
from otel_context.sdk import _default_provider

_logger = logging.getLogger(__name__)
_lock = threading.Lock()
AUTH_MIDDLEWARE = "django.contrib.auth.middleware.AuthenticationMiddleware"
RequestHook = Callable[..., None]


class _Chained:
    """Two hooks run in order, each guarded; marked so we never chain ourselves twice."""

    __slots__ = ("first", "second")

    def __init__(self, first: RequestHook, second: RequestHook) -> None:
        self.first, self.second = first, second

    def __call__(self, *args: Any) -> None:
        for hook in (self.first, self.second):
            try:
                hook(*args)
            except Exception:
                _logger.exception("otel_context: chained instrumentation hook %r failed", hook)


def contains(hook: object, ours: RequestHook) -> bool:
    """Whether *hook* is *ours*, or a chain of hooks that includes it."""
    if hook is ours:
        return True
    return isinstance(hook, _Chained) and (
        contains(hook.first, ours) or contains(hook.second, ours)
    )


def _middleware_class() -> Any:
    return _private.resolve(_private.DJANGO_MIDDLEWARE)


def _require_private_names() -> None:
    """Refuse to start, naming each private name this contrib release lacks.

    Raises:
        django.core.exceptions.ImproperlyConfigured: one or more are missing.
    """
    problems = _private.missing(_private.DJANGO_NAMES)
    if problems:
        from django.core.exceptions import ImproperlyConfigured  # noqa: PLC0415

        raise ImproperlyConfigured(" ".join(problems))


def _install_hooks(**instrument_kwargs: Any) -> None:
    from opentelemetry.instrumentation.django import DjangoInstrumentor  # noqa: PLC0415

    instrumentor = DjangoInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(
            request_hook=hooks.request_hook, response_hook=hooks.response_hook, **instrument_kwargs
        )
        return
    middleware = _middleware_class()
    existing_request = middleware._otel_request_hook  # noqa: SLF001
    existing_response = middleware._otel_response_hook  # noqa: SLF001
    if not contains(existing_request, hooks.request_hook):
        middleware._otel_request_hook = (  # noqa: SLF001
            _Chained(hooks.request_hook, existing_request)
            if existing_request
            else hooks.request_hook
        )
    if not contains(existing_response, hooks.response_hook):
        middleware._otel_response_hook = (  # noqa: SLF001
            _Chained(existing_response, hooks.response_hook)
            if existing_response
            else hooks.response_hook
        )


def _guarded(call: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    @functools.wraps(call)
    def __call__(self: Any, request: Any) -> Any:  # noqa: N807 - it replaces __call__
        if _default_provider.armed:  # the first request: before the server span starts
            _default_provider.set_up()
        try:
            return call(self, request)
        except BaseException as error:  # CancelledError: an ASGI client disconnect
            hooks.finish_abandoned(self, request, error)
            raise

    __call__.otel_context_guard = True  # type: ignore[attr-defined]
    return __call__


def _install_guard() -> None:
    """End requests that never reach ``process_response`` (see ``hooks.finish_abandoned``)."""
    middleware = _middleware_class()
    if not getattr(middleware.__call__, "otel_context_guard", False):
        middleware.__call__ = _guarded(middleware.__call__)


def _install_middleware() -> None:
    """Put otel_context's middleware in place, each unless listed.

    ``IdentifiersMiddleware`` right after ``AuthenticationMiddleware``; ``CorrelationMiddleware``
    right before the instrumentation's middleware (first, by default).
    """
    from django.conf import settings  # noqa: PLC0415

    middleware = list(settings.MIDDLEWARE)
    if MIDDLEWARE_PATH not in middleware:
        position = (
            middleware.index(AUTH_MIDDLEWARE) + 1
            if AUTH_MIDDLEWARE in middleware
            else len(middleware)
        )
        middleware.insert(position, MIDDLEWARE_PATH)
    if CORRELATION_PATH not in middleware:
        otel = _private.DJANGO_MIDDLEWARE.path
        middleware.insert(middleware.index(otel) if otel in middleware else 0, CORRELATION_PATH)
    if middleware != list(settings.MIDDLEWARE):
        settings.MIDDLEWARE = middleware


def instrument(**options: Any) -> None:
    """Enable otel_context for Django; safe to call more than once.

    Adding ``"otel_context"`` to ``INSTALLED_APPS`` calls this for you. Call it yourself to
    pass options in code (they win over the ``OTEL_CONTEXT`` setting), before the WSGI/ASGI
    handler is built (e.g. in ``wsgi.py`` before ``get_wsgi_application()``).

    Args:
        **options: Lower-case names of ``OTEL_CONTEXT`` options, e.g. ``user_id_field="uuid"``.
            ``tracer_provider``, ``meter_provider`` and ``excluded_urls`` are passed on to
            ``DjangoInstrumentor().instrument()`` when otel_context is the one instrumenting.

    Raises:
        otel_context.conf.ConfigurationError: an option has an unusable value.
        django.core.exceptions.ImproperlyConfigured: the installed Django instrumentation lacks
            a private name otel_context reads (the message names it, and the supported range).

    .. versionadded:: 0.1.0
    """
    passthrough = {
        key: options.pop(key)
        for key in ("tracer_provider", "meter_provider", "excluded_urls")
        if key in options
    }
    _require_private_names()
    if _start(**passthrough):
        _logger.warning(TAKEN_OUT)
    try:  # last: with a bad option everything is in place to refuse start-up with one line
        prepare(options)
    except ConfigurationError as exc:
        raise ConfigurationError(str(exc), problems=exc.problems) from None  # no inner frames


def _start(**instrument_kwargs: Any) -> bool:
    """The start-up :func:`instrument` and :func:`post_instrument` share.

    Returns:
        Whether the official structlog exporter was taken out (the caller says so once).
    """
    with _lock:
        install_propagator()
        _install_hooks(**instrument_kwargs)
        _install_guard()
        _install_middleware()  # reads the settings: structlog gets the application's chain
    django_tasks.instrument()  # Django 6.0+: a no-op before
    _handler_ids.install()  # OTel LoggingHandler classes export stdlib records with the ids
    return export_once()


def settings_trap() -> str | None:
    """Why Django's settings are its defaults after ``DjangoInstrumentor`` ran, or None.

    When ``DJANGO_SETTINGS_MODULE`` is not in the environment (a ``wsgi.py`` that sets it runs
    too late) or names a module that does not import, the instrumentor calls
    ``settings.configure()`` with Django's defaults; the project's settings are then never
    loaded and every request fails with "'Settings' object has no attribute 'ROOT_URLCONF'".
    """
    from django.conf import ENVIRONMENT_VARIABLE, settings  # noqa: PLC0415

    if not settings.configured or settings.SETTINGS_MODULE:
        return None
    if getattr(settings, "ROOT_URLCONF", None) is not None:
        return None  # configured in code, on purpose (settings.configure(ROOT_URLCONF=...))
    module = os.environ.get(ENVIRONMENT_VARIABLE)  # Django's own variable, read as Django does
    fix = f"export {ENVIRONMENT_VARIABLE}=yourproject.settings before opentelemetry-instrument"
    fallback = (
        "DjangoInstrumentor configured Django with its defaults: every request of a Django "
        "project will fail (no attribute ROOT_URLCONF). Fix: "
    )
    if module:
        return (
            f"otel_context: {ENVIRONMENT_VARIABLE}={module} did not import when "
            f"opentelemetry-instrument started, so {fallback}make it importable from the "
            f"working directory (PYTHONPATH), or {fix}."
        )
    return (
        f"otel_context: {ENVIRONMENT_VARIABLE} is not in the environment when "
        "opentelemetry-instrument starts (setting it in wsgi.py/asgi.py is too late), so "
        f"{fallback}{fix}."
    )


def _zero_code_problem() -> str | None:
    """One line saying why zero-code set-up cannot work here, or None."""
    problems = _private.missing(_private.DJANGO_NAMES)
    if problems:
        return "otel_context: zero-code set-up skipped, Django requests have no ids. " + " ".join(
            problems
        )
    return settings_trap()


def _printed(logger: logging.Logger) -> bool:
    """Whether an error on *logger* reaches a stream (a file, stderr, ...)."""
    handlers = []
    current: logging.Logger | None = logger
    while current is not None:
        handlers += current.handlers
        current = current.parent if current.propagate else None
    if not handlers:
        return logging.lastResort is not None  # Python's own: errors to stderr
    return any(isinstance(handler, logging.StreamHandler) for handler in handlers)


def _report(problem: str, level: int = logging.ERROR) -> None:
    """Log *problem* at *level*, and write it to stderr if no handler would show it.

    At post-instrument time the application's logging is not configured yet, and the OTel
    distribution may have put only its exporting ``LoggingHandler`` on the root logger.
    """
    _logger.log(level, problem)
    if not _printed(_logger):
        sys.stderr.write(problem + "\n")


def post_instrument() -> None:
    """Zero-code entry point, run by ``opentelemetry-instrument`` after every instrumentor.

    Registered in the ``opentelemetry_post_instrument`` entry-point group, so
    ``opentelemetry-instrument gunicorn app.wsgi`` gets otel_context's hooks with no code.
    Configuration is resolved lazily (``OTEL_CONTEXT_*`` variables, or the setting): the
    application's modules cannot be imported this early. If ``"otel_context"`` is also in
    ``INSTALLED_APPS``, its ``ready()`` finds everything installed and adds nothing.

    Logs one error line instead, naming the fix, when the set-up cannot work: Django's settings
    were configured with the defaults (:func:`settings_trap`), or the instrumentation lacks a
    private name otel_context reads.
    """
    try:
        from opentelemetry.instrumentation.django import DjangoInstrumentor  # noqa: PLC0415

        if not DjangoInstrumentor().is_instrumented_by_opentelemetry:
            return  # not a Django process, or Django instrumentation disabled
        problem = _zero_code_problem()
        if problem is not None:
            _report(problem)
            return
        if _start():
            _report(TAKEN_OUT, logging.WARNING)
        _default_provider.arm()
    except Exception:
        _logger.exception("otel_context: zero-code set-up failed; Django requests have no ids")
