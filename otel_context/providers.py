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
import importlib
import io
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol

from opentelemetry import _logs, trace
from opentelemetry._logs._internal import ProxyLoggerProvider
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor, ConsoleLogRecordExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

from otel_context.compat import install_hint
from otel_context.conf import ConfigurationError, get_config
from otel_context.sampling import sampler_from_env

if TYPE_CHECKING:
    from collections.abc import Iterable

    from opentelemetry.sdk._logs import ReadableLogRecord
    from opentelemetry.sdk._logs.export import LogRecordExporter
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export import SpanExporter

#: Seconds one export may take, retries included, unless OTEL_EXPORTER_OTLP_(..._)TIMEOUT is
#: set (which the Python exporters read as seconds). The SDK's own default is 10.
DEFAULT_EXPORT_TIMEOUT_S: Final = 5.0
GRPC: Final = "grpc"
HTTP_PROTOBUF: Final = "http/protobuf"
_SIGNAL_PATHS: Final = {"traces": "v1/traces", "logs": "v1/logs"}
_EXTRA: Final = {GRPC: "grpc", HTTP_PROTOBUF: "otlp"}
_EXPORTER_DISTRIBUTION: Final = {
    GRPC: "opentelemetry-exporter-otlp-proto-grpc",
    HTTP_PROTOBUF: "opentelemetry-exporter-otlp-proto-http",
}

_logger = logging.getLogger(__name__)
_lock = threading.Lock()
_configured: Providers | None = None
_atexit_registered = False


class _Stoppable(Protocol):
    def shutdown(self) -> None: ...


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
    exporters: tuple[_Stoppable, ...] = ()
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
        options = _Options(endpoint, protocol, span_file, log_file, export_timeout_s)
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


def _build(options: _Options, resource: Resource, *, set_global: bool) -> Providers:
    tracer_provider = trace.get_tracer_provider()
    logger_provider = _logs.get_logger_provider()
    # A provider set by someone else (opentelemetry-instrument) is kept; the API hands out
    # its proxies until one is set. Exporters first: a configuration error leaves nothing set.
    new_tracer = not set_global or isinstance(tracer_provider, trace.ProxyTracerProvider)
    new_logger = not set_global or isinstance(logger_provider, ProxyLoggerProvider)
    span_exporter = options.span_exporter() if new_tracer else None
    log_exporter = options.log_exporter() if new_logger else None
    owned: list[TracerProvider | LoggerProvider] = []
    if span_exporter is not None:
        tracer_provider = TracerProvider(
            resource=resource, sampler=sampler_from_env(), shutdown_on_exit=False
        )
        tracer_provider.add_span_processor(BatchSpanProcessor(span_exporter))
        owned.append(tracer_provider)
    if log_exporter is not None:
        logger_provider = LoggerProvider(resource=resource, shutdown_on_exit=False)
        logger_provider.add_log_record_processor(BatchLogRecordProcessor(log_exporter))
        owned.append(logger_provider)
    if set_global and span_exporter is not None:
        trace.set_tracer_provider(tracer_provider)
    if set_global and log_exporter is not None:
        _logs.set_logger_provider(logger_provider)
    exporters: tuple[_Stoppable | None, ...] = (span_exporter, log_exporter)
    return Providers(
        tracer_provider, logger_provider, tuple(owned), tuple(e for e in exporters if e)
    )


def _resource(default_service_name: str | None) -> Resource:
    detected = Resource.create()  # OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win here
    named = str(detected.attributes.get(SERVICE_NAME, ""))
    if default_service_name and named.startswith("unknown_service"):
        return detected.merge(Resource({SERVICE_NAME: default_service_name}))
    return detected


def _env(*names: str) -> str | None:
    """The first of *names* set to a non-empty value (OTel: empty means unset)."""
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


