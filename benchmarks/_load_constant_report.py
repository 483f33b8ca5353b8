"""The Markdown section of figure D′ (:mod:`benchmarks.load_constant`)."""

from __future__ import annotations

import math
import platform
import statistics
from datetime import UTC, datetime
from importlib import metadata
from typing import TYPE_CHECKING, Final

from benchmarks import _load_report
from benchmarks._latency import bootstrap_ratio, percentile, pooled
from benchmarks._stats import DASH, TIMES, Summary

if TYPE_CHECKING:
    import random
    from collections.abc import Sequence

    from benchmarks.load_constant import ConstantRun

PERCENTILES: Final = (50.0, 90.0, 99.0, 99.9)
#: (label, configuration, baseline) of the ratio rows.
PAIRS: Final = (
    ("full ÷ no tracing", "full", "plain"),
    ("full ÷ DjangoInstrumentor alone", "full", "instrumentor"),
    ("DjangoInstrumentor alone ÷ no tracing", "instrumentor", "plain"),
)
#: The issue's target: full p99 at most this many times no tracing's.
TARGET: Final = 1.30
ARROW: Final = "\N{RIGHTWARDS ARROW}"


def latencies(run: ConstantRun, key: str) -> list[list[float]]:
    """Per round: *key*'s latencies in milliseconds."""
    return [[value * 1e3 for value in r.latencies] for r in run.measured[key].rounds]


def server_cpu(run: ConstantRun, key: str) -> list[list[float]]:
    """Per round: *key*'s server CPU times (``Server-Timing``) in milliseconds."""
    return [[value * 1e3 for value in r.server_cpu] for r in run.measured[key].rounds]


def _pct(pct: float) -> str:
    return f"p{pct:g}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def _intro(run: ConstantRun) -> list[str]:
    plan = run.plan
    capacity = ", ".join(
        f"{m.server.config.label} {statistics.median(m.capacity):.0f}"
        for m in run.measured.values()
    )
    return [
        _load_report.CONSTANT[0],
        "## D′. Under load at a constant rate (open loop, coordinated omission corrected)",
        "",
        (
            "The configurations of figure D, each served by one gunicorn gthread worker with"
            f" {plan.threads} threads, all pinned to one CPU; the load generator"
            " (`benchmarks/_open_loop.py`, asyncio, keep-alive connections) runs pinned to"
            " the other. First each server's capacity is measured closed-loop"
            f" ({plan.capacity_connections} requests always in flight, two interleaved passes"
            f" of {plan.capacity_seconds:g} s); then every configuration is offered the same"
            f" constant rate, {plan.fraction:.0%} of the slowest one's capacity: request *i* is"
            " due at *start + i ÷ rate* whether or not earlier ones were answered, and its"
            " latency is counted from that due time (wrk2's correction: a stall is charged to"
            " every request it delays). Rounds run the three configurations in a fresh"
            " shuffled order. Percentiles are nearest-rank over the raw samples of all rounds"
            " (pooled); the 95 % interval of a ratio is a paired bootstrap over whole rounds;"
            " the per-round columns show the round-to-round spread. Same request, views and"
            " log lines as figure D."
        ),
        "",
        (
            f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; command: `{run.command}`;"
            f" seed {run.seed}; took {run.seconds:.0f} s"
        ),
        (
            f"- Plan: {plan.rounds} rounds of {plan.seconds:g} s per configuration at"
            f" {run.rate:.0f} req/s (after {plan.warmup:g} s of warm-up each); capacity"
            f" (req/s, closed loop): {capacity}"
        ),
        f"- Pinning: {run.pinning}",
        f"- Python {platform.python_version()}, gunicorn {metadata.version('gunicorn')}",
        (
            f"- Load average (1/5/15 min) before {ARROW} after: {run.load_before} {ARROW}"
            f" {run.load_after} (other processes share the CPUs; per round below)"
        ),
        "",
    ]


