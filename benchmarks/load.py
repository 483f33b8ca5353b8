"""Under load: the example app under gunicorn gthread, driven by ``wrk`` on 127.0.0.1.

Figure D: req/s and p50/p99 latency for the example app with no tracing, with contrib's
``DjangoInstrumentor`` alone and with all of otel_context, each served by gunicorn gthread
(2 workers x 2 threads, ``example/gunicorn.conf.py``: a ``TracerProvider`` per worker writing
JSON span lines to a file, ``gc.freeze()`` after start-up). Figure E: the full app again with
``OTEL_EXPORTER_OTLP_ENDPOINT`` set, once on a loopback OTLP/HTTP sink that answers 200
(collector up) and once on a closed port of 127.0.0.1 (collector down): request cost, worker
shutdown time after the load, worker RSS growth over >= 20,000 requests.

All servers run side by side; a round gives each one ``wrk`` run in a fresh shuffled order, so
every ratio compares runs seconds apart. Usage, from the repository root::

    python -m benchmarks.load            # ~4-5 minutes, writes its section of RESULTS.md
    python -m benchmarks.load --quick    # ~1 minute smoke run, prints only (unless --output)

Needs ``wrk`` (Debian: ``apt-get install wrk``); without it the figures are skipped.
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import platform
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Final

from benchmarks import _load_report
from benchmarks._load_wrk import (
    WrkResult,
    alive,
    children,
    load_average,
    rss_kb,
    run_wrk,
    write_lua,
    wrk_binary,
)
from benchmarks._stats import DASH, TIMES, Summary
from example.app import demo_data
from example.runner import ServiceFiles, prepare_database, start_gunicorn

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from example.runner import Service

RESULTS: Final = Path(__file__).resolve().parent / "RESULTS.md"
PATH: Final = "/api/v1/organisations/1/projects/1/"
USER: Final = demo_data.load_username(0)
#: Every request to PATH logs 3 structlog events and 1 stdlib record (example/app/views.py).
LINES_PER_REQUEST: Final = 4
SERVER_SPAN: Final = '"kind": "SpanKind.SERVER"'


@dataclass(frozen=True, slots=True)
class LoadPlan:
    """Sizes of one run."""

    rounds: int
    seconds: float
    warmup: float
    connections: int = 16
    wrk_threads: int = 2
    workers: int = 2
    threads: int = 2
    #: Requests the full and collector-down servers serve between the two RSS readings.
    rss_requests: int = 20_000

    def describe(self) -> str:
        """The parameters, for the report."""
        return (
            f"gunicorn gthread {self.workers} workers {TIMES} {self.threads} threads per"
            f" configuration; {self.rounds} rounds, each one `wrk -t{self.wrk_threads}"
            f" -c{self.connections} -d{self.seconds:g}s --latency` per configuration in a"
            f" shuffled order, after {self.warmup:g} s of warm-up each; RSS over"
            f" {self.rss_requests:,} requests"
        )


FULL: Final = LoadPlan(rounds=5, seconds=10, warmup=3)
QUICK: Final = LoadPlan(rounds=2, seconds=3, warmup=2, rss_requests=2_000)


@dataclass(frozen=True, slots=True)
class Config:
    """One server configuration."""

    key: str
    label: str
    settings: str
    traced: bool  # writes server spans
    otel_context: bool  # echoes Correlation-Id, ids on log lines
    #: OTEL_EXPORTER_OTLP_ENDPOINT: "" (not set), "up" (the sink) or "down" (a closed port).
    collector: str = ""


PLAIN, INSTRUMENTOR, FULL_STACK, UP, DOWN = (
    Config(
        "plain", "no tracing", "benchmarks._load_settings_plain", traced=False, otel_context=False
    ),
    Config(
        "instrumentor",
        "DjangoInstrumentor alone",
        "benchmarks._load_settings_instrumentor",
        traced=True,
        otel_context=False,
    ),
    Config("full", "full otel_context", "example.settings", traced=True, otel_context=True),
    Config(
        "up",
        "full, collector up (OTLP sink)",
        "example.settings",
        traced=True,
        otel_context=True,
        collector="up",
    ),
    Config(
        "down",
        "full, collector down",
        "example.settings",
        traced=True,
        otel_context=True,
        collector="down",
    ),
)
CONFIGS: Final = (PLAIN, INSTRUMENTOR, FULL_STACK, UP, DOWN)


@dataclass(frozen=True, slots=True)
class Shutdown:
    """How one server stopped after SIGTERM to its master."""

    workers_s: float  # until the last worker exited
    master_s: float
    killed: bool  # gunicorn reports a worker SIGKILLed (graceful timeout hit)


@dataclass
class Server:
    """One running configuration and what was measured on it."""

    config: Config
    service: Service
    rounds: list[WrkResult] = field(default_factory=list)
    requests: int = 0  # every request wrk completed on it
    errors: int = 0
    rss_before: dict[int, int] = field(default_factory=dict)
    rss_after: dict[int, int] = field(default_factory=dict)
    requests_at_rss: int = 0
    #: (requests since the "before" reading, worker RSS) after each of its rounds.
    rss_trace: list[tuple[int, dict[int, int]]] = field(default_factory=list)
    shutdown: Shutdown | None = None
    server_spans: int = 0
    log_lines: int = 0

    def record(self, result: WrkResult) -> WrkResult:
        """Count *result*'s requests and errors; return it."""
        self.requests += result.requests
        self.errors += result.errors
        return result


