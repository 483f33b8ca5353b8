"""Django system checks: mistakes that would otherwise fail silently.

- ``otel_context.E001``: ASGI without ``opentelemetry-instrumentation-asgi`` traces nothing.
- ``otel_context.E002``: an ``OTEL_CONTEXT`` option is unknown (with "did you mean"), of the
  wrong type or unusable: one message per problem. Servers refuse to start with one line.
- ``otel_context.E003``: a middleware is listed twice.
- ``otel_context.W001``: the OpenTelemetry middleware is not first, after otel_context's
  ``CorrelationMiddleware`` (earlier ones run untraced).
- ``otel_context.E004``: ``StructlogOTelProcessor`` runs after the renderer.
- ``otel_context.W002``: structlog is configured without ``StructlogOTelProcessor``.
- ``otel_context.W003``: the application reads an inbound baggage key the policy drops.
- ``otel_context.W004``: Python, Django, structlog or OpenTelemetry is newer than the range
  otel_context is tested on (``otel_context.compat.SUPPORTED``): it may work, untested.
- ``otel_context.E005``: one of them is older than that range. An Error, so ``manage.py``
  commands stop; silence it (``SILENCED_SYSTEM_CHECKS``) to run untested at your own risk.
- ``otel_context.E006``: the Django instrumentation lacks a private name otel_context reads
  (``otel_context._private``); ``instrument()`` refuses to start for the same reason.
- ``otel_context.W005``: a span processor (``BaggageSpanProcessor``) copies server-owned keys
  from baggage onto spans as they start, and the global propagator is not otel_context's (it
  lets a client's server-owned keys into the context): the server span gets them.
- ``otel_context.W006``: otel_context's hooks are not on the Django instrumentation.
- ``otel_context.W007``: a middleware is missing from ``MIDDLEWARE``, or in the wrong place.
- ``otel_context.W008``: a logging handler formats otel_context's fields without
  ``OTelContextFilter``, or renders stdlib records without ``StructlogOTelProcessor``.
- ``otel_context.W009``: no log line carries the ids: no handler adds them, and structlog's
  chain has no ``StructlogOTelProcessor``.
- ``otel_context.W010``: log sampling is configured (``UNSAMPLED_LOG_RATIO`` below 1) but
  neither ``LogSamplingProcessor`` nor ``LogSamplingFilter`` is installed, or the processor
  comes after ``StructlogOTelLogProcessor`` or the renderer; or ``HOLD_LINES`` is on with
  nothing to hold (the ratio is 1) or with neither ``FlightRecorder`` around the renderer nor
  a ``HeldHandler`` among the logging handlers.
- ``otel_context.W011``: ``KEEP_NOTABLE_TRACES`` is on, but the ``TracerProvider`` was set up
  elsewhere without ``RecordSampledOut``: otel_context cannot add trace keeping to it.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import checks

from otel_context import _private, compat
from otel_context.conf import ConfigurationError, build_config, get_config, problems

#: The baggage-read check scans ``settings.BASE_DIR`` only up to this many ``.py`` files:
#: about 0.35 ms each (read, and parsed only if it mentions baggage; measured on Django's own
#: 836 files on a loaded 2-core machine), so at most ~0.7 s. Beyond, run the catalogue command.
MAX_CHECK_FILES = 2000

ASGI_HINT = compat.install_hint("opentelemetry-instrumentation-asgi", "asgi") + "."
OTEL_MIDDLEWARE = (
    "opentelemetry.instrumentation.django.middleware.otel_middleware._DjangoMiddleware"
)
CORRELATION_MIDDLEWARE = "otel_context.django.middleware.CorrelationMiddleware"
SETTINGS_HINT = "otel_context's settings table (docs/settings.md) lists every option."
Messages = list[checks.CheckMessage]


def asgi_supported() -> bool:
    """Whether the Django instrumentation can trace ASGI requests in this environment."""
    return importlib.util.find_spec("opentelemetry.instrumentation.asgi") is not None


def refuse_asgi_without_extra() -> None:
    """Make building Django's ASGI handler fail while ASGI requests could not be traced.

    Only when ``opentelemetry-instrumentation-asgi`` is missing; the system check (E001) does
    not run under uvicorn, and the middleware's own start-up check depends on its neighbours.
    """
    if asgi_supported():
        return
    from django.core.exceptions import ImproperlyConfigured  # noqa: PLC0415
    from django.core.handlers.asgi import ASGIHandler  # noqa: PLC0415

    def refuse(self: object, *args: object, **kwargs: object) -> None:
        msg = f"otel_context: ASGI requests would not be traced. {ASGI_HINT}"
        raise ImproperlyConfigured(msg)

    ASGIHandler.__init__ = refuse  # type: ignore[method-assign]


@checks.register(checks.Tags.compatibility)
def check_asgi(app_configs: Any = None, **kwargs: Any) -> Messages:
    """ASGI without opentelemetry-instrumentation-asgi traces nothing, silently."""
    if getattr(settings, "ASGI_APPLICATION", None) and not asgi_supported():
        return [
            checks.Error(
                "ASGI_APPLICATION is set but opentelemetry-instrumentation-asgi is not "
                "installed: DjangoInstrumentor skips every ASGI request, so there are no spans "
                "and no identifiers.",
                hint=ASGI_HINT,
                id="otel_context.E001",
            )
        ]
    return []


def require_usable_config() -> None:
    """Refuse to build a request handler while the configuration is unusable.

    ``ready()`` leaves a bad option to the system check (E002), which lists every problem;
    a server that runs no checks (gunicorn, uvicorn) stops here with one line saying what.

    Raises:
        django.core.exceptions.ImproperlyConfigured: naming each problem.
    """
    try:
        get_config()
    except ConfigurationError as exc:
        from django.core.exceptions import ImproperlyConfigured  # noqa: PLC0415

        msg = f"otel_context: unusable configuration: {exc}. `manage.py check` lists each one."
        raise ImproperlyConfigured(msg) from None


@checks.register(checks.Tags.compatibility)
def check_settings(app_configs: Any = None, **kwargs: Any) -> Messages:
    """Every OTEL_CONTEXT option exists and has a usable value (resolvers import): one each."""
    return [
        checks.Error(problem, hint=SETTINGS_HINT, id="otel_context.E002") for problem in problems()
    ]


@checks.register(checks.Tags.compatibility)
def check_middleware(app_configs: Any = None, **kwargs: Any) -> Messages:
    """No middleware twice; the OpenTelemetry middleware first."""
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    messages: Messages = [
        checks.Error(
            f"{path} is listed {count} times in MIDDLEWARE.",
            hint="List it once; otel_context inserts its own middleware if it is missing.",
            id="otel_context.E003",
        )
        for path, count in Counter(middleware).items()
        if count > 1 and (path == OTEL_MIDDLEWARE or path.startswith("otel_context."))
    ]
    outer = [path for path in middleware if path != CORRELATION_MIDDLEWARE]  # ours goes first
    if OTEL_MIDDLEWARE in outer and outer.index(OTEL_MIDDLEWARE) != 0:
        messages.append(
            checks.Warning(
                "The OpenTelemetry middleware is not first in MIDDLEWARE: the middleware "
                "before it runs outside the request span and its log lines have no ids.",
                hint="Leave DjangoInstrumentor's default middleware_position (0).",
                id="otel_context.W001",
            )
        )
    return messages


@checks.register(checks.Tags.compatibility)
def check_structlog(app_configs: Any = None, **kwargs: Any) -> Messages:
    """StructlogOTelProcessor is in structlog's chain, before the renderer."""
    import structlog  # noqa: PLC0415

    from otel_context.processors import StructlogOTelProcessor, is_renderer  # noqa: PLC0415

    if not structlog.is_configured():
        return []
    processors = list(structlog.get_config()["processors"])
    ours = [i for i, p in enumerate(processors) if isinstance(p, StructlogOTelProcessor)]
    renderers = [i for i, p in enumerate(processors) if is_renderer(p)]
    if not ours:
        return [
            checks.Warning(
                "structlog is configured without otel_context.StructlogOTelProcessor: "
                "events will not carry trace ids or identifiers.",
                hint="Add StructlogOTelProcessor() before the renderer.",
                id="otel_context.W002",
            )
        ]
    if renderers and ours[0] > renderers[0]:
        return [
            checks.Error(
                "StructlogOTelProcessor comes after the renderer in structlog's processors: "
                "the event is already a string when it runs.",
                hint="Move StructlogOTelProcessor() before the renderer.",
                id="otel_context.E004",
            )
        ]
    return []


