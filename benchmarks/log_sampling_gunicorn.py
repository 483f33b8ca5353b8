"""The issue-24 mix under real gunicorn: lines written, traces kept, CPU a request, against today.

``python -m benchmarks.log_sampling_gunicorn [REQUESTS] [ROUNDS]`` from the repository root
(default 1000 requests, 2 rounds). The example service (``example/``) runs under gunicorn
(gthread, 2 workers x 4 threads) on 127.0.0.1 with head sampling at 10 %
(``parentbased_traceidratio``, 0.1; requests carry no ``traceparent``, the service decides).
Each request is ``GET /api/v1/chatter/?lines=20``: 19 INFO lines and a WARNING; 2 % also fail
(a 500) and 3 % also sleep 700 ms (slow, ``HOLD_SLOW_MS`` 500). Four clients send them.

Variants, each on a fresh server, alternated ``ROUNDS`` times so drift hits them alike:

- ``off``: today's chain (no ``OTEL_CONTEXT_*`` sampling variable);
- ``lines``: ``UNSAMPLED_LOG_RATIO`` 0 and ``HOLD_LINES`` (the flight recorder);
- ``keep``: the same, and ``KEEP_NOTABLE_TRACES``.

Counted: the lines each request wrote (by its correlation id), the spans the span file holds
(the example exports to it; the keeper too), the workers' CPU time (user + system, from
``/proc``) over the mix divided by the requests, and the clients' median latency of the fine
requests. Prints one block a variant and the ratios against ``off``. The CPU figures need a
quiet machine: on a shared one they drift between runs more than the variants differ
(``benchmarks.trace_keeping`` counts instructions instead).
"""

from __future__ import annotations

import json
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from example.runner import ServiceFiles, prepare_database, start_gunicorn