@dataclass
class Run:
    """Everything one run measured, for the report."""

    plan: LoadPlan
    command: str
    seed: int
    wrk_version: str
    servers: dict[str, Server]
    load_before: str
    load_after: str = ""
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- servers


def closed_port() -> socket.socket:
    """A socket bound to a port of 127.0.0.1 and not listening: connections there are refused."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock


class _SinkHandler(http.server.BaseHTTPRequestHandler):
    """Reads an OTLP/HTTP export and answers 200 with an empty (valid) protobuf response."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.exports += 1  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Quiet."""


@contextlib.contextmanager
def otlp_sink() -> Iterator[http.server.ThreadingHTTPServer]:
    """A collector stand-in on 127.0.0.1 that accepts every export (and counts them)."""
    sink = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SinkHandler)
    sink.exports = 0  # type: ignore[attr-defined]
    thread = threading.Thread(target=sink.serve_forever, name="otlp-sink", daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        sink.shutdown()
        sink.server_close()


def start(
    config: Config,
    directory: Path,
    db: Path,
    plan: LoadPlan,
    endpoints: dict[str, str],
    *,
    app: str | None = None,
) -> Server:
    """Start *config*'s gunicorn on its own copy of *db*, writing its files in *directory*.

    *app* (``"module:variable"``) serves another WSGI app than ``example.wsgi``'s.
    """
    files = ServiceFiles.in_dir(directory / config.key)
    shutil.copyfile(db, files.db)
    env = {
        "DJANGO_SETTINGS_MODULE": config.settings,
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoints.get(config.collector, ""),
    }
    service = start_gunicorn(files, workers=plan.workers, threads=plan.threads, env=env, app=app)
    return Server(config, service)


def check(server: Server) -> None:
    """One request before timing: 200, and ``Correlation-Id`` echoed iff otel_context is on."""
    request = urllib.request.Request(
        server.service.url(PATH), headers={"Authorization": f"Token {demo_data.user_token(USER)}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        status, correlation = response.status, response.headers.get("Correlation-Id")
    if status != 200 or (correlation is not None) != server.config.otel_context:
        msg = f"{server.config.key}: status {status}, Correlation-Id {correlation!r}"
        raise RuntimeError(msg)
    server.requests += 1


def worker_rss(server: Server) -> dict[int, int]:
    """RSS (KiB) of each of *server*'s workers now."""
    return {
        pid: rss for pid in children(server.service.process.pid) if (rss := rss_kb(pid)) is not None
    }


def stop_timed(server: Server, timeout: float = 60) -> Shutdown:
    """SIGTERM the master; time the workers' and the master's exit (SIGKILL after *timeout*)."""
    process = server.service.process
    workers = children(process.pid)
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    workers_done: float | None = None
    while process.poll() is None and time.monotonic() - started < timeout:
        if workers_done is None and not any(alive(pid) for pid in workers):
            workers_done = time.monotonic() - started
        time.sleep(0.01)
    master = time.monotonic() - started
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGKILL)
        process.wait()
    killed = "SIGKILL" in server.service.stderr() or "WORKER TIMEOUT" in server.service.stderr()
    return Shutdown(workers_done if workers_done is not None else master, master, killed)


def count_outputs(server: Server) -> None:
    """Count the server spans and log lines the stopped server wrote."""
    files = server.service.files
    with files.span_file.open(encoding="utf-8") as spans:
        server.server_spans = sum(SERVER_SPAN in line for line in spans)
    with files.log_file.open("rb") as lines:
        server.log_lines = sum(1 for _ in lines)


# ---------------------------------------------------------------- the run


def drive(binary: str, script: Path, plan: LoadPlan, server: Server, seconds: float) -> WrkResult:
    """One ``wrk`` run of *seconds* against *server*."""
    return server.record(
        run_wrk(
            binary,
            server.service.url(PATH),
            seconds=seconds,
            connections=plan.connections,
            threads=plan.wrk_threads,
            headers={"Authorization": f"Token {demo_data.user_token(USER)}"},
            script=script,
        )
    )


def measure(run: Run, binary: str, script: Path, rng: random.Random) -> None:
    """Warm up, RSS before, the interleaved rounds, top-up to the RSS request count, RSS after."""
    plan, servers = run.plan, list(run.servers.values())
    for server in servers:
        check(server)
        drive(binary, script, plan, server, plan.warmup)
    for server in servers:
        server.rss_before, server.requests_at_rss = worker_rss(server), server.requests
    for number in range(plan.rounds):
        print(f"  round {number + 1}/{plan.rounds}", file=sys.stderr)
        for server in rng.sample(servers, len(servers)):
            server.rounds.append(drive(binary, script, plan, server, plan.seconds))
            server.rss_trace.append((server.requests - server.requests_at_rss, worker_rss(server)))
            time.sleep(0.5)  # the last server's span exporter finishes its batch
    for server in (run.servers["full"], run.servers["up"], run.servers["down"]):
        rate = statistics.median(r.rate for r in server.rounds)
        for _ in range(5):  # wrk runs for a time, not a count: top up until the count is met
            missing = plan.rss_requests - (server.requests - server.requests_at_rss)
            if missing <= 0:
                break
            rate = min(rate, drive(binary, script, plan, server, max(1.0, missing / rate)).rate)
    for server in servers:
        server.rss_after = worker_rss(server)
        server.requests_at_rss = server.requests - server.requests_at_rss


def run_all(run: Run, binary: str, rng: random.Random, workdir: Path) -> None:
    """Prepare the database, start the servers, measure, stop them (timed) and count outputs."""
    files = ServiceFiles.in_dir(workdir / "db")
    prepare_database(files, load_users=1)
    script = write_lua(workdir)
    with closed_port() as down, otlp_sink() as sink:
        endpoints = {
            "up": f"http://127.0.0.1:{sink.server_address[1]}",
            "down": f"http://127.0.0.1:{down.getsockname()[1]}",
        }
        try:
            for config in CONFIGS:
                server = start(config, workdir, files.db, run.plan, endpoints)
                run.servers[config.key] = server
            measure(run, binary, script, rng)
            for server in rng.sample(list(run.servers.values()), len(run.servers)):
                server.shutdown = stop_timed(server)
        finally:
            for server in run.servers.values():
                server.service.stop(timeout=5)
        run.notes.append(f"OTLP exports the sink accepted: {sink.exports:,}")  # type: ignore[attr-defined]
    for server in run.servers.values():
        count_outputs(server)


# ---------------------------------------------------------------- the report


def ratios(run: Run, key: str, baseline: str, value: Callable[[WrkResult], float]) -> list[float]:
    """Per round: *key*'s value over *baseline*'s value in the same round."""
    mine, theirs = run.servers[key].rounds, run.servers[baseline].rounds
    return [value(a) / value(b) for a, b in zip(mine, theirs, strict=True)]


def _rate(result: WrkResult) -> float:
    return result.rate


def _cost(result: WrkResult) -> float:
    return 1 / result.rate


def _p50(result: WrkResult) -> float:
    return result.p50_ms


def _p99(result: WrkResult) -> float:
    return result.p99_ms


def _spread(values: Sequence[float], digits: int = 0) -> tuple[str, str, str]:
    s = Summary.of(values)
    return (
        f"{s.median:.{digits}f}",
        f"{s.q1:.{digits}f}{DASH}{s.q3:.{digits}f}",
        f"{s.low:.{digits}f}{DASH}{s.high:.{digits}f}",
    )


def _verdict(value: float, target: float, *, at_most: bool) -> str:
    met = value <= target if at_most else value >= target
    return "**met**" if met else "**missed**"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def render(run: Run) -> str:
    """The Markdown section (markers included) for *run*."""
    lines = [
        _load_report.START,
        "## D. Under load: gunicorn gthread driven by wrk",
        "",
        "Each configuration runs as its own gunicorn (gthread) on 127.0.0.1 with"
        " `example/gunicorn.conf.py`: a `TracerProvider` per worker set up in `post_fork`, spans"
        " exported by a `BatchSpanProcessor` as one JSON line each to a file (what the example"
        " ships), `gc.freeze()` after worker start-up. All servers run side by side (idle"
        " unless driven); each round drives each one with `wrk` once, in a fresh shuffled"
        " order, so a round's ratio compares runs seconds apart. Load: `GET " + PATH + "` with"
        " a seeded user's `Authorization: Token` header; the view logs 3 structlog events and 1"
        " stdlib record, as JSON lines to a file. Shown: medians over rounds, IQR and min"
        f"{DASH}max. `wrk` shares the 2 CPUs with the servers (and with other processes);"
        " figure D′ (after E) measures the three configurations again at a constant offered"
        " rate, the load generator on a CPU of its own.",
        "",
        (
            "- no tracing: `benchmarks/_load_settings_plain.py`, the example settings without the"
            " otel_context app and without `StructlogOTelProcessor` in the logging pipelines;"
            " DjangoInstrumentor alone: the same plus `DjangoInstrumentor().instrument()` (default"
            " options) in an `AppConfig.ready()`; full: `example.settings` unchanged."
        ),
        "",
        (
            f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; command: `{run.command}`;"
            f" seed {run.seed}; took {run.seconds:.0f} s"
        ),
        f"- Plan: {run.plan.describe()}",
        (
            f"- {run.wrk_version}; Python {platform.python_version()}, gunicorn"
            f" {metadata.version('gunicorn')}"
        ),
        (
            f"- Load average (1/5/15 min) before {chr(0x2192)} after: {run.load_before}"
            f" {chr(0x2192)} {run.load_after} (other processes share the CPUs)"
        ),
        "",
    ]
    lines += _config_table(run)
    lines += ["", *_ratio_table(run), ""]
    lines += _checks(run)
    lines += ["", "## E. Collector down", "", *_collector_down(run), "", _load_report.END]
    return "\n".join(lines) + "\n"


def _config_table(run: Run) -> list[str]:
    rows = []
    for server in run.servers.values():
        rounds = server.rounds
        rows.append(
            (
                server.config.label,
                *_spread([r.rate for r in rounds]),
                _spread([r.p50_ms for r in rounds], 2)[0],
                *_spread([r.p99_ms for r in rounds], 2),
            )
        )
    header = (
        "Configuration",
        "req/s (median)",
        "IQR",
        "min–max",
        "p50 ms",
        "p99 ms",
        "IQR",
        "min–max",
    )
    return _table(header, rows)


def _ratio_table(run: Run) -> list[str]:
    specs: list[tuple[str, str, str, Callable[[WrkResult], float], float | None, bool]] = [
        ("full req/s ÷ DjangoInstrumentor req/s", "full", "instrumentor", _rate, 0.95, False),
        ("full p99 ÷ no-tracing p99", "full", "plain", _p99, 1.3, True),
        ("full p50 ÷ no-tracing p50", "full", "plain", _p50, None, True),
        ("full p99 ÷ DjangoInstrumentor p99", "full", "instrumentor", _p99, None, True),
        ("DjangoInstrumentor req/s ÷ no-tracing req/s", "instrumentor", "plain", _rate, None, True),
        ("DjangoInstrumentor p99 ÷ no-tracing p99", "instrumentor", "plain", _p99, None, True),
        ("full req/s ÷ no-tracing req/s", "full", "plain", _rate, None, True),
        ("collector down: cost per request ÷ collector up's", "down", "up", _cost, 1.10, True),
        ("collector down: p99 ÷ collector up's", "down", "up", _p99, None, True),
        ("collector up: cost per request ÷ full's (OTLP export)", "up", "full", _cost, None, True),
        ("collector down: cost per request ÷ full's", "down", "full", _cost, None, True),
    ]
    rows = []
    for label, key, baseline, value, target, at_most in specs:
        values = ratios(run, key, baseline, value)
        median = Summary.of(values).median
        verdict = ""
        if target is not None:
            sign = "≤" if at_most else "≥"
            verdict = f"{sign} {target:.2f}{TIMES}: {_verdict(median, target, at_most=at_most)}"
        rows.append((label, *Summary.of(values).ratio_cells(), verdict))
    return _table(("Ratio (per round)", "median", "IQR", "min–max", "target"), rows)


def _checks(run: Run) -> list[str]:
    out = [
        (
            "Checks (wrk counts only the requests that completed within its run, so the servers"
            " served a few more; every count below must be at least the expected one):"
        ),
        "",
    ]
    for server in run.servers.values():
        if server.config.traced:
            ok = "ok" if server.server_spans >= server.requests else "**spans dropped**"
            spans = f"{server.server_spans:,} server spans for {server.requests:,} requests ({ok})"
        else:
            ok = "ok" if server.server_spans == 0 else "**unexpected spans**"
            spans = f"{server.server_spans} server spans ({ok})"
        expected = LINES_PER_REQUEST * server.requests
        lines_ok = "ok" if server.log_lines >= expected else "**lines missing**"
        out.append(
            f"- {server.config.label}: {server.errors} wrk errors (socket or non-2xx); {spans};"
            f" {server.log_lines:,} log lines for {expected:,} expected ({lines_ok})"
        )
    return [*out, *(f"- {note}" for note in run.notes)]


def _second_half_growth(server: Server) -> str:
    """RSS growth between the reading nearest half the requests and the last one (bounded?)."""
    total, after = server.requests_at_rss, server.rss_after
    if not server.rss_trace or not total:
        return DASH
    _, middle = min(server.rss_trace, key=lambda reading: abs(reading[0] - total / 2))
    if middle.keys() != after.keys():
        return "worker replaced"
    return " / ".join(f"{(after[pid] - middle[pid]) / 1024:+.1f}" for pid in middle)


def _collector_down(run: Run) -> list[str]:
    full, down = run.servers["full"], run.servers["down"]
    out = [
        (
            "The full configuration again, with `OTEL_EXPORTER_OTLP_ENDPOINT` set: `example/"
            "tracing.py` then exports spans and log records over OTLP/HTTP (batch processors) next"
            " to the span file, and each event also becomes a span event. Collector up: a sink on"
            " 127.0.0.1 in the benchmark's process reads each export and answers 200. Collector"
            " down: a port of 127.0.0.1 that a socket holds bound but not listening (connections"
            " refused). The request costs are in the ratio table above (cost per request = 1 ÷"
            " req/s, per round); the target compares down with up, the same work but for the"
            " failing sends. After the rounds every server gets SIGTERM (in a shuffled order) and"
            " its exit is timed: workers finish, flush their spans and exit; gunicorn's graceful"
            " timeout is 10 s."
        ),
        "",
    ]
    rows = []
    for server in run.servers.values():
        shutdown = server.shutdown
        assert shutdown is not None
        before, after = server.rss_before, server.rss_after
        growth = [(after[pid] - before[pid]) / 1024 for pid in before if pid in after]
        half = _second_half_growth(server)
        rows.append(
            (
                server.config.label,
                f"{shutdown.workers_s:.2f}",
                f"{shutdown.master_s:.2f}",
                "yes" if shutdown.killed else "no",
                " / ".join(f"{rss / 1024:.1f}" for rss in before.values()),
                " / ".join(f"{rss / 1024:.1f}" for rss in after.values()),
                " / ".join(f"{g:+.1f}" for g in growth)
                if len(growth) == len(before)
                else "worker replaced",
                half,
                f"{server.requests_at_rss:,}",
            )
        )
    header = (
        "Configuration",
        "SIGTERM → workers exited (s)",
        "→ master exited (s)",
        "worker SIGKILLed",
        "worker RSS before (MiB)",
        "after (MiB)",
        "growth (MiB)",
        "of which in the second half",
        "requests between",
    )
    out += _table(header, rows)
    shutdown = down.shutdown
    assert shutdown is not None
    cost = Summary.of(ratios(run, "down", "up", _cost)).median
    full_s = full.shutdown.workers_s if full.shutdown else float("nan")
    out += [
        "",
        (
            f"- Request cost with the collector down: {cost:.2f}{TIMES} that with the collector"
            f" up (target ≤ 1.10{TIMES}): {_verdict(cost, 1.10, at_most=True)}"
        ),
        (
            f"- Worker shutdown after load, collector down: {shutdown.workers_s:.2f} s"
            f" (target ≤ 5 s): {_verdict(shutdown.workers_s, 5.0, at_most=True)};"
            f" with the collector not configured: {full_s:.2f} s"
        ),
    ]
    return out


# ---------------------------------------------------------------- command line


def parse(argv: list[str]) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a ~1 minute smoke run")
    parser.add_argument("--seed", type=int, default=None, help="seed of the shuffles")
    parser.add_argument("--output", type=Path, default=None, help="Markdown file to update")
    parser.add_argument("--keep", type=Path, default=None, help="keep the servers' files here")
    return parser.parse_args(argv)


def wrk_version(binary: str) -> str:
    """``wrk``'s version line (``wrk -v`` exits 1 after printing it)."""
    done = subprocess.run([binary, "-v"], capture_output=True, text=True, check=False, timeout=10)
    first = (done.stdout or done.stderr).strip().splitlines()
    return first[0].split(" Copyright")[0] if first else "wrk"


def main(argv: list[str]) -> int:
    """Run the load figures, print the section and write it into RESULTS.md."""
    args = parse(argv)
    binary = wrk_binary()
    if binary is None:
        print(
            "wrk is not installed (Debian: apt-get install wrk): the load figures D and E"
            " are skipped; benchmarks/RESULTS.md is left as it is.",
            file=sys.stderr,
        )
        return 0
    plan = QUICK if args.quick else FULL
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    run = Run(
        plan=plan,
        command=" ".join(["python -m benchmarks.load", *argv]),
        seed=seed,
        wrk_version=wrk_version(binary),
        servers={},
        load_before=load_average(),
    )
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        if args.keep is not None:
            workdir = args.keep
            workdir.mkdir(parents=True, exist_ok=True)
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="otel-load-")))
        run_all(run, binary, random.Random(seed), workdir)
    run.load_after, run.seconds = load_average(), time.monotonic() - started
    text = render(run)
    print(text)
    output = args.output or (None if args.quick else RESULTS)
    if output is not None:
        existing = output.read_text(encoding="utf-8") if output.exists() else ""
        output.write_text(_load_report.splice(existing, text), encoding="utf-8")
        print(f"written to {output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