@dataclass(frozen=True, slots=True)
class _Options:
    endpoint: str | None
    protocol: str | None
    span_file: str | None
    log_file: str | None
    timeout_s: float | None

    def _otlp(self, signal: str) -> tuple[str, str | None, float | None] | None:
        """(protocol, explicit endpoint, explicit timeout) if *signal* goes over OTLP."""
        upper = signal.upper()
        from_env = _env(f"OTEL_EXPORTER_OTLP_{upper}_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
        if not (self.endpoint or from_env):
            return None
        protocol = self.protocol or _env(
            f"OTEL_EXPORTER_OTLP_{upper}_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"
        )
        protocol = (protocol or HTTP_PROTOBUF).lower()
        if protocol not in _EXTRA:
            msg = f"OTLP protocol {protocol!r} is not supported; use 'http/protobuf' or 'grpc'"
            raise ConfigurationError(msg)
        endpoint = self.endpoint
        if endpoint and protocol == HTTP_PROTOBUF:  # the HTTP exporters want the signal's URL
            endpoint = f"{endpoint.rstrip('/')}/{_SIGNAL_PATHS[signal]}"
        timeout = self.timeout_s
        timeout_env = _env(f"OTEL_EXPORTER_OTLP_{upper}_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT")
        if timeout is None and timeout_env is None:
            timeout = DEFAULT_EXPORT_TIMEOUT_S  # else None: the exporter reads the variable
        return protocol, endpoint, timeout

    def span_exporter(self) -> SpanExporter:
        otlp = self._otlp("traces")
        if otlp is not None:
            span_exporter: SpanExporter = _otlp_exporter("traces", *otlp)
            return span_exporter
        path = self.span_file or get_config().span_file
        if not path:
            return ConsoleSpanExporter(out=sys.stdout, formatter=_span_line)  # stdout as of now
        return _FileSpanExporter(out=_line_file(path), formatter=_span_line)

    def log_exporter(self) -> LogRecordExporter | None:
        otlp = self._otlp("logs")
        if otlp is not None:
            log_exporter: LogRecordExporter = _otlp_exporter("logs", *otlp)
            return log_exporter
        path = self.log_file or get_config().log_file
        if not path:
            return None  # the rendered log lines are the local record; no second copy
        return _FileLogExporter(out=_line_file(path), formatter=_log_line)


def _span_line(span: ReadableSpan) -> str:
    return str(span.to_json(indent=None)) + "\n"


def _log_line(record: ReadableLogRecord) -> str:
    return str(record.to_json(indent=None)) + "\n"  # the SDK's logs module is untyped


class _FileSpanExporter(ConsoleSpanExporter):
    """The SDK's console exporter on a file of its own, closed at shutdown."""

    def shutdown(self) -> None:
        self.out.close()


class _FileLogExporter(ConsoleLogRecordExporter):
    """The SDK's console log exporter on a file of its own, closed at shutdown."""

    def shutdown(self) -> None:
        self.out.close()


#: (signal, protocol) -> the SDK exporter's module and class; imported only when used.
_OTLP_EXPORTERS: Final = {
    ("traces", HTTP_PROTOBUF): ("opentelemetry.exporter.otlp.proto.http.trace_exporter", "Span"),
    ("logs", HTTP_PROTOBUF): ("opentelemetry.exporter.otlp.proto.http._log_exporter", "Log"),
    ("traces", GRPC): ("opentelemetry.exporter.otlp.proto.grpc.trace_exporter", "Span"),
    ("logs", GRPC): ("opentelemetry.exporter.otlp.proto.grpc._log_exporter", "Log"),
}


def _otlp_exporter(signal: str, protocol: str, endpoint: str | None, timeout: float | None) -> Any:
    module_name, kind = _OTLP_EXPORTERS[signal, protocol]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:  # the exporter packages are extras
        msg = (
            f"OTLP export over {protocol} needs its exporter: "
            f"{install_hint(_EXPORTER_DISTRIBUTION[protocol], _EXTRA[protocol])} ({exc})"
        )
        raise ConfigurationError(msg) from exc
    return getattr(module, f"OTLP{kind}Exporter")(endpoint=endpoint, timeout=timeout)


def _line_file(path: str) -> io.TextIOWrapper:
    """*path* opened for appending, each ``write()`` one ``write(2)`` (whole lines, any process)."""
    raw = open(path, "ab", buffering=0)  # noqa: SIM115, PTH123 - owned by the exporter
    return io.TextIOWrapper(raw, encoding="utf-8", write_through=True)


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
    return _bounded_shutdown(providers.owned, providers.exporters, timeout_s)


def _bounded_shutdown(
    owned: Iterable[_Stoppable], exporters: Iterable[_Stoppable], timeout_s: float
) -> bool:
    deadline = time.monotonic() + timeout_s
    owned = tuple(owned)
    threads = [
        threading.Thread(target=_quietly, args=(item,), name="otel_context-shutdown", daemon=True)
        for item in owned
    ]
    try:
        for thread in threads:
            thread.start()
    except RuntimeError:
        # CPython 3.12.0 and 3.12.1 refuse new threads once interpreter shutdown has begun, so
        # at exit (atexit) the bound cannot be kept with threads (python/cpython#113964).
        return _shutdown_in_place(owned, exporters, deadline, threads)
    # Leave a fifth of the budget (at most a second) for the threads to end after the abort.
    if not _join(threads, deadline - min(1.0, timeout_s / 5)):
        _logger.warning("otel_context: export still retrying at shutdown; dropping what is queued")
        for exporter in exporters:
            _quietly(exporter)  # sets the exporter's shutdown event: retries stop at once
        _join(threads, deadline)
    return not any(thread.is_alive() for thread in threads)


def _shutdown_in_place(
    owned: Iterable[_Stoppable],
    exporters: Iterable[_Stoppable],
    deadline: float,
    threads: list[threading.Thread],
) -> bool:
    """Without new threads: flush what is queued in this thread, then shut down.

    Nothing can interrupt an export from here, so the bound is the exporters' own timeout
    (``OTEL_EXPORTER_OTLP_TIMEOUT``) rather than *deadline* when the collector is down; with the
    collector up, the queue is delivered as with threads. Only at exit on CPython 3.12.0/3.12.1.
    """
    started = [thread for thread in threads if thread.ident is not None]
    pending = [item for item, thread in zip(owned, threads, strict=True) if thread.ident is None]
    for item in pending:
        flush = getattr(item, "force_flush", None)
        if flush is not None:
            remaining_ms = max(0, int((deadline - time.monotonic()) * 1000))
            try:
                flush(remaining_ms)
            except Exception:
                _logger.exception("otel_context: flushing %r failed", item)
    for exporter in exporters:
        _quietly(exporter)  # retries stop at once; what is still queued is dropped
    for item in pending:
        _quietly(item)
    return _join(started, deadline)


def _join(threads: Iterable[threading.Thread], until: float) -> bool:
    for thread in threads:
        thread.join(max(0.0, until - time.monotonic()))
    return not any(thread.is_alive() for thread in threads)


def _quietly(item: _Stoppable) -> None:
    try:
        item.shutdown()
    except Exception:
        _logger.exception("otel_context: shutting down %r failed", item)
