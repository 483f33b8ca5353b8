"""A real OTLP receiver for tests (HTTP/protobuf, and gRPC when grpcio is installed).

It decodes the ``ExportTraceServiceRequest`` / ``ExportLogsServiceRequest`` protobufs the SDK's
exporters send and keeps flattened spans and log records for assertions. Also here: a context
manager that lets a test install global providers and puts the process's globals back after.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import gzip
import socket
import threading
import time
import zlib
from concurrent import futures
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry._logs import _internal as logs_internal
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2
from opentelemetry.util._once import Once

from otel_context.sdk import providers as providers_module

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from opentelemetry.proto.common.v1.common_pb2 import AnyValue


def any_value(value: AnyValue) -> object:
    """An OTLP ``AnyValue`` as a Python value."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return tuple(any_value(item) for item in value.array_value.values)
    if kind == "kvlist_value":
        return attributes_of(value.kvlist_value.values)
    return getattr(value, kind)


def attributes_of(pairs: Any) -> dict[str, object]:
    return {pair.key: any_value(pair.value) for pair in pairs}


@dataclass
class ReceivedSpan:
    name: str
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict[str, object]
    events: list[tuple[str, dict[str, object]]]
    resource: dict[str, object]


@dataclass
class ReceivedLog:
    body: object
    severity_number: int
    severity_text: str
    event_name: str
    trace_id: str
    span_id: str
    attributes: dict[str, object]
    scope: str
    resource: dict[str, object]
    time_unix_nano: int = 0


@dataclass
class Received:
    """What a receiver got, appended from its server threads."""

    spans: list[ReceivedSpan] = field(default_factory=list)
    logs: list[ReceivedLog] = field(default_factory=list)
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_traces(self, request: trace_service_pb2.ExportTraceServiceRequest) -> None:
        spans = [
            ReceivedSpan(
                name=span.name,
                trace_id=span.trace_id.hex(),
                span_id=span.span_id.hex(),
                parent_span_id=span.parent_span_id.hex(),
                attributes=attributes_of(span.attributes),
                events=[(event.name, attributes_of(event.attributes)) for event in span.events],
                resource=attributes_of(rs.resource.attributes),
            )
            for rs in request.resource_spans
            for ss in rs.scope_spans
            for span in ss.spans
        ]
        with self.lock:
            self.requests += 1
            self.spans.extend(spans)

    def add_logs(self, request: logs_service_pb2.ExportLogsServiceRequest) -> None:
        logs = [
            ReceivedLog(
                body=any_value(record.body),
                severity_number=record.severity_number,
                severity_text=record.severity_text,
                event_name=record.event_name,
                trace_id=record.trace_id.hex(),
                span_id=record.span_id.hex(),
                attributes=attributes_of(record.attributes),
                scope=sl.scope.name,
                resource=attributes_of(rl.resource.attributes),
                time_unix_nano=record.time_unix_nano,
            )
            for rl in request.resource_logs
            for sl in rl.scope_logs
            for record in sl.log_records
        ]
        with self.lock:
            self.requests += 1
            self.logs.extend(logs)

    def wait_for(self, condition: Callable[[Received], bool], timeout_s: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with self.lock:
                if condition(self):
                    return True
            time.sleep(0.02)
        return False


def _decompress(body: bytes, encoding: str | None) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(body)
    if encoding == "deflate":
        return zlib.decompress(body)
    return body


class _Handler(BaseHTTPRequestHandler):
    server: _HttpServer

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        data = _decompress(body, self.headers.get("Content-Encoding"))
        if self.path == "/v1/traces":
            request = trace_service_pb2.ExportTraceServiceRequest.FromString(data)
            self.server.received.add_traces(request)
            reply = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
        elif self.path == "/v1/logs":
            logs_request = logs_service_pb2.ExportLogsServiceRequest.FromString(data)
            self.server.received.add_logs(logs_request)
            reply = logs_service_pb2.ExportLogsServiceResponse().SerializeToString()
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
        """Quiet: the test output is the assertion."""


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    received: Received


@contextlib.contextmanager
def http_receiver() -> Iterator[tuple[str, Received]]:
    """An OTLP/HTTP receiver on 127.0.0.1 and a free port: (base URL, what it received)."""
    server = _HttpServer(("127.0.0.1", 0), _Handler)
    server.received = Received()
    thread = threading.Thread(target=server.serve_forever, name="otlp-receiver", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", server.received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@contextlib.contextmanager
def grpc_receiver() -> Iterator[tuple[str, Received]]:
    """An OTLP/gRPC receiver (collector Trace and Logs services) on 127.0.0.1, a free port."""
    import grpc
    from opentelemetry.proto.collector.logs.v1 import logs_service_pb2_grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

    received = Received()

    class Traces(trace_service_pb2_grpc.TraceServiceServicer):  # type: ignore[misc]
        def Export(self, request: Any, context: Any) -> Any:  # noqa: N802 - the proto's name
            received.add_traces(request)
            return trace_service_pb2.ExportTraceServiceResponse()

    class Logs(logs_service_pb2_grpc.LogsServiceServicer):  # type: ignore[misc]
        def Export(self, request: Any, context: Any) -> Any:  # noqa: N802
            received.add_logs(request)
            return logs_service_pb2.ExportLogsServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Traces(), server)
    logs_service_pb2_grpc.add_LogsServiceServicer_to_server(Logs(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"http://127.0.0.1:{port}", received
    finally:
        server.stop(grace=None).wait(5)


@functools.cache
def closed_port() -> int:
    """A port of 127.0.0.1 that refuses connections, for this process's whole life.

    This process keeps it bound, never listening: no other process can listen there meanwhile
    (a port bound and released could be handed to another test's server).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    atexit.register(sock.close)
    port: int = sock.getsockname()[1]
    return port


@contextlib.contextmanager
def fresh_global_providers() -> Iterator[None]:
    """Let the block set the global tracer and logger providers once; restore them after.

    The OTel API allows one global provider per process; tests that exercise
    ``configure_providers(set_global=True)`` reset that guard and put the old state back.
    """
    saved = (
        trace._TRACER_PROVIDER,
        trace._TRACER_PROVIDER_SET_ONCE,
        logs_internal._LOGGER_PROVIDER,
        logs_internal._LOGGER_PROVIDER_SET_ONCE,
        providers_module._configured,
    )
    trace._TRACER_PROVIDER, trace._TRACER_PROVIDER_SET_ONCE = None, Once()
    logs_internal._LOGGER_PROVIDER, logs_internal._LOGGER_PROVIDER_SET_ONCE = None, Once()
    providers_module._configured = None
    try:
        yield
    finally:
        providers_module.shutdown_providers(timeout_s=2)
        (
            trace._TRACER_PROVIDER,
            trace._TRACER_PROVIDER_SET_ONCE,
            logs_internal._LOGGER_PROVIDER,
            logs_internal._LOGGER_PROVIDER_SET_ONCE,
            providers_module._configured,
        ) = saved
