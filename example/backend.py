# ruff: noqa: T201 - `python -m example.backend` prints where things listen
"""The example's back end without Docker: the OpenTelemetry Collector and Jaeger v2 on 127.0.0.1.

Both are built from their Go modules by ``collector/build.sh`` (``make collector``) and run
with the shipped configs, ``collector/otel-collector.yaml`` (plus the filelog overlay when
asked) and ``collector/jaeger.yaml``, with only their endpoints and paths changed through
the ``OTELCOL_*`` / ``JAEGER_*`` variables those files read.

``python -m example.backend`` (``make jaeger``) runs both in the foreground until Ctrl-C on
the default ports: the collector on 4317/4318 (as the compose stack publishes it), Jaeger's
query API on 16686. The tests start them on free ports with :func:`running_backend`: Go
programs bind their own ports, so the nine ports are reserved together while they run
(:func:`example.ports.reserved_ports`), and a start that still finds one taken is retried on
new ports.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from example.ports import (
    AddressInUseError,
    reserved_ports,
    says_address_in_use,
    start_retrying,
    unused_ports,
)
from example.runner import REPO_DIR, stop_process

if TYPE_CHECKING:
    from collections.abc import Iterator

COLLECTOR_DIR: Final = REPO_DIR / "collector"
BUILD_SCRIPT: Final = COLLECTOR_DIR / "build.sh"
COLLECTOR_CONFIG: Final = COLLECTOR_DIR / "otel-collector.yaml"
FILELOG_CONFIG: Final = COLLECTOR_DIR / "otel-collector-filelog.yaml"
JAEGER_CONFIG: Final = COLLECTOR_DIR / "jaeger.yaml"
LOOPBACK: Final = "127.0.0.1"


class BackendUnavailableError(RuntimeError):
    """The binaries cannot be had (no Go toolchain, or the build failed)."""


@dataclass(frozen=True)
class Binaries:
    otelcol: Path
    jaeger: Path


def build_binaries(timeout: float = 3000) -> Binaries:
    """Build (or find, when cached) both binaries with ``collector/build.sh``.

    Raises:
        BackendUnavailableError: no Go toolchain, or the build failed (its output says why).
    """
    try:
        done = subprocess.run(
            ["bash", str(BUILD_SCRIPT), "all"],
            cwd=REPO_DIR,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        msg = f"collector/build.sh took over {timeout:.0f} s"
        raise BackendUnavailableError(msg) from exc
    if done.returncode == 3:
        raise BackendUnavailableError(done.stderr.strip())
    if done.returncode != 0:
        msg = f"collector/build.sh failed ({done.returncode}):\n{done.stderr[-4000:]}"
        raise BackendUnavailableError(msg)
    otelcol, jaeger = (Path(line) for line in done.stdout.split())
    return Binaries(otelcol, jaeger)


@dataclass(frozen=True)
class Ports:
    """Where everything listens, all on 127.0.0.1."""

    otlp_grpc: int = 4317
    otlp_http: int = 4318
    collector_health: int = 13133
    collector_metrics: int = 8888
    jaeger_otlp_grpc: int = 14317
    jaeger_query: int = 16686
    jaeger_query_grpc: int = 16685
    jaeger_health: int = 13134
    jaeger_metrics: int = 8889

    @classmethod
    def free(cls) -> Ports:
        """Nine distinct free ports, picked together (see :func:`example.ports.unused_ports`)."""
        return cls(*unused_ports(len(dataclasses.fields(cls))))

    @classmethod
    @contextlib.contextmanager
    def reserved(cls) -> Iterator[Ports]:
        """Nine distinct free ports, reserved for the block (:func:`example.ports.reserved_ports`).

        Go's listeners set ``SO_REUSEADDR``: the programs can listen on them meanwhile.
        """
        with reserved_ports(len(dataclasses.fields(cls))) as ports:
            yield cls(*ports)


@dataclass
class Program:
    """One running Go program; its output goes to *log_file*."""

    name: str
    command: list[str]
    env: dict[str, str]
    health_url: str
    log_file: Path
    process: subprocess.Popen[bytes] | None = None
    stop_seconds: list[float] = field(default_factory=list)

    def start(self, ready_timeout: float = 60) -> None:
        """Start the program and wait until its health URL answers.

        Raises:
            AddressInUseError: it could not listen on one of its ports.
            RuntimeError: it exited, or did not answer within *ready_timeout*.
        """
        offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        with self.log_file.open("ab") as output:
            self.process = subprocess.Popen(
                self.command,
                cwd=REPO_DIR,
                env={**os.environ, **self.env},
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                start_new_session=True,
            )
        deadline = time.monotonic() + ready_timeout
        while not answers(self.health_url):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                text = self.output(offset)[-4000:]
                if says_address_in_use(text):
                    raise AddressInUseError(None, f"{self.name} did not start:\n{text}")
                msg = f"{self.name} did not start:\n{text}"
                raise RuntimeError(msg)
            time.sleep(0.1)

    def stop(self, timeout: float = 20) -> int | None:
        """SIGTERM, wait (SIGKILL after *timeout*); record how long it took."""
        if self.process is None:
            return None
        started = time.monotonic()
        code = stop_process(self.process, timeout)
        self.stop_seconds.append(time.monotonic() - started)
        self.process = None
        return code

    def output(self, offset: int = 0) -> str:
        """What it wrote to its log file (from byte *offset*: one run's output)."""
        if not self.log_file.exists():
            return ""
        return self.log_file.read_bytes()[offset:].decode(errors="replace")


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError):
        return False