LINES = 20
CLIENTS = 4
SLOW_MS, HOLD_SLOW_MS = 700, 500
WEIGHTS = {"fine": 95, "error": 2, "slow": 3}
QUERY = {"fine": "", "error": "&fail=1", "slow": f"&sleep_ms={SLOW_MS}"}
HEAD = {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"}
LINES_ON = {
    "OTEL_CONTEXT_UNSAMPLED_LOG_RATIO": "0",
    "OTEL_CONTEXT_HOLD_LINES": "true",
    "OTEL_CONTEXT_HOLD_SLOW_MS": str(HOLD_SLOW_MS),
}
VARIANTS = {
    "off": HEAD,
    "lines": {**HEAD, **LINES_ON},
    "keep": {**HEAD, **LINES_ON, "OTEL_CONTEXT_KEEP_NOTABLE_TRACES": "true"},
}
_TICKS = 100  # os.sysconf("SC_CLK_TCK") on Linux


@dataclass
class Result:
    """What one run of the mix wrote and cost."""

    lines: Counter[str] = field(default_factory=Counter)  # kind -> lines written
    complete: Counter[str] = field(default_factory=Counter)  # kind -> requests with 20 lines
    spans: int = 0
    kept_traces: Counter[str] = field(default_factory=Counter)  # kind -> traces in the span file
    sampled: int = 0  # requests sampled at the head (their lines say trace_sampled true)
    cpu_s: float = 0.0
    fine_ms: list[float] = field(default_factory=list)


def _workers_cpu(master: int) -> float:
    """User + system seconds of *master*'s children (the gunicorn workers)."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    total = 0
    for pid in children:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / _TICKS


def _send(base_url: str, calls: list[tuple[str, str]], latencies: dict[str, float]) -> None:
    with requests.Session() as session:
        for kind, correlation_id in calls:
            started = time.perf_counter()
            session.get(
                f"{base_url}/api/v1/chatter/?lines={LINES}{QUERY[kind]}",
                headers={"Correlation-Id": correlation_id},
                timeout=30,
            )
            latencies[correlation_id] = (time.perf_counter() - started) * 1000


def _drive(base_url: str, kinds: list[str]) -> tuple[dict[str, str], dict[str, float]]:
    """Send the mix from CLIENTS threads; correlation id -> kind, and -> latency (ms)."""
    ids = {f"mix-{kind}-{uuid.uuid4().hex}": kind for kind in kinds}
    calls = [(kind, cid) for cid, kind in ids.items()]
    latencies: dict[str, float] = {}
    threads = [
        threading.Thread(target=_send, args=(base_url, calls[i::CLIENTS], latencies))
        for i in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return ids, latencies


def _read(path: Path) -> list[dict[str, Any]]:
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    return [json.loads(line) for line in lines if line.startswith("{")]


def run(variant: str, kinds: list[str], directory: Path, db: Path) -> Result:
    """One fresh server with *variant*'s environment; the mix; what it wrote and cost."""
    files = ServiceFiles.in_dir(directory, db=db)
    service = start_gunicorn(files, workers=2, threads=4, env=VARIANTS[variant])
    try:
        _drive(service.base_url, ["fine"] * 40)  # warm-up: imports, first-request set-up
        before = _workers_cpu(service.process.pid)
        ids, latencies = _drive(service.base_url, kinds)
        cpu_s = _workers_cpu(service.process.pid) - before
    finally:
        service.stop()
    return _count(files, ids, latencies, cpu_s)


def _count(
    files: ServiceFiles, ids: dict[str, str], latencies: dict[str, float], cpu_s: float
) -> Result:
    result = Result(cpu_s=cpu_s)
    by_request: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in _read(files.log_file):
        if line.get("correlation.id") in ids:
            by_request[line["correlation.id"]].append(line)
    spans = _read(files.span_file)
    result.spans = len(spans)
    traces = {span["context"]["trace_id"][2:] for span in spans}
    for cid, kind in ids.items():
        own = by_request[cid]
        result.lines[kind] += len(own)
        chatter = [x for x in own if str(x.get("event", "")).startswith("chatter.")]
        result.complete[kind] += len(chatter) == LINES
        result.kept_traces[kind] += bool(own) and own[0]["trace_id"] in traces
        result.sampled += bool(own) and own[0].get("trace_sampled") is True
        if kind == "fine":
            result.fine_ms.append(latencies[cid])
    return result


def _report(variant: str, results: list[Result], wanted: Counter[str], base: float) -> float:
    lines = sum(sum(r.lines.values()) for r in results) / len(results)
    cpu_ms = [r.cpu_s * 1000 / sum(wanted.values()) for r in results]
    fine = statistics.median(ms for r in results for ms in r.fine_ms)
    print(f"{variant}: lines written {lines:.0f} a run ({1 - lines / base:.1%} fewer than off)")
    for kind in ("error", "slow", "fine"):
        complete = [r.complete[kind] for r in results]
        kept = [r.kept_traces[kind] for r in results]
        print(
            f"  {kind} ({wanted[kind]}): all {LINES} lines written {complete}; traces kept {kept}"
        )
    sampled = [r.sampled for r in results]
    print(f"  sampled at the head (of all kinds) {sampled}")
    print(f"  spans exported {[r.spans for r in results]}")
    print(f"  worker CPU a request (ms) {[round(c, 3) for c in cpu_ms]}; fine p50 {fine:.1f} ms")
    return statistics.mean(cpu_ms)


def main() -> None:
    """Run the variants alternately and print lines, spans and cost against ``off``."""
    requests_n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    kinds = random.Random(24).choices(list(WEIGHTS), weights=list(WEIGHTS.values()), k=requests_n)
    wanted = Counter(kinds)
    print(f"requests {requests_n} a run: {dict(wanted)}; {LINES} lines each; rounds {rounds}")
    with tempfile.TemporaryDirectory(prefix="log-sampling-gunicorn-") as tmp:
        db_files = ServiceFiles.in_dir(Path(tmp) / "db")
        prepare_database(db_files)
        results: dict[str, list[Result]] = {name: [] for name in VARIANTS}
        for index in range(rounds):
            for name in VARIANTS:
                results[name].append(run(name, kinds, Path(tmp) / f"{name}-{index}", db_files.db))
    base = sum(sum(r.lines.values()) for r in results["off"]) / rounds
    cpu = {name: _report(name, found, wanted, base) for name, found in results.items()}
    print(
        "worker CPU a request against off: "
        + ", ".join(f"{name} {value / cpu['off']:.3f}x" for name, value in cpu.items())
    )


if __name__ == "__main__":
    main()
