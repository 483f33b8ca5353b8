"""Whether otel_context is really in place: hooks, middleware chain and logging handlers.

Applications that build ``INSTALLED_APPS``, ``MIDDLEWARE`` and ``LOGGING`` themselves (an
overlay settings module, a plugin list, ``otel_context.instrument()`` in ``wsgi.py``) can end
up with a piece missing and nothing failing: no ids, silently. The finders here say what is
missing, one sentence each; the system checks below report them (``otel_context.W006`` to
``W010``, listed with the others in ``otel_context.django.checks``). Importing this module
registers them (``AppConfig.ready()`` does).

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import contextlib
import logging
import re
from typing import TYPE_CHECKING, Any, Final

from django.conf import settings
from django.core import checks

from otel_context import _private
from otel_context.attributes import SERVER_OWNED, SPAN_ID, TRACE_ID, TRACE_SAMPLED
from otel_context.conf import ConfigurationError, build_config

if TYPE_CHECKING:
    from collections.abc import Iterator

Messages = list[checks.CheckMessage]
OTEL_MIDDLEWARE: Final = _private.DJANGO_MIDDLEWARE.path
IDENTIFIERS_MIDDLEWARE: Final = "otel_context.django.middleware.IdentifiersMiddleware"
CORRELATION_MIDDLEWARE: Final = "otel_context.django.middleware.CorrelationMiddleware"
#: What ``OTelContextFilter`` sets on records, as format strings name them.
STANDARD_FIELDS: Final = frozenset(
    key.replace(".", "_") for key in (TRACE_ID, SPAN_ID, TRACE_SAMPLED, *SERVER_OWNED)
)
#: ``%(name)s`` / ``{name}`` / ``${name}`` in a format string (names with dots included).
_FORMAT_NAMES: Final = re.compile(r"%\(([^)]+)\)|\{([\w.]+)|\$\{?([\w.]+)")


def hook_problems() -> list[str]:
    """Why the Django instrumentation would not run otel_context's hooks (empty: it will)."""
    from otel_context.django import hooks  # noqa: PLC0415
    from otel_context.django.instrumentation import contains  # noqa: PLC0415

    try:
        middleware = _private.resolve(_private.DJANGO_MIDDLEWARE)
        request_hook = middleware._otel_request_hook  # noqa: SLF001
        response_hook = middleware._otel_response_hook  # noqa: SLF001
    except (_private.MissingPrivateNameError, AttributeError):
        return []  # otel_context.E006 says which name is missing
    missing = [
        name
        for name, hook, ours in (
            ("request_hook", request_hook, hooks.request_hook),
            ("response_hook", response_hook, hooks.response_hook),
        )
        if not contains(hook, ours)
    ]
    if not missing:
        return []
    return [
        (
            f"otel_context's {' and '.join(missing)} {'are' if len(missing) > 1 else 'is'} not on"
            " the Django instrumentation: "
            "requests get no correlation id and no identifiers, and log lines no ids."
        )
    ]


def middleware_problems(middleware: list[str]) -> list[str]:
    """What is missing from the middleware chain *middleware* (``settings.MIDDLEWARE``)."""
    problems = []
    if OTEL_MIDDLEWARE not in middleware:
        problems.append(
            "The OpenTelemetry middleware is not in MIDDLEWARE: no request span, so no "
            "trace ids and no identifiers (is OTEL_PYTHON_DJANGO_INSTRUMENT=False set?)."
        )
    if IDENTIFIERS_MIDDLEWARE not in middleware:
        problems.append(
            f"{IDENTIFIERS_MIDDLEWARE} is not in MIDDLEWARE: ids from URL kwargs and resolvers "
            "are never bound."
        )
    if CORRELATION_MIDDLEWARE not in middleware:
        problems.append(
            f"{CORRELATION_MIDDLEWARE} is not in MIDDLEWARE: a request rejected before the "
            "hooks run (a disallowed Host) gets no correlation id."
        )
    elif OTEL_MIDDLEWARE in middleware and (
        middleware.index(CORRELATION_MIDDLEWARE) > middleware.index(OTEL_MIDDLEWARE)
    ):
        problems.append(
            f"{CORRELATION_MIDDLEWARE} comes after the OpenTelemetry middleware: a request "
            "that middleware rejects gets no correlation id."
        )
    return problems


def _handlers() -> Iterator[tuple[str, logging.Handler]]:
    """Every handler of every logger, once, with the name of a logger it is on."""
    seen: set[int] = set()
    loggers: list[tuple[str, Any]] = [("root", logging.getLogger())]
    loggers += sorted(logging.Logger.manager.loggerDict.items())
    for name, logger in loggers:
        for handler in getattr(logger, "handlers", ()):
            if id(handler) not in seen:
                seen.add(id(handler))
                yield name, handler


