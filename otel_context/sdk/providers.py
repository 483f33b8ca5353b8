"""Tracer and logger providers exporting over OTLP, set up from the standard environment.

:func:`configure_providers` reads the standard ``OTEL_*`` variables the way the SDK does, with
the SDK's own exporters and batch processors: ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or the
per-signal ``..._TRACES_ENDPOINT`` / ``..._LOGS_ENDPOINT``) switches OTLP export on,
``http/protobuf`` unless ``OTEL_EXPORTER_OTLP_PROTOCOL=grpc``. ``OTEL_SERVICE_NAME`` and
``OTEL_RESOURCE_ATTRIBUTES`` are read by ``Resource.create()``, ``OTEL_TRACES_SAMPLER(_ARG)`` by
``TracerProvider()``, ``OTEL_BSP_*`` / ``OTEL_BLRP_*`` by the batch processors, and
``OTEL_PROPAGATORS`` (default ``tracecontext,baggage``) by ``opentelemetry.propagate`` itself.

Without an endpoint, spans go to a file of JSON lines (``span_file`` or ``OTEL_CONTEXT_SPAN_FILE``)
or to stdout, and log records only to ``log_file`` / ``OTEL_CONTEXT_LOG_FILE`` if one is given.

Fork: create the providers in each worker (gunicorn ``post_fork``), never in the master: a gRPC
channel does not survive a fork, and each worker must flush its own queue on exit.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from dataclasses import dataclass, field

from opentelemetry import _logs, trace
from opentelemetry._logs._internal import ProxyLoggerProvider
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from otel_context.sampling import sampler_from_env
from otel_context.sdk._exporters import (
    DEFAULT_EXPORT_TIMEOUT_S,
    GRPC,
    HTTP_PROTOBUF,
    Options,
)
from otel_context.sdk._shutdown import Stoppable, bounded_shutdown
from otel_context.trace_keeping import add_keeper, keeping_sampler, warn_if_unkept

__all__ = [
    "DEFAULT_EXPORT_TIMEOUT_S",
    "GRPC",
    "HTTP_PROTOBUF",
    "Providers",
    "configure_providers",
    "shutdown_providers",
]

# The logger keeps the name it had before the code moved here: filters on it still apply.
_logger = logging.getLogger("otel_context.providers")
_lock = threading.Lock()
_configured: Providers | None = None
_atexit_registered = False


@dataclass(frozen=True, slots=True)
class Providers:
    """The providers :func:`configure_providers` set up, or found already set up.

    Args:
        tracer_provider: The tracer provider in use.
        logger_provider: The logger provider in use (the API's proxy if logs go nowhere).
        owned: The providers this module created, which :func:`shutdown_providers` stops.
        exporters: The exporters of the owned providers.
        pid: The process that made them.
    """

    tracer_provider: trace.TracerProvider
    logger_provider: _logs.LoggerProvider
    owned: tuple[TracerProvider | LoggerProvider, ...] = ()
    exporters: tuple[Stoppable, ...] = ()
    pid: int = field(default_factory=os.getpid)


def configure_providers(  # noqa: PLR0913 - keyword-only options, each an OTEL_* variable's peer
    *,
    endpoint: str | None = None,
    protocol: str | None = None,
    resource: Resource | None = None,
    default_service_name: str | None = None,
    span_file: str | None = None,
    log_file: str | None = None,
    export_timeout_s: float | None = None,
    set_global: bool = True,
) -> Providers:
    """Set up a TracerProvider and a LoggerProvider, unless the application already did.

    Call it once per process, after fork. A provider already set globally (for instance by
    ``opentelemetry-instrument``) is used as it is and nothing is configured twice.

    Args:
        endpoint: OTLP base URL; default ``OTEL_EXPORTER_OTLP_(TRACES_|LOGS_)ENDPOINT``.
        protocol: ``"http/protobuf"`` or ``"grpc"``; default ``OTEL_EXPORTER_OTLP_PROTOCOL``.
        resource: The resource, as is; default ``Resource.create()`` (reads the environment).
        default_service_name: ``service.name`` when the environment sets none.
        span_file: Without an endpoint, the JSON-lines file for spans (default stdout).
        log_file: Without an endpoint, the JSON-lines file for log records (default none).
        export_timeout_s: Seconds per export, retries included; default the OTLP timeout
            variables, else :data:`DEFAULT_EXPORT_TIMEOUT_S`.
        set_global: Install the providers globally (and shut them down at exit, bounded).

    Returns:
        The providers in use; ``owned`` lists those created here.

    Raises:
        ConfigurationError: an unsupported protocol, or the exporter's extra is not installed.

    .. versionadded:: 0.1.0
    """
    global _configured  # noqa: PLW0603 - one set of providers per process
    with _lock:
        if set_global and _configured is not None:
            if _configured.pid != os.getpid():
                _logger.warning(
                    "otel_context: providers made before fork are reused; call "
                    "configure_providers() in each worker (gunicorn post_fork), not the master"
                )
            return _configured
        options = Options(endpoint, protocol, span_file, log_file, export_timeout_s)
        providers = _build(
            options, resource or _resource(default_service_name), set_global=set_global
        )
        if set_global:
            _configured = providers
            _register_atexit()
        return providers


def _register_atexit() -> None:
    # Our own exit hook, bounded: the providers' own (shutdown_on_exit) can block ~30 s.
    global _atexit_registered  # noqa: PLW0603
    if not _atexit_registered:
        atexit.register(shutdown_providers)
        _atexit_registered = True


def _build(options: Options, resource: Resource, *, set_global: bool) -> Providers:
    tracer_provider = trace.get_tracer_provider()
    logger_provider = _logs.get_logger_provider()
    # A provider set by someone else (opentelemetry-instrument) is kept; the API hands out
    # its proxies until one is set. Exporters first: a configuration error leaves nothing set.
    new_tracer = not set_global or isinstance(tracer_provider, trace.ProxyTracerProvider)
    new_logger = not set_global or isinstance(logger_provider, ProxyLoggerProvider)
    span_exporter = options.span_exporter() if new_tracer else None
    log_exporter = options.log_exporter() if new_logger else None
    owned: list[TracerProvider | LoggerProvider] = []
    keeper = None  # KEEP_NOTABLE_TRACES: sampled-out spans recorded, exported if notable
    if span_exporter is not None:
        tracer_provider = TracerProvider(
            resource=resource, sampler=keeping_sampler(sampler_from_env()), shutdown_on_exit=False
        )
        tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))
        keeper = add_keeper(tracer_provider, options.span_exporter)
        owned.append(tracer_provider)
    warn_if_unkept(tracer_provider)
    if log_exporter is not None:
        logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
        logger_provider.add_log_record_processor(BatchLogRecordProcessor(log_exporter))
        owned.append(logger_provider)
    if set_global and span_exporter is not None:
        trace.set_tracer_provider(tracer_provider)
    if set_global and log_exporter is not None:
        _logs.set_logger_provider(logger_provider)
    exporters: tuple[Stoppable | None, ...] = (span_exporter, log_exporter, keeper)
    return Providers(
        tracer_provider, logger_provider, tuple(owned), tuple(e for e in exporters if e)
    )


def _resource(default_service_name: str | None) -> Resource:
    detected = Resource.create()  # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win here
    named = str(detected.attributes.get(SERVICE_NAME, ""))
    if default_service_name and named.startswith("unknown_service"):
        return detected.merge(Resource({SERVICE_NAME: default_service_name}))
    return detected


def shutdown_providers(timeout_s: float = 5.0, providers: Providers | None = None) -> bool:
    """Flush and shut down the providers :func:`configure_providers` created, within *timeout_s*.

    The SDK's shutdown can block for half a minute retrying when the collector is down. Here the
    batch processors get most of *timeout_s* to deliver what is queued; then the exporters are
    shut down, which aborts their retries, and whatever is still queued is dropped. Safe to call
    more than once (from gunicorn's ``worker_exit`` and at exit).

    Args:
        timeout_s: The bound, in seconds.
        providers: What to shut down; default what ``configure_providers()`` set up globally.

    Returns:
        Whether everything shut down within the bound.

    .. versionadded:: 0.1.0
    """
    global _configured  # taken, so a second call has nothing to stop
    if providers is None:
        with _lock:
            providers, _configured = _configured, None
    if providers is None or not providers.owned:
        return True
    return bounded_shutdown(providers.owned, providers.exporters, timeout_s)
