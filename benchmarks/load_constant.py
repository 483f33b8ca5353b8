"""Figure D′: p50-p99.9 latency at a constant offered load, coordinated omission corrected.

The three configurations of figure D (no tracing, ``DjangoInstrumentor`` alone, all of
otel_context) each run as one gunicorn gthread worker pinned to one CPU; the open-loop
generator (:mod:`benchmarks._open_loop`) runs in this process, pinned to another CPU. First
each server's capacity is measured closed-loop; then all three are offered the same constant
rate, a fraction of the slowest one's capacity, in interleaved rounds (a fresh shuffled order
per round), each latency counted from the request's scheduled send time. Usage, from the
repository root::

    python -m benchmarks.load_constant            # ~8 minutes, writes its section of RESULTS.md
    python -m benchmarks.load_constant --quick    # ~1 minute smoke run, prints only

Needs two CPUs for the pinning (with fewer, everything shares them, and the report says so).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

from benchmarks import _load_report
from benchmarks._latency import offered_rate
from benchmarks._load_constant_report import render
from benchmarks._load_wrk import children, load_average
from benchmarks._open_loop import Recording, Target, closed_loop, constant_rate
from benchmarks.load import FULL_STACK, INSTRUMENTOR, PATH, PLAIN, USER, LoadPlan, check, start
from example.app import demo_data
from example.runner import ServiceFiles, prepare_database

if TYPE_CHECKING:
    from collections.abc import Iterator

    from benchmarks.load import Server

RESULTS: Final = Path(__file__).resolve().parent / "RESULTS.md"
CONFIGS: Final = (PLAIN, INSTRUMENTOR, FULL_STACK)
#: Every configuration's app: ``example.wsgi``'s, answering with its thread CPU time.
CPU_TIMED_APP: Final = "benchmarks._cpu_timed_wsgi:application"


@dataclass(frozen=True, slots=True)
class Plan:
    """Sizes of one run."""

    rounds: int
    seconds: float  # per configuration per round
    warmup: float
    capacity_seconds: float  # per configuration per capacity pass (two passes)
    fraction: float = 0.5  # of the slowest configuration's capacity
    threads: int = 2
    capacity_connections: int = 8
    server_cpu: int = 0
    client_cpu: int = 1


FULL: Final = Plan(rounds=20, seconds=7, warmup=5, capacity_seconds=4)
QUICK: Final = Plan(rounds=3, seconds=3, warmup=2, capacity_seconds=2)


@dataclass(frozen=True, slots=True)
class RoundLog:
    """One round: the order it ran the configurations in and the load average around it."""

    order: tuple[str, ...]
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]


@dataclass
class Measured:
    """One configuration's server and what was measured on it."""

    server: Server
    target: Target
    capacity: list[float] = field(default_factory=list)
    rounds: list[Recording] = field(default_factory=list)


@dataclass
class ConstantRun:
    """Everything one run measured, for the report."""

    plan: Plan
    command: str
    seed: int
    pinning: str
    measured: dict[str, Measured] = field(default_factory=dict)
    rate: float = 0.0
    log: list[RoundLog] = field(default_factory=list)
    load_before: str = ""
    load_after: str = ""
    seconds: float = 0.0
    errors: Counter[str] = field(default_factory=Counter)


@contextlib.contextmanager
def affinity(cpus: set[int] | None) -> Iterator[None]:
    """This process (and what it starts meanwhile) on *cpus*; as before afterwards."""
    if cpus is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, cpus)
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


def pin_plan(plan: Plan) -> tuple[set[int] | None, set[int] | None, str]:
    """The server's and the generator's CPU sets, and a sentence for the report."""
    usable = os.sched_getaffinity(0)
    if {plan.server_cpu, plan.client_cpu} <= usable and plan.server_cpu != plan.client_cpu:
        return {plan.server_cpu}, {plan.client_cpu}, ""
    return None, None, f"not pinned: this process may use CPUs {sorted(usable)} only"