def _latency_table(run: ConstantRun) -> list[str]:
    rows = []
    for key, m in run.measured.items():
        rounds = latencies(run, key)
        every = pooled(rounds)
        per_round = Summary.of([percentile(sorted(r), 99) for r in rounds])
        served = statistics.median(len(r.latencies) / r.seconds for r in m.rounds)
        rows.append(
            (
                m.server.config.label,
                f"{served:.0f}",
                *(f"{percentile(every, pct):.2f}" for pct in PERCENTILES),
                f"{every[-1]:.1f}",
                f"{per_round.median:.2f}",
                f"{per_round.q1:.2f}{DASH}{per_round.q3:.2f}",
                f"{per_round.low:.2f}{DASH}{per_round.high:.2f}",
            )
        )
    header = (
        "Configuration",
        "served req/s",
        *(f"{_pct(p)} ms" for p in PERCENTILES),
        "max ms",
        "p99 per round (median)",
        "IQR",
        "min–max",
    )
    return _table(header, rows)


def _ratio_rows(run: ConstantRun, rng: random.Random) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for pct in PERCENTILES:
        for label, key, baseline in PAIRS:
            mine, theirs = latencies(run, key), latencies(run, baseline)
            ratio = percentile(pooled(mine), pct) / percentile(pooled(theirs), pct)
            low, high = bootstrap_ratio(mine, theirs, pct, rng=rng)
            each = Summary.of(
                [
                    percentile(sorted(a), pct) / percentile(sorted(b), pct)
                    for a, b in zip(mine, theirs, strict=True)
                ]
            )
            resolved = "yes" if high - low < abs(ratio - 1) else "no"
            target = ""
            if pct == 99 and key == "full" and baseline == "plain":
                target = f"≤ {TARGET:.2f}{TIMES}: {_verdict(low, high)}"
            rows.append(
                (
                    f"{_pct(pct)} {label}",
                    f"{ratio:.3f}{TIMES}",
                    f"{low:.3f}{DASH}{high:.3f}",
                    *each.ratio_cells(),
                    resolved,
                    target,
                )
            )
    return rows


def _verdict(low: float, high: float) -> str:
    """Met or missed only if the whole interval says so."""
    if high <= TARGET:
        return "**met**"
    if low > TARGET:
        return "**missed**"
    return "**unresolved** (the interval spans it)"


def _ratio_table(run: ConstantRun, rng: random.Random) -> list[str]:
    header = (
        "Ratio",
        "pooled",
        "95 % interval",
        "per round: median",
        "IQR",
        "min–max",
        "interval narrower than the effect",
        "target",
    )
    return _table(header, _ratio_rows(run, rng))


def _rounds_table(run: ConstantRun) -> list[str]:
    keys = list(run.measured)
    p99 = {key: [percentile(sorted(r), 99) for r in latencies(run, key)] for key in keys}
    rows = []
    for index, log in enumerate(run.log):
        rows.append(
            (
                str(index + 1),
                " ".join(log.order),
                f"{log.load_before[0]:.2f} {ARROW} {log.load_after[0]:.2f}",
                *(f"{p99[key][index]:.2f}" for key in keys),
                f"{p99['full'][index] / p99['plain'][index]:.2f}",
            )
        )
    labels = [run.measured[key].server.config.label for key in keys]
    header = ("Round", "order", "load (1 min)", *(f"p99 ms {x}" for x in labels), "full ÷ none")
    return _table(header, rows)


