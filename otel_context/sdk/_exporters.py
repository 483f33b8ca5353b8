"""Which exporter each signal gets: OTLP over HTTP or gRPC, a file of JSON lines, or stdout.

:func:`otel_context.configure_providers` asks :class:`Options` for a span exporter and a log
record exporter. An OTLP endpoint (the keyword, or ``OTEL_EXPORTER_OTLP_(TRACES_|LOGS_)ENDPOINT``)
means OTLP, ``http/protobuf`` unless the protocol says ``grpc``; the exporter packages are
extras, imported only when used. Without one, spans go to ``span_file`` or stdout and log
records to ``log_file`` or nowhere, one JSON object a line.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import importlib
import io
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from opentelemetry.sdk._logs.export import ConsoleLogRecordExporter
from opentelemetry.sdk.trace.export import ConsoleSpanExporter

from otel_context.compat import install_hint
from otel_context.conf import ConfigurationError, startup_option

if TYPE_CHECKING:
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


def _env(*names: str) -> str | None:
    """The first of *names* set to a non-empty value (OTel: empty means unset)."""
    for name in names:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


@dataclass(frozen=True, slots=True)
class Options:
    """Where spans and log records go: OTLP, a file of JSON lines, stdout or nowhere."""

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
        path = self.span_file or startup_option("span_file")
        if not path:
            return ConsoleSpanExporter(out=sys.stdout, formatter=_span_line)  # stdout as of now
        return _FileSpanExporter(out=_line_file(path), formatter=_span_line)

    def log_exporter(self) -> LogRecordExporter | None:
        otlp = self._otlp("logs")
        if otlp is not None:
            log_exporter: LogRecordExporter = _otlp_exporter("logs", *otlp)
            return log_exporter
        path = self.log_file or startup_option("log_file")
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