def _label(logger: str, handler: logging.Handler) -> str:
    named = f"{handler.name!r} " if handler.name else ""
    return f"The logging handler {named}({type(handler).__name__} on logger {logger!r})"


def _format_names(formatter: logging.Formatter) -> set[str]:
    fmt = getattr(getattr(formatter, "_style", None), "_fmt", None) or ""
    return {next(filter(None, match)) for match in _FORMAT_NAMES.findall(fmt)}


def handler_problems(identifier_fields: frozenset[str] = STANDARD_FIELDS) -> tuple[list[str], bool]:
    """Handlers that format otel_context's fields without them, and whether any adds them.

    Args:
        identifier_fields: Record attribute names otel_context sets (standard and configured).

    Returns:
        One sentence per handler whose format string names an otel_context field but has no
        ``OTelContextFilter`` (records then fail to format), or whose structlog
        ``ProcessorFormatter`` renders stdlib records without ``StructlogOTelProcessor``;
        and whether any handler puts the ids on stdlib records at all.
    """
    from structlog.stdlib import ProcessorFormatter  # noqa: PLC0415

    from otel_context.processors import StructlogOTelProcessor  # noqa: PLC0415
    from otel_context.stdlib import OTelContextFilter  # noqa: PLC0415

    problems, any_adds = [], False
    for logger, handler in _handlers():
        formatter = handler.formatter
        if isinstance(formatter, ProcessorFormatter):
            chain = list(formatter.foreign_pre_chain or ())
            if any(isinstance(step, StructlogOTelProcessor) for step in chain):
                any_adds = True
                continue
            problems.append(
                f"{_label(logger, handler)} renders stdlib records (Django's own among them) "
                "with structlog's ProcessorFormatter, without StructlogOTelProcessor in its "
                "foreign_pre_chain: those lines have no ids."
            )
            continue
        if any(isinstance(flt, OTelContextFilter) for flt in handler.filters):
            any_adds = True
            continue
        named = sorted(_format_names(formatter) & identifier_fields) if formatter else []
        if named:
            fields = ", ".join(f"%({name})s" for name in named)
            problems.append(
                f"{_label(logger, handler)} formats {fields} but has no OTelContextFilter: "
                "its records lack them and fail to format ('--- Logging error ---')."
            )
    return problems, any_adds


IN_PLACE_HINT = (
    'Add "otel_context" to INSTALLED_APPS of the settings module every process runs with'
    " (DJANGO_SETTINGS_MODULE), or call otel_context.instrument() before the handler is"
    ' built; see "Apps that own their settings" in the README.'
)
MIDDLEWARE_HINT = (
    "Leave both to otel_context (it inserts them), or list CorrelationMiddleware right before"
    " the OpenTelemetry middleware and IdentifiersMiddleware after AuthenticationMiddleware."
)
FILTER_HINT = (
    'In LOGGING, define {"()": "otel_context.OTelContextFilter"} under "filters" and name it in'
    " that handler's filters; for a ProcessorFormatter, put StructlogOTelProcessor() in its"
    " foreign_pre_chain (see otel_context's docs/logging.md)."
)


@checks.register(checks.Tags.compatibility)
def check_in_place(app_configs: Any = None, **kwargs: Any) -> Messages:
    """The hooks are on the instrumentation and the middleware chain has ours (W006, W007)."""
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    messages: Messages = [
        checks.Warning(problem, hint=IN_PLACE_HINT, id="otel_context.W006")
        for problem in hook_problems()
    ]
    messages += [
        checks.Warning(problem, hint=MIDDLEWARE_HINT, id="otel_context.W007")
        for problem in middleware_problems(middleware)
    ]
    return messages


@checks.register(checks.Tags.compatibility)
def check_logging(app_configs: Any = None, **kwargs: Any) -> Messages:
    """Handlers that format otel_context's fields have the filter; some line carries ids."""
    fields = STANDARD_FIELDS
    with contextlib.suppress(ConfigurationError):  # E002 reports it
        configured = build_config().server_owned
        fields = fields.union(configured, (key.replace(".", "_") for key in configured))
    problems, any_adds = handler_problems(fields)
    messages: Messages = [
        checks.Warning(problem, hint=FILTER_HINT, id="otel_context.W008") for problem in problems
    ]
    if not any_adds and not problems and not _structlog_adds_ids():
        messages.append(
            checks.Warning(
                "No log line carries otel_context's ids: no logging handler adds them to "
                "stdlib records, and structlog's processors have no StructlogOTelProcessor.",
                hint=FILTER_HINT,
                id="otel_context.W009",
            )
        )
    return messages