@checks.register(checks.Tags.compatibility)
def check_baggage_reads(app_configs: Any = None, **kwargs: Any) -> Messages:
    """Inbound baggage keys the application reads (static scan of BASE_DIR) are not dropped."""
    from otel_context.catalogue import DEFAULT_EXCLUDE, baggage_reads, dropped_keys  # noqa: PLC0415
    from otel_context.catalogue.baggage_reads import allow_hint  # noqa: PLC0415

    base_dir = getattr(settings, "BASE_DIR", None)
    if not base_dir:
        return []  # nothing says where the application's code is
    try:
        config = build_config()
        reads = baggage_reads(Path(base_dir), DEFAULT_EXCLUDE, max_files=MAX_CHECK_FILES)
    except (ConfigurationError, TypeError, OSError):
        return []  # E002 reports the configuration; an unusable BASE_DIR has nothing to scan
    return [
        checks.Warning(
            f"The application reads the inbound baggage key {key!r} ("
            + ", ".join(f"{read.path}:{read.line}" for read in where)
            + "), but INBOUND_BAGGAGE_ALLOW drops it: the read always finds nothing.",
            hint=f"If clients may set it: {allow_hint([key], config)}",
            id="otel_context.W003",
        )
        for key, where in dropped_keys(reads or [], config).items()
    ]