@dataclass
class Backend:
    """The running collector and Jaeger, and where to find what they received."""

    collector: Program
    jaeger: Program
    ports: Ports
    logs_file: Path

    @property
    def otlp_endpoint(self) -> str:
        """For ``OTEL_EXPORTER_OTLP_ENDPOINT`` (OTLP/HTTP)."""
        return f"http://{LOOPBACK}:{self.ports.otlp_http}"

    @property
    def query_url(self) -> str:
        return f"http://{LOOPBACK}:{self.ports.jaeger_query}"

    def trace(self, trace_id: str) -> dict[str, Any] | None:
        """The trace as Jaeger's query API returns it (``/api/traces/<id>``), or ``None``."""
        try:
            with urllib.request.urlopen(
                f"{self.query_url}/api/traces/{trace_id}", timeout=10
            ) as response:
                data = json.load(response)["data"]
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            raise
        return dict(data[0]) if data else None

    def traces(self, service: str, limit: int = 100_000, lookback: str = "1h") -> list[Any]:
        """Every trace of *service* Jaeger holds (``/api/traces?service=…``)."""
        url = f"{self.query_url}/api/traces?service={service}&limit={limit}&lookback={lookback}"
        with urllib.request.urlopen(url, timeout=60) as response:
            return list(json.load(response)["data"])

    def services(self) -> list[str]:
        with urllib.request.urlopen(f"{self.query_url}/api/services", timeout=10) as response:
            return list(json.load(response)["data"] or [])

    def wait_for_trace(
        self, trace_id: str, services: int = 1, timeout: float = 30
    ) -> dict[str, Any] | None:
        """Poll until Jaeger has the trace with spans of at least *services* services."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.trace(trace_id)
            if found is not None and len(found["processes"]) >= services:
                return found
            if time.monotonic() > deadline:
                return found
            time.sleep(0.5)

    def log_records(self) -> list[dict[str, Any]]:
        """The log records the collector's file exporter wrote (OTLP JSON, one batch a line)."""
        if not self.logs_file.exists():
            return []
        records: list[dict[str, Any]] = []
        for line in self.logs_file.read_text(errors="replace").splitlines():
            if not line.strip():
                continue
            with contextlib.suppress(json.JSONDecodeError):
                batch = json.loads(line)
                for resource_logs in batch.get("resourceLogs", []):
                    resource = attributes(resource_logs.get("resource", {}).get("attributes", []))
                    records.extend(
                        {**record, "resource": resource}
                        for scope_logs in resource_logs.get("scopeLogs", [])
                        for record in scope_logs.get("logRecords", [])
                    )
        return records


def attributes(pairs: list[dict[str, Any]]) -> dict[str, Any]:
    """OTLP JSON ``[{"key": …, "value": {"stringValue": …}}]`` as a plain dict."""
    out = {}
    for pair in pairs:
        value = pair.get("value", {})
        out[pair["key"]] = next(iter(value.values()), None) if value else None
    return out


def collector_env(
    ports: Ports, directory: Path, *, filelog_include: str | None = None
) -> dict[str, str]:
    """The ``OTELCOL_*`` variables the shipped collector configs read: everything on 127.0.0.1."""
    env = {
        "OTELCOL_OTLP_GRPC_ENDPOINT": f"{LOOPBACK}:{ports.otlp_grpc}",
        "OTELCOL_OTLP_HTTP_ENDPOINT": f"{LOOPBACK}:{ports.otlp_http}",
        "OTELCOL_HEALTH_ENDPOINT": f"{LOOPBACK}:{ports.collector_health}",
        "OTELCOL_JAEGER_ENDPOINT": f"{LOOPBACK}:{ports.jaeger_otlp_grpc}",
        "OTELCOL_LOGS_FILE": str(directory / "logs.json"),
        "OTELCOL_DEBUG_VERBOSITY": "basic",
        "OTELCOL_METRICS_HOST": LOOPBACK,
        "OTELCOL_METRICS_PORT": str(ports.collector_metrics),
        "OTELCOL_FILE_STORAGE_DIR": str(directory / "file_storage"),
        "GOMEMLIMIT": "320MiB",
    }
    if filelog_include is not None:
        env["OTELCOL_FILELOG_INCLUDE"] = filelog_include
    return env