def _structlog_adds_ids() -> bool:
    import structlog  # noqa: PLC0415

    from otel_context.processors import StructlogOTelProcessor  # noqa: PLC0415

    processors = structlog.get_config()["processors"] if structlog.is_configured() else []
    return any(isinstance(processor, StructlogOTelProcessor) for processor in processors)


SAMPLING_HINT: Final = (
    "Put LogSamplingProcessor() first in structlog's processors (before StructlogOTelProcessor"
    " and StructlogOTelLogProcessor), and LogSamplingFilter() on the handlers of stdlib records;"
    " with HOLD_LINES, wrap the renderer: FlightRecorder(JSONRenderer()), and hold stdlib records"
    " with HeldHandler(target). See docs/sampling.md."
)


def sampling_problems(
    ratio: float, processors: list[object], *, hold_lines: bool = False
) -> list[str]:
    """Log sampling that cannot work as configured: misplaced, or configured but not installed.

    Args:
        ratio: ``UNSAMPLED_LOG_RATIO`` (below 1 the feature is on).
        processors: structlog's processors (empty when structlog is not configured).
        hold_lines: ``HOLD_LINES``.
    """
    from otel_context.log_records import StructlogOTelLogProcessor  # noqa: PLC0415
    from otel_context.log_sampling import LogSamplingFilter, LogSamplingProcessor  # noqa: PLC0415
    from otel_context.processors import is_renderer  # noqa: PLC0415

    ours = [i for i, p in enumerate(processors) if isinstance(p, LogSamplingProcessor)]
    ahead = [
        i
        for i, p in enumerate(processors)
        if is_renderer(p) or isinstance(p, StructlogOTelLogProcessor)
    ]
    problems = []
    if ours and ahead and ours[0] > ahead[0]:
        problems.append(
            "LogSamplingProcessor comes after StructlogOTelLogProcessor or the renderer in "
            "structlog's processors: the lines it drops are exported (or rendered) first."
        )
    filtered = _holds_records() or any(
        isinstance(f, LogSamplingFilter) for _, h in _handlers() for f in h.filters
    )
    if ratio < 1.0 and not ours and not filtered:
        problems.append(
            f"UNSAMPLED_LOG_RATIO is {ratio}, but no LogSamplingProcessor is in structlog's "
            "processors and no handler has LogSamplingFilter or is a HeldHandler: every line is "
            "still written."
        )
    return problems + _hold_problems(ratio, processors, hold_lines=hold_lines)


def _hold_problems(ratio: float, processors: list[object], *, hold_lines: bool) -> list[str]:
    from otel_context.flight_recorder import FlightRecorder  # noqa: PLC0415

    if not hold_lines:
        return []
    if ratio >= 1.0:
        problem = (
            "HOLD_LINES is on but UNSAMPLED_LOG_RATIO is 1: no line is ever dropped, so none "
            "is held (set the ratio, e.g. 0 or 0.05)."
        )
        return [problem]
    if not any(isinstance(p, FlightRecorder) for p in processors) and not _holds_records():
        problem = (
            "HOLD_LINES is on but structlog's renderer is not wrapped in FlightRecorder and no "
            "handler is a HeldHandler: the lines a request would hold are written at once instead."
        )
        return [problem]
    return []


def _holds_records() -> bool:
    """Whether a logging handler is a :class:`~otel_context.held_records.HeldHandler`."""
    from otel_context.held_records import HeldHandler  # noqa: PLC0415

    return any(isinstance(handler, HeldHandler) for _, handler in _handlers())


@checks.register(checks.Tags.compatibility)
def check_log_sampling(app_configs: Any = None, **kwargs: Any) -> Messages:
    """Log sampling is in place where it is configured, and placed to drop before export."""
    import structlog  # noqa: PLC0415

    ratio, hold_lines = 1.0, False
    with contextlib.suppress(ConfigurationError):  # E002 reports it
        config = build_config()
        ratio, hold_lines = config.unsampled_log_ratio, config.hold_lines
    processors = list(structlog.get_config()["processors"]) if structlog.is_configured() else []
    return [
        checks.Warning(problem, hint=SAMPLING_HINT, id="otel_context.W010")
        for problem in sampling_problems(ratio, processors, hold_lines=hold_lines)
    ]