def allowed_cpus(pid: int) -> str:
    """*pid*'s ``Cpus_allowed_list`` (Linux), or ``?``."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return "?"
    lines = [line for line in status.splitlines() if line.startswith("Cpus_allowed_list:")]
    return lines[0].split()[1] if lines else "?"


def start_all(run: ConstantRun, workdir: Path, server_cpus: set[int] | None) -> None:
    """Start one single-worker gunicorn per configuration on *server_cpus*; check each."""
    files = ServiceFiles.in_dir(workdir / "db")
    prepare_database(files, load_users=1)
    plan = LoadPlan(rounds=0, seconds=0, warmup=0, workers=1, threads=run.plan.threads)
    headers = {"Authorization": f"Token {demo_data.user_token(USER)}"}
    with affinity(server_cpus):
        for config in CONFIGS:
            server = start(config, workdir, files.db, plan, {}, app=CPU_TIMED_APP)
            run.measured[config.key] = Measured(server, target(server, headers))
    for measured in run.measured.values():
        check(measured.server)
    cpus = {allowed_cpus(pid) for m in run.measured.values() for pid in workers_of(m)}
    run.pinning = run.pinning or (
        f"the servers' workers may run on CPU {' / '.join(sorted(cpus))} only, the generator"
        f" on CPU {','.join(map(str, sorted(os.sched_getaffinity(0))))} only"
    )


def workers_of(measured: Measured) -> list[int]:
    """The worker pids of *measured*'s gunicorn."""
    return children(measured.server.service.process.pid)


def target(server: Server, headers: dict[str, str]) -> Target:
    """The ``GET PATH`` request for *server*."""
    parts = urlsplit(server.service.base_url)
    assert parts.hostname is not None
    assert parts.port is not None
    return Target.get(parts.hostname, parts.port, PATH, headers)


def measure(run: ConstantRun, rng: random.Random, rate: float | None) -> None:
    """Capacity (two interleaved closed-loop passes), the rate, warm-up, then the rounds."""
    plan, keys = run.plan, list(run.measured)
    for _ in range(2):
        for key in rng.sample(keys, len(keys)):
            m = run.measured[key]
            m.capacity.append(
                closed_loop(m.target, plan.capacity_connections, plan.capacity_seconds)
            )
    slowest = min(statistics.median(m.capacity) for m in run.measured.values())
    run.rate = rate if rate is not None else offered_rate(slowest, plan.fraction)
    for key in keys:
        record(run, key, plan.warmup, keep=False)
    for number in range(plan.rounds):
        order = tuple(rng.sample(keys, len(keys)))
        before = os.getloadavg()
        for key in order:
            record(run, key, plan.seconds, keep=True)
        run.log.append(RoundLog(order, before, os.getloadavg()))
        print(
            f"  round {number + 1}/{plan.rounds}: {' '.join(order)}; load {before[0]:.2f}"
            f" -> {run.log[-1].load_after[0]:.2f}",
            file=sys.stderr,
        )


def record(run: ConstantRun, key: str, seconds: float, *, keep: bool) -> None:
    """One constant-rate run of *seconds* on *key*'s server."""
    measured = run.measured[key]
    recording = constant_rate(measured.target, run.rate, seconds)
    measured.server.requests += len(recording.latencies)
    measured.server.errors += recording.errors.total()
    run.errors.update(recording.errors)
    if keep:
        measured.rounds.append(recording)
    time.sleep(0.3)  # the span exporter's batch, off the next configuration's clock


def parse(argv: list[str]) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load_constant", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a ~1 minute smoke run")
    parser.add_argument("--rate", type=float, default=None, help="requests/s (default: measured)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds (default 20)")
    parser.add_argument("--seconds", type=float, default=None, help="per configuration per round")
    parser.add_argument("--seed", type=int, default=None, help="seed of the shuffles")
    parser.add_argument("--output", type=Path, default=None, help="Markdown file to update")
    return parser.parse_args(argv)


def plan_of(args: argparse.Namespace) -> Plan:
    """The plan the options ask for."""
    plan = QUICK if args.quick else FULL
    return Plan(
        rounds=args.rounds or plan.rounds,
        seconds=args.seconds or plan.seconds,
        warmup=plan.warmup,
        capacity_seconds=plan.capacity_seconds,
    )


def main(argv: list[str]) -> int:
    """Run figure D′, print its section and write it into RESULTS.md."""
    args = parse(argv)
    plan = plan_of(args)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    server_cpus, client_cpus, note = pin_plan(plan)
    command = " ".join(["python -m benchmarks.load_constant", *argv])
    run = ConstantRun(plan, command, seed, note, load_before=load_average())
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="otel-load-constant-") as workdir:
        try:
            with affinity(client_cpus):
                start_all(run, Path(workdir), server_cpus)
                measure(run, random.Random(seed), args.rate)
        finally:
            for measured in run.measured.values():
                measured.server.service.stop(timeout=10)
    run.load_after, run.seconds = load_average(), time.monotonic() - started
    text = render(run, random.Random(seed))
    print(text)
    output = args.output or (None if args.quick else RESULTS)
    if output is not None:
        existing = output.read_text(encoding="utf-8") if output.exists() else ""
        marks = _load_report.CONSTANT
        output.write_text(_load_report.splice(existing, text, marks), encoding="utf-8")
        print(f"written to {output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