def jaeger_env(ports: Ports) -> dict[str, str]:
    """The ``JAEGER_*`` variables ``collector/jaeger.yaml`` reads."""
    return {
        "JAEGER_LISTEN_HOST": LOOPBACK,
        "JAEGER_OTLP_GRPC_PORT": str(ports.jaeger_otlp_grpc),
        "JAEGER_QUERY_PORT": str(ports.jaeger_query),
        "JAEGER_QUERY_GRPC_PORT": str(ports.jaeger_query_grpc),
        "JAEGER_HEALTH_PORT": str(ports.jaeger_health),
        "JAEGER_METRICS_PORT": str(ports.jaeger_metrics),
    }


def collector_configs(*, filelog: bool) -> list[str]:
    configs = [f"--config={COLLECTOR_CONFIG}"]
    if filelog:
        configs.append(f"--config={FILELOG_CONFIG}")
    return configs


@contextlib.contextmanager
def running_backend(
    binaries: Binaries,
    directory: Path,
    ports: Ports | None = None,
    *,
    filelog_include: str | None = None,
) -> Iterator[Backend]:
    """Run Jaeger, then the collector (shipped configs, endpoints from env) for the block.

    Without *ports*, free ones are reserved for the whole block (a program stopped and
    started again inside it finds its ports free), and a start that finds one taken anyway
    is retried on new ports. *filelog_include* (a glob) adds the filelog overlay, tailing
    those files.

    Raises:
        AddressInUseError: a port of *ports* is taken (or, without *ports*, every attempt's).
        RuntimeError: a program did not start.
    """
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "file_storage").mkdir(exist_ok=True)
    with contextlib.ExitStack() as reservations:

        def start() -> Backend:
            chosen = ports or reservations.enter_context(Ports.reserved())
            return _start_backend(binaries, directory, chosen, filelog_include)

        backend = start() if ports is not None else start_retrying(start)
        try:
            yield backend
        finally:
            backend.collector.stop()
            backend.jaeger.stop()


def _start_backend(
    binaries: Binaries, directory: Path, ports: Ports, filelog_include: str | None
) -> Backend:
    """Start Jaeger, then the collector, on *ports*; if either fails, neither runs."""
    jaeger = Program(
        "jaeger",
        [str(binaries.jaeger), f"--config={JAEGER_CONFIG}"],
        jaeger_env(ports),
        f"http://{LOOPBACK}:{ports.jaeger_health}/status",
        directory / "jaeger.log",
    )
    collector = Program(
        "otelcol",
        [str(binaries.otelcol), *collector_configs(filelog=filelog_include is not None)],
        collector_env(ports, directory, filelog_include=filelog_include),
        f"http://{LOOPBACK}:{ports.collector_health}/",
        directory / "otelcol.log",
    )
    try:
        jaeger.start()
        collector.start()
    except BaseException:
        collector.stop()
        jaeger.stop()
        raise
    return Backend(collector, jaeger, ports, directory / "logs.json")


def main() -> int:
    """``make jaeger``: both programs on the default ports (or free ones) until Ctrl-C.

    ``EXAMPLE_BACKEND_PORTS=free`` picks free ports instead of 4317/4318/16686/…, for a machine
    where those are taken; the lines printed say which.
    """
    try:
        binaries = build_binaries()
    except BackendUnavailableError as error:
        print(f"make jaeger: {error}", file=sys.stderr)
        return 2
    directory = Path(os.environ.get("EXAMPLE_BACKEND_DIR", "").strip() or REPO_DIR / ".backend")
    free = os.environ.get("EXAMPLE_BACKEND_PORTS", "").strip() == "free"
    stop = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)  # also when started in the background (SIG_IGN)
    try:
        with running_backend(binaries, directory, None if free else Ports()) as backend:
            jaeger = f"EXAMPLE_JAEGER_URL={backend.query_url} " if free else ""
            grpc = f"{LOOPBACK}:{backend.ports.otlp_grpc}"
            print(f"collector: OTLP/HTTP {backend.otlp_endpoint}, OTLP/gRPC {grpc}")
            print(f"Jaeger: query API {backend.query_url}/api/traces/<trace id>")
            print("  (this Go build has no UI assets: the page at / is Jaeger's placeholder)")
            print(f"collector log records: {backend.logs_file}; output: {directory}/*.log")
            print("now, in another terminal:")
            print(f"  {jaeger}OTEL_EXPORTER_OTLP_ENDPOINT={backend.otlp_endpoint} make demo")
            print("Ctrl-C stops both.", flush=True)
            while not stop:
                for program in (backend.collector, backend.jaeger):
                    if program.process is not None and program.process.poll() is not None:
                        print(f"{program.name} exited: see {program.log_file}", file=sys.stderr)
                        return 1
                time.sleep(0.5)
    except RuntimeError as error:  # a port taken, a bad config: the program's own output
        print(f"make jaeger: {error}", file=sys.stderr)
        print("(EXAMPLE_BACKEND_PORTS=free picks free ports)", file=sys.stderr)
        return 1
    print("stopped the collector and Jaeger", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
