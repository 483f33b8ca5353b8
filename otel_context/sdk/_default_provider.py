"""The SDK's tracer provider when nobody set one, so the Quickstart alone logs trace ids.

Without a ``TracerProvider`` the OpenTelemetry API hands out non-recording spans: a request
gets no span of its own, and its log lines no ``span_id`` (issue 21). When the Django app is
ready (``AppConfig.ready()``, or ``opentelemetry-instrument``'s post-instrument hook) this
module is *armed*; the set-up itself waits for the first request (or ``background()`` run) of
the process, because that is the last moment before a span is needed, and by then every
provider the application sets at start-up is set:

- gunicorn ``post_fork`` (``configure_providers()``), with or without ``--preload``: the
  master never serves a request, the worker's hook runs before its first one;
- ``runserver``'s autoreloader parent never serves a request, only its child does;
- an application's own ``AppConfig.ready()`` or ``wsgi.py`` that sets a provider after ours;
- ``opentelemetry-instrument`` with ``opentelemetry-distro``: its provider is already set.

Only if the global provider is still the API's proxy then, and ``SET_UP_PROVIDERS`` is not
false, a ``TracerProvider`` is set up from the standard environment (``OTEL_SERVICE_NAME``,
``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_TRACES_SAMPLER(_ARG)``), exporting nothing unless an
exporter is configured (an OTLP endpoint, ``OTEL_TRACES_EXPORTER=console|otlp`` or
``SPAN_FILE``; then :func:`otel_context.configure_providers` does the work). One line says
what was done and how to opt out.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import Any, Final

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider

from otel_context.conf import ConfigurationError, get_config, startup_option
from otel_context.sampling import sampler_from_env
from otel_context.sdk.providers import HTTP_PROTOBUF, configure_providers
from otel_context.trace_fields import set_unexported
from otel_context.trace_keeping import warn_if_unkept

# The logger keeps the name it had before the code moved here: filters on it still apply.
_logger = logging.getLogger("otel_context._default_providers")
_lock = threading.Lock()
#: True from the app's ready() until the first request decided; read on every request.
armed = False
#: The SDK's default OTLP endpoints, for ``OTEL_TRACES_EXPORTER=otlp`` without an endpoint.
_OTLP_DEFAULTS: Final = {HTTP_PROTOBUF: "http://localhost:4318", "grpc": "http://localhost:4317"}
NOWHERE: Final = (
    "nowhere (to export: OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_TRACES_EXPORTER=console, or SPAN_FILE)"
)
OPT_OUT: Final = (
    "opt out with OTEL_CONTEXT_SET_UP_PROVIDERS=false or OTEL_CONTEXT['SET_UP_PROVIDERS'] = False"
)


def arm() -> None:
    """Set up the providers at the first request, unless one is set by then."""
    global armed  # noqa: PLW0603 - one decision per process
    armed = True


def set_up() -> None:
    """Decide once: set up the SDK's tracer provider if none is set. Never raises."""
    global armed  # noqa: PLW0603
    with _lock:
        if not armed:
            return  # another thread decided while this one waited
        try:
            _set_up()
        except Exception:
            _logger.exception("otel_context: setting up the OpenTelemetry SDK failed")
        finally:
            armed = False  # only now: concurrent first requests wait for the provider


def _set_up() -> None:
    provider = trace.get_tracer_provider()
    if not isinstance(provider, trace.ProxyTracerProvider):
        warn_if_unkept(provider)  # KEEP_NOTABLE_TRACES cannot wrap it: say how, once
        return  # the application, gunicorn's post_fork or opentelemetry-instrument set one
    if not get_config().set_up_providers:
        return
    where, options = _export()
    if options is not None:
        try:
            configure_providers(**options)
        except ConfigurationError as exc:
            where = f"nowhere: {exc}"
            options = None
    if options is None:
        provider = _NoExportTracerProvider(
            resource=Resource.create(), sampler=sampler_from_env(), shutdown_on_exit=False
        )
        trace.set_tracer_provider(provider)
        set_unexported(provider.resource)  # its lines say trace_sampled false
    _announce(where)


class _NoExportTracerProvider(TracerProvider):
    """The SDK's provider, exporting nothing until a span processor is added to it."""

    def add_span_processor(self, span_processor: SpanProcessor) -> None:
        """Add *span_processor*: from now on this provider's spans may be exported."""
        set_unexported(None)
        super().add_span_processor(span_processor)


def _env(name: str) -> str:
    return os.environ.get(name, "").strip()


def _export() -> tuple[str, dict[str, Any] | None]:
    """Where spans go, and ``configure_providers()``'s options, or ``None``: export nothing."""
    exporter = _env("OTEL_TRACES_EXPORTER").lower()
    endpoint = _env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or _env("OTEL_EXPORTER_OTLP_ENDPOINT")
    span_file = None if exporter == "none" else startup_option("span_file")
    if exporter == "none":
        found: tuple[str, dict[str, Any] | None] = ("nowhere (OTEL_TRACES_EXPORTER=none)", None)
    elif endpoint:
        found = f"over OTLP to {endpoint}", {}
    elif span_file:
        found = f"to {span_file} (SPAN_FILE)", {}
    elif exporter == "console":
        found = "to stdout (OTEL_TRACES_EXPORTER=console)", {}
    elif exporter == "otlp":
        protocol = (_env("OTEL_EXPORTER_OTLP_PROTOCOL") or HTTP_PROTOBUF).lower()
        default = _OTLP_DEFAULTS.get(protocol, _OTLP_DEFAULTS[HTTP_PROTOBUF])
        found = f"over OTLP to {default} (OTEL_TRACES_EXPORTER=otlp)", {"endpoint": default}
    else:
        unknown = f"; OTEL_TRACES_EXPORTER={exporter} needs opentelemetry-instrument"
        found = NOWHERE + (unknown if exporter else ""), None
    return found


def _announce(where: str) -> None:
    provider = trace.get_tracer_provider()
    resource = getattr(provider, "resource", Resource.get_empty())
    sampler = getattr(provider, "sampler", None)
    description = sampler.get_description() if sampler is not None else "?"
    message = (
        "otel_context: no OpenTelemetry TracerProvider was set, so otel_context set up the "
        f"SDK's (service.name={resource.attributes.get(SERVICE_NAME)}, sampler={description}); "
        f"spans are exported {where}; {OPT_OUT}"
    )
    if _logger.isEnabledFor(logging.INFO) and _logger.hasHandlers():
        _logger.info(message)
    else:  # the application's logging shows no INFO line of ours: say it on stderr once
        sys.stderr.write(message + "\n")