def _notes(run: ConstantRun) -> list[str]:
    lags = sorted(lag * 1e3 for m in run.measured.values() for r in m.rounds for lag in r.lags)
    errors = ", ".join(f"{count} {kind}" for kind, count in run.errors.most_common()) or "none"
    opened = max(r.connections for m in run.measured.values() for r in m.rounds)
    out = [
        (
            f"- Generator: sent {percentile(lags, 50):.2f} ms (p50), {percentile(lags, 99):.2f} ms"
            f" (p99), {lags[-1]:.1f} ms (max) after the due time; at most {opened} connections"
            f" in a run; errors (refused, dropped or not 200): {errors}"
        ),
    ]
    sizes = [len(r.latencies) for m in run.measured.values() for r in m.rounds]
    out.append(
        f"- Samples per round and configuration: {min(sizes):,}{DASH}{max(sizes):,}; within one"
        f" round a p99 rests on the {_beyond(min(sizes), 99)} slowest, a p99.9 on the"
        f" {_beyond(min(sizes), 99.9)} slowest (the pooled figures on {len(run.log)} times as many)"
    )
    loads = [log.load_before[0] for log in run.log]
    if len(loads) > 2 and len(set(loads)) > 1:
        keys = ("plain", "full")
        p99 = {k: [percentile(sorted(r), 99) for r in latencies(run, k)] for k in keys}
        ratio = [a / b for a, b in zip(p99["full"], p99["plain"], strict=True)]
        out.append(
            "- Correlation of a round's 1-minute load average (before it) with its full p99:"
            f" r = {statistics.correlation(loads, p99['full']):+.2f}; with its full ÷ no"
            f" tracing p99 ratio: r = {statistics.correlation(loads, ratio):+.2f}"
        )
    return out


def _beyond(count: int, pct: float) -> int:
    """How many of *count* samples lie at or above the nearest-rank *pct* percentile."""
    return count - max(math.ceil(pct / 100 * count - 1e-9), 1) + 1


CPU_INTRO: Final = (
    "**Server CPU time per request.** Every server answers with the CPU time its thread spent"
    " in the Django call (`Server-Timing: cpu;dur=`, `benchmarks/_cpu_timed_wsgi.py`: every"
    " middleware, the span's start and end, the view and its log lines, garbage collections"
    " included), measured with `time.thread_time_ns()`. A stall while the thread waits for a"
    " CPU is not in it, so its tail is the tail of the work itself. Same rounds, same"
    " intervals (paired bootstrap over whole rounds)."
)


def _cpu_section(run: ConstantRun, rng: random.Random) -> list[str]:
    """The server CPU percentiles and their ratios; a sentence if a server sent none."""
    cpu = {key: server_cpu(run, key) for key in run.measured}
    if not all(cpu[key] and all(cpu[key]) for key in cpu):
        return ["- Server CPU time: not reported by every server in every round."]
    rows = []
    for key, rounds in cpu.items():
        every = pooled(rounds)
        per_round = Summary.of([percentile(sorted(r), 99) for r in rounds])
        rows.append(
            (
                run.measured[key].server.config.label,
                *(f"{percentile(every, pct):.3f}" for pct in PERCENTILES),
                f"{per_round.median:.3f}",
                f"{per_round.low:.3f}{DASH}{per_round.high:.3f}",
            )
        )
    header = (
        "Configuration",
        *(f"CPU {_pct(p)} ms" for p in PERCENTILES),
        "p99 per round (median)",
        "min–max",
    )
    ratios = []
    for pct in (50.0, 99.0, 99.9):
        for label, key, baseline in PAIRS:
            mine, theirs = cpu[key], cpu[baseline]
            ratio = percentile(pooled(mine), pct) / percentile(pooled(theirs), pct)
            low, high = bootstrap_ratio(mine, theirs, pct, rng=rng)
            resolved = "yes" if high - low < abs(ratio - 1) else "no"
            ratios.append(
                (
                    f"CPU {_pct(pct)} {label}",
                    f"{ratio:.3f}{TIMES}",
                    f"{low:.3f}{DASH}{high:.3f}",
                    resolved,
                )
            )
    ratio_header = ("Ratio", "pooled", "95 % interval", "interval narrower than the effect")
    return [CPU_INTRO, "", *_table(header, rows), "", *_table(ratio_header, ratios)]


def render(run: ConstantRun, rng: random.Random) -> str:
    """The Markdown section (markers included) for *run*."""
    lines = _intro(run) + _latency_table(run) + [""] + _ratio_table(run, rng)
    lines += ["", *_cpu_section(run, rng)]
    lines += ["", *_rounds_table(run), "", *_notes(run), "", _load_report.CONSTANT[1]]
    return "\n".join(lines) + "\n"