@checks.register(checks.Tags.compatibility)
def check_versions(app_configs: Any = None, **kwargs: Any) -> Messages:
    """Python, Django, structlog and OpenTelemetry are within the tested range."""
    messages: Messages = []
    for supported, installed, position in compat.out_of_range():
        text = (
            f"{supported.distribution} {installed} is {position} than otel_context supports "
            f"({supported.distribution}{supported.specifier})"
        )
        if position == "newer":
            text += ": it may work, but it is untested."
            hint = "Report what breaks; pin the newest supported release to be safe."
            messages.append(checks.Warning(text, hint=hint, id="otel_context.W004"))
        else:
            text += ": ids may be missing, or requests may fail."
            hint = f"pip install '{supported.distribution}{supported.specifier}'"
            messages.append(checks.Error(text, hint=hint, id="otel_context.E005"))
    return messages


@checks.register(checks.Tags.compatibility)
def check_private_names(app_configs: Any = None, **kwargs: Any) -> Messages:
    """The Django instrumentation still has the private names otel_context reads."""
    hint = "Install a supported opentelemetry-instrumentation-django, or report the release."
    return [
        checks.Error(problem, hint=hint, id="otel_context.E006")
        for problem in _private.missing(_private.DJANGO_NAMES)
    ]


@checks.register(checks.Tags.security)
def check_baggage_span_processor(app_configs: Any = None, **kwargs: Any) -> Messages:
    """No span processor copies a client's server-owned baggage keys onto the server span."""
    from otel_context._baggage_processors import copied_keys, extracted_keys  # noqa: PLC0415

    try:
        owned = build_config().server_owned
        keys = sorted(set(copied_keys(owned)).intersection(extracted_keys(owned)))
    except Exception:  # E002 reports the configuration; a broken provider is not ours to judge
        return []
    if not keys:
        return []  # otel_context's propagator holds them back at extract, or nothing copies them
    return [
        checks.Warning(
            "A span processor copies baggage onto spans as they start ("
            + ", ".join(keys)
            + "), and the global propagator is not otel_context's: a client's "
            "'baggage: user.id=...' is extracted as sent and lands on the server span.",
            hint="Set your propagator before otel_context.instrument() runs (OTEL_PROPAGATORS), "
            "so otel_context wraps it; or give BaggageSpanProcessor a predicate that refuses "
            "these keys, never ALLOW_ALL_BAGGAGE_KEYS.",
            id="otel_context.W005",
        )
    ]


@checks.register(checks.Tags.compatibility)
def check_trace_keeping(app_configs: Any = None, **kwargs: Any) -> Messages:
    """KEEP_NOTABLE_TRACES is on and the tracer provider can keep traces (ours, or by hand)."""
    from opentelemetry import trace  # noqa: PLC0415

    from otel_context.trace_keeping import BY_HAND, provider_problem  # noqa: PLC0415

    try:
        problem = provider_problem(trace.get_tracer_provider())
    except ConfigurationError:
        return []  # E002 reports it
    if not problem:
        return []
    return [checks.Warning(problem, hint=BY_HAND, id="otel_context.W011")]
