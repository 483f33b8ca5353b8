"""The private names of OpenTelemetry packages that otel_context reads, in one table.

Nothing public gives what these give: the Django middleware's hook slots (an already
instrumented Django gets our hooks chained onto its own), the WSGI keys under which the Flask
instrumentation keeps a request's span and activation, the context key of the current span (the
log processor's hot path), ... Each is named here once, with the distribution it comes from and
what it is for, and resolved with :func:`resolve`. A release that drops one then fails at
start-up with one message naming the name, the installed version and the supported range
(:func:`missing`), never by silently losing ids. Importing this module checks :data:`CORE`;
``otel_context/__init__.py`` imports it first. ``tests/test_private.py`` resolves every entry
(on each OTel release train of the test matrix) and simulates the loss of each.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any, Final, NamedTuple

from otel_context import compat

API: Final = "opentelemetry-api"
SDK: Final = "opentelemetry-sdk"
DJANGO: Final = "opentelemetry-instrumentation-django"
FLASK: Final = "opentelemetry-instrumentation-flask"
_DJANGO_MIDDLEWARE_MODULE: Final = "opentelemetry.instrumentation.django.middleware.otel_middleware"
_FLASK_MODULE: Final = "opentelemetry.instrumentation.flask"


class PrivateName(NamedTuple):
    """One private name: ``attribute`` (dotted) of ``module``, from ``distribution``."""

    distribution: str
    module: str
    attribute: str
    #: Where otel_context reads it, and why.
    used_by: str
    #: Set when ``attribute`` lives on instances: the last part is looked up on ``Class()``.
    on_instance: bool = False

    @property
    def path(self) -> str:
        """The full dotted name, e.g. ``opentelemetry.trace.propagation._SPAN_KEY``."""
        return f"{self.module}.{self.attribute}"


DJANGO_MIDDLEWARE: Final = PrivateName(
    DJANGO,
    _DJANGO_MIDDLEWARE_MODULE,
    "_DjangoMiddleware",
    "otel_context.django.instrumentation: its __call__ is wrapped to end abandoned requests",
)
DJANGO_REQUEST_HOOK: Final = PrivateName(
    DJANGO,
    _DJANGO_MIDDLEWARE_MODULE,
    "_DjangoMiddleware._otel_request_hook",
    "otel_context.django.instrumentation: our request hook is chained onto an instrumented Django",
)
DJANGO_RESPONSE_HOOK: Final = PrivateName(
    DJANGO,
    _DJANGO_MIDDLEWARE_MODULE,
    "_DjangoMiddleware._otel_response_hook",
    "otel_context.django.instrumentation: our response hook is chained onto an instrumented Django",
)
DJANGO_ACTIVATION_KEY: Final = PrivateName(
    DJANGO,
    _DJANGO_MIDDLEWARE_MODULE,
    "_DjangoMiddleware._environ_activation_key",
    "otel_context.django.hooks.finish_abandoned: whether process_response still has to run",
)
FLASK_SPAN_KEY: Final = PrivateName(
    FLASK,
    _FLASK_MODULE,
    "_ENVIRON_SPAN_KEY",
    "otel_context.flask: the WSGI environ key of the request's server span",
)
FLASK_ACTIVATION_KEY: Final = PrivateName(
    FLASK,
    _FLASK_MODULE,
    "_ENVIRON_ACTIVATION_KEY",
    "otel_context.flask: the WSGI environ key of the span activation a skipped teardown leaves",
)
FLASK_BEFORE_REQUEST: Final = PrivateName(
    FLASK,
    _FLASK_MODULE,
    "_wrapped_before_request",
    "otel_context.flask: makes app._before_request, which our before_request function follows",
)
FLASK_TEARDOWN: Final = PrivateName(
    FLASK,
    _FLASK_MODULE,
    "_wrapped_teardown_request",
    "otel_context.flask: its inner function's __qualname__ finds the instrumentation's "
    "teardown, which our teardown function follows",
)
SPAN_KEY: Final = PrivateName(
    API,
    "opentelemetry.trace.propagation",
    "_SPAN_KEY",
    "otel_context.processors: the current span in one context lookup (the hot path)",
)
BAGGAGE_KEY: Final = PrivateName(
    API,
    "opentelemetry.baggage",
    "_BAGGAGE_KEY",
    "otel_context._inbound_gate, request: the request's baggage read, and its context built in "
    "one copy (the per-request path)",
)
PROXY_LOGGER_PROVIDER: Final = PrivateName(
    API,
    "opentelemetry._logs._internal",
    "ProxyLoggerProvider",
    "otel_context.sdk: whether someone already set a global logger provider",
)
TRACE_STATE_ENTRIES: Final = PrivateName(
    API,
    "opentelemetry.trace.span",
    "TraceState._dict",
    "otel_context.tracestate: validated Level 2 entries set without the SDK's Level 1 check",
    on_instance=True,
)
ATTRIBUTES_DICT: Final = PrivateName(
    API,
    "opentelemetry.attributes",
    "BoundedAttributes._dict",
    "otel_context.request.settle_span: the SDK span's attributes (its _attributes) read back "
    "as a dict, once a request; the public mapping is read where it is missing",
    on_instance=True,
)
#: The logs signal is still ``_logs`` in the API and the SDK: its whole public surface is
#: private by name. otel_context imports these from there (log_records and sdk).
LOGS_API: Final = PrivateName(
    API, "opentelemetry", "_logs", "otel_context.sdk: get/set_logger_provider"
)
LOGS_GET_PROVIDER: Final = PrivateName(
    API, "opentelemetry._logs", "get_logger_provider", "otel_context.log_records, .sdk"
)
LOGS_SEVERITY: Final = PrivateName(
    API, "opentelemetry._logs", "SeverityNumber", "otel_context.log_records: log record severities"
)
LOGS_SDK_PROVIDER: Final = PrivateName(
    SDK, "opentelemetry.sdk._logs", "LoggerProvider", "otel_context.sdk"
)
LOGS_SDK_BATCH: Final = PrivateName(
    SDK, "opentelemetry.sdk._logs.export", "BatchLogRecordProcessor", "otel_context.sdk"
)
LOGS_SDK_CONSOLE: Final = PrivateName(
    SDK, "opentelemetry.sdk._logs.export", "ConsoleLogRecordExporter", "otel_context.sdk"
)
#: Read by the type checker only (``if TYPE_CHECKING:`` imports).
LOGS_LOGGER: Final = PrivateName(
    API, "opentelemetry._logs", "Logger", "otel_context.log_records (annotations)"
)
LOGS_PROVIDER: Final = PrivateName(
    API, "opentelemetry._logs", "LoggerProvider", "otel_context.log_records (annotations)"
)
LOGS_SDK_RECORD: Final = PrivateName(
    SDK, "opentelemetry.sdk._logs", "ReadableLogRecord", "otel_context.sdk (annotations)"
)
LOGS_SDK_EXPORTER: Final = PrivateName(
    SDK,
    "opentelemetry.sdk._logs.export",
    "LogRecordExporter",
    "otel_context.sdk (annotations)",
)

#: Read where they are, the public API where they are not: not required at start-up.
OPTIONAL: Final = (ATTRIBUTES_DICT,)
#: Every private name otel_context reads, by the part of otel_context that needs it.
CORE: Final = (
    SPAN_KEY,
    BAGGAGE_KEY,
    PROXY_LOGGER_PROVIDER,
    TRACE_STATE_ENTRIES,
    LOGS_API,
    LOGS_GET_PROVIDER,
    LOGS_SEVERITY,
    LOGS_SDK_PROVIDER,
    LOGS_SDK_BATCH,
    LOGS_SDK_CONSOLE,
)
DJANGO_NAMES: Final = (
    DJANGO_MIDDLEWARE,
    DJANGO_REQUEST_HOOK,
    DJANGO_RESPONSE_HOOK,
    DJANGO_ACTIVATION_KEY,
)
FLASK_NAMES: Final = (FLASK_SPAN_KEY, FLASK_ACTIVATION_KEY, FLASK_BEFORE_REQUEST, FLASK_TEARDOWN)
TYPING: Final = (LOGS_LOGGER, LOGS_PROVIDER, LOGS_SDK_RECORD, LOGS_SDK_EXPORTER)
ALL: Final = CORE + DJANGO_NAMES + FLASK_NAMES + TYPING + OPTIONAL


class MissingPrivateNameError(ImportError):
    """An OpenTelemetry release otel_context does not support lacks a name it reads."""


def message(name: PrivateName) -> str:
    """One line: what is missing, the installed version, the supported range, the fix."""
    installed = compat.installed_version(name.distribution) or "not installed"
    supported = compat.supported_range(name.distribution)
    specifier = supported.specifier if supported else "(any)"
    return (
        f"otel_context needs {name.path} ({name.used_by}), but {name.distribution} "
        f"{installed} does not have it. otel_context supports {name.distribution}"
        f"{specifier}: pip install '{name.distribution}{specifier}'."
    )


def _lookup(name: PrivateName) -> Any:
    found: Any = importlib.import_module(name.module)
    parts = name.attribute.split(".")
    for index, part in enumerate(parts):
        if name.on_instance and index == len(parts) - 1:
            found = found()
        if isinstance(found, ModuleType) and not hasattr(found, part):
            found = importlib.import_module(f"{found.__name__}.{part}")  # a submodule
        else:
            found = getattr(found, part)
    return found


def resolve(name: PrivateName) -> Any:
    """The object *name* stands for.

    Raises:
        MissingPrivateNameError: the installed release lacks it (the message says which).
    """
    try:
        return _lookup(name)
    except (ImportError, AttributeError) as exc:
        raise MissingPrivateNameError(message(name)) from exc


def missing(names: tuple[PrivateName, ...]) -> list[str]:
    """The :func:`message` of each of *names* the installed releases lack."""
    found = []
    for name in names:
        try:
            _lookup(name)
        except (ImportError, AttributeError):
            found.append(message(name))
    return found


def require(names: tuple[PrivateName, ...]) -> None:
    """Raise one error naming every one of *names* the installed releases lack.

    Raises:
        MissingPrivateNameError: at least one is missing.
    """
    problems = missing(names)
    if problems:
        raise MissingPrivateNameError(" ".join(problems))


require(CORE)  # before the modules that import them: one clear error instead of a traceback
