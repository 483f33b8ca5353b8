"""The Markdown written to ``benchmarks/RESULTS.md``: machine, tables, targets, notes."""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Final

from benchmarks import _toggles, events, instructions, wsgi_requests
from benchmarks._stats import DASH, TIMES

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from benchmarks._stats import Summary

PACKAGES: Final = (
    "django",
    "structlog",
    "opentelemetry-api",
    "opentelemetry-sdk",
    "opentelemetry-instrumentation-django",
    "opentelemetry-instrumentation-structlog",
    "django-structlog",
    "otel-context",
)
A_TARGET: Final = 1.25
B_TARGET: Final = 1.05
#: Variants that put the same 7 fields (trace ids + 5 identifiers) on the line.
SAME_FIELDS: Final = ("otel_context", "contextvars", "naive")
RANGE: Final = f"min{DASH}max"

INTRO: Final = (
    "Every figure is a ratio within one run. Variants are compared in short blocks a few"
    " milliseconds apart: a round is many sub-rounds, each running one block of every variant"
    " in a fresh shuffled order; a round's ratio is the median over its sub-rounds of the"
    " variant's block time over the baseline's in the same sub-round. Shown: the median of"
    f" the per-round ratios, their IQR and {RANGE}. Times are CPU time of the measuring"
    " process (`time.process_time`), so time the CPUs spend on other processes is not counted."
)
A_INTRO: Final = (
    "Active SDK span (`TracerProvider`, no span processor), request scope with 5 identifiers,"
    " the same 5 in baggage. Pipeline `merge_contextvars, add_log_level,"
    ' TimeStamper(fmt="iso"), JSONRenderer()` to `WriteLogger(open(os.devnull, "w"))`,'
    " loggers built once with `structlog.wrap_logger(...).bind()`, GC off inside a block."
    " Each variant's processor goes right after `merge_contextvars` ((5): before the"
    " renderer, where its instrumentor puts it). Before timing, each variant renders one"
    " event inside a child span and its fields are checked."
)
B_INTRO: Final = (
    "`WSGIHandler` called directly with a prebuilt environ (copied per request); sessions,"
    " common and auth middleware; a view at `/orgs/7/projects/12/` emitting 3 structlog events"
    " to /dev/null through the bare pipeline (+ `StructlogOTelProcessor` for otel_context)."
    " Each configuration runs in its own process, checked on one request, warmed up, then fed"
    " blocks of requests in turn (one process runs at a time)."
)
B_NOTES: Final = (
    (
        "- otel_context's request also derives organisation.id / project.id from the URL kwargs,"
        " generates a correlation id, echoes it in `Correlation-Id` and sets span attributes."
    ),
    (
        "- django-structlog's middleware logs `request_started` and `request_finished` itself"
        " (5 events per request instead of 3) and touches `request.user` (loads the session)."
    ),
)
C_INTRO: Final = (
    "One otel_context process (figure B's set-up) switches its pieces on and off between"
    " blocks: hooks (the instrumentation's hook attributes), `IdentifiersMiddleware`"
    " (its `process_view` taken out of the handler's list), the propagator wrapper and the"
    " structlog processor (swapped in the live processor list). Each state is checked on one"
    " request before timing. Ratios are to the first row, in the same process. The effects"
    " floor is what any library putting the same things in the same places must do, with"
    " none of otel_context's bookkeeping: a hook pair that puts a constant correlation id in"
    " baggage (attach/detach), sets the 3 span attributes and the response header, and the"
    " floor processor adding the same 6 fields as constants."
)
C_PRIME_INTRO: Final = (
    "Figures B and C again, counted in CPU instructions by valgrind's callgrind instead of"
    " timed: the same worker set-up and check, one process per configuration or state, the"
    " count of a run with N requests minus that of a run with none, over N. Counts do not"
    " move with the machine's load (the repeated count below shows the drift), but they do"
    " not see cache misses, memory or the kernel, which the timings include."
)
#: Figure C pieces: (what, state with it, state without it).
PIECES: Final = (
    ("`IdentifierPropagator` wrapper", "propagator", "instrumentor"),
    ("request/response hooks", "hooks", "propagator"),
    ("`IdentifiersMiddleware.process_view`", "middleware", "hooks"),
    ("rendering 5 more fields in 3 events (floor processor)", "floor", "middleware"),
    ("`StructlogOTelProcessor` in 3 events, rendering included", "otel_context", "middleware"),
    ("… beyond rendering (finding the fields)", "otel_context", "floor"),
    ("all of otel_context", "otel_context", "instrumentor"),
    ("the same effects without otel_context (effects floor)", "effects", "instrumentor"),
    ("otel_context beyond the effects floor", "otel_context", "effects"),
    (
        "the same values derived without otel_context's rules (derivation floor)",
        "derived",
        "instrumentor",
    ),
    ("otel_context beyond the derivation floor", "otel_context", "derived"),
)


@dataclass(frozen=True, slots=True)
class RunInfo:
    """How the run was made: command, parameters, seed, load before and after."""

    command: str
    parameters: str
    seed: int
    load_before: str
    load_after: str
    seconds: float


def load_average() -> str:
    """The 1/5/15-minute load averages, or "n/a"."""
    try:
        return " / ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "n/a"


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    return platform.processor() or "unknown"


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def source_state() -> str:
    """The commit measured, and whether otel_context/ had local changes."""
    root = Path(__file__).resolve().parent.parent
    try:
        sha = _git(root, "rev-parse", "--short", "HEAD")
        dirty = _git(root, "status", "--porcelain", "--", "otel_context")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    changed = len(dirty.splitlines())
    return f"{sha}" + (f" with {changed} changed file(s) under otel_context/" if changed else "")


def _git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def machine(info: RunInfo) -> list[str]:
    """The machine and run section."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    python = f"Python {platform.python_version()} ({platform.python_implementation()})"
    system = f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs: {_cpu_model()}"
    versions = ", ".join(f"{name} {_version(name)}" for name in PACKAGES)
    load = f"{info.load_before} → {info.load_after}"
    return [
        f"- Date: {now}; command: `{info.command}`; seed {info.seed}; took {info.seconds:.0f} s",
        f"- Plan: {info.parameters}",
        f"- {python}, {system}",
        f"- Packages: {versions}",
        f"- Source: {source_state()}",
        f"- Load average (1/5/15 min) before → after: {load} (other processes share the CPUs)",
    ]


def _row(cells: Iterable[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A Markdown table."""
    return [_row(header), _row("---" for _ in header), *(_row(row) for row in rows)]


def _verdict(*, met: bool) -> str:
    return "**met**" if met else "**missed**"


def events_section(results: events.EventResults) -> list[str]:
    """Figure A: table, targets and notes."""
    ratio, micros = results.ratio_summaries(), results.microseconds()
    rows, notes = [], []
    for variant in results.variants:
        label = variant.label
        if variant.note:
            notes.append(variant.note)
            label += f" [{len(notes)}]"
        cells = (*ratio[variant.key].ratio_cells(), f"{micros[variant.key].median:.2f}")
        rows.append((label, *cells))
    header = ("Variant", f"{TIMES} bare (median)", "IQR", RANGE, "µs/event (median)")
    return [
        "## A. Per structlog event",
        "",
        A_INTRO,
        "",
        *table(header, rows),
        "",
        *_events_targets(ratio),
        "",
        *(f"[{number}] {note}" for number, note in enumerate(notes, 1)),
    ]


def _events_targets(ratio: dict[str, Summary]) -> list[str]:
    ours = ratio["otel_context"].median
    skip = {events.BASELINE, "floor", "derived"}  # floors, not peers
    others = {key: s.median for key, s in ratio.items() if key not in skip}
    ranked = sorted(others, key=others.__getitem__)
    same = sorted((key for key in SAME_FIELDS if key in others), key=others.__getitem__)
    order = ", ".join(f"{key} {others[key]:.2f}{TIMES}" for key in ranked)
    lowest = _verdict(met=ranked[0] == "otel_context")
    cheapest_same = _verdict(met=same[0] == "otel_context")
    return [
        (
            f"- Target otel_context ≤ {A_TARGET:.2f}{TIMES} bare: {ours:.2f}{TIMES}"
            f" → {_verdict(met=ours <= A_TARGET)}"
        ),
        f"- Target lowest of all variants but the floor: {order} → {lowest}",
        f"- Lowest of those adding the same 7 fields ({', '.join(same)}) → {cheapest_same}",
    ]


def requests_section(results: wsgi_requests.RequestResults) -> list[str]:
    """Figure B: table, targets and notes."""
    plain, inst, absolute = results.over("plain"), results.over("instrumentor"), results.absolute()
    rows = [
        (
            wsgi_requests.LABELS[config],
            f"{absolute[config].median:.0f}",
            *plain[config].ratio_cells(),
            *inst[config].ratio_cells(),
        )
        for config in absolute
    ]
    header = (
        *("Configuration", "µs/request (median)", f"{TIMES} plain", "IQR", RANGE),
        *(f"{TIMES} DjangoInstrumentor", "IQR", RANGE),
    )
    ours = inst["otel_context"].median
    return [
        "## B. Per Django request",
        "",
        B_INTRO,
        "",
        *table(header, rows),
        "",
        (
            f"- Target otel_context ≤ {B_TARGET:.2f}{TIMES} DjangoInstrumentor alone:"
            f" {ours:.2f}{TIMES} → {_verdict(met=ours <= B_TARGET)}"
        ),
        f"- Spans not exported after `force_flush`, all processes: {results.spans_missing}",
        *B_NOTES,
    ]


def ablation_section(results: wsgi_requests.RequestResults) -> list[str]:
    """Figure C: otel_context's request cost taken apart, in one process."""
    base, absolute = results.over("instrumentor"), results.absolute()
    rows = [
        (_toggles.LABELS[state], f"{absolute[state].median:.0f}", *base[state].ratio_cells())
        for state in absolute
    ]
    reference = absolute["instrumentor"].median
    parts = []
    for what, with_it, without in PIECES:
        if with_it not in results.blocks or without not in results.blocks:
            continue
        diff = results.difference(with_it, without)
        share = f"{100 * diff.median / reference:+.1f} %"
        parts.append((what, f"{diff.median:+.1f}", f"{diff.q1:+.1f} … {diff.q3:+.1f}", share))
    header = ("State", "µs/request (median)", f"{TIMES} first row", "IQR", RANGE)
    part_header = ("Piece", "µs/request (median)", "IQR", "% of DjangoInstrumentor alone")
    return [
        "## C. Where otel_context's request cost goes",
        "",
        C_INTRO,
        "",
        *table(header, rows),
        "",
        *table(part_header, parts),
    ]


def instructions_section(results: instructions.InstructionResults | str) -> list[str]:
    """Figure C′: B's configurations and C's states in instructions per request.

    *results* is a string when the figure was skipped: the reason.
    """
    title = "## C′. The same, counted in instructions (callgrind)"
    if isinstance(results, str):
        return [title, "", f"Skipped: {results}"]
    count, ratio = results.per_request, results.ratio
    plain, inst = ("plain", "-"), ("instrumentor", "-")
    config_rows = [
        (
            wsgi_requests.LABELS[config],
            f"{count[config, '-'] / 1000:.1f}",
            f"{ratio((config, '-'), plain):.3f}{TIMES}",
            f"{ratio((config, '-'), inst):.3f}{TIMES}",
        )
        for config in wsgi_requests.LABELS
        if (config, "-") in count
    ]
    base = ("otel_context", "instrumentor")
    state_rows = [
        (
            _toggles.LABELS[state],
            f"{count['otel_context', state] / 1000:.1f}",
            f"{ratio(('otel_context', state), base):.3f}{TIMES}",
        )
        for state in _toggles.STATES
    ]
    reference = count[base]
    pieces = [
        (
            what,
            f"{(count['otel_context', on] - count['otel_context', off]) / 1000:+.1f}",
            f"{100 * (count['otel_context', on] - count['otel_context', off]) / reference:+.1f} %",
        )
        for what, on, off in PIECES
    ]
    ours, floor = ratio(("otel_context", "-"), inst), ratio(("otel_context", "effects"), base)
    first = count[instructions.REPEATED]
    drift = results.repeat - first
    return [
        title,
        "",
        C_PRIME_INTRO,
        "",
        *table(
            (
                "Configuration (figure B)",
                "k instructions/request",
                f"{TIMES} plain",
                f"{TIMES} DjangoInstrumentor",
            ),
            config_rows,
        ),
        "",
        *table(("State (figure C)", "k instructions/request", f"{TIMES} first row"), state_rows),
        "",
        *table(("Piece", "k instructions/request", "% of DjangoInstrumentor alone"), pieces),
        "",
        (
            f"- Target otel_context ≤ {B_TARGET:.2f}{TIMES} DjangoInstrumentor alone, in"
            f" instructions: {ours:.3f}{TIMES} → {_verdict(met=ours <= B_TARGET)}; the effects"
            f" floor alone is {floor:.3f}{TIMES}"
        ),
        (
            f"- N = {results.requests} requests per count; the otel_context configuration"
            f" counted twice: {first / 1000:.1f}k and {results.repeat / 1000:.1f}k instructions"
            f" per request ({100 * drift / first:+.2f} %)"
        ),
    ]


def render(
    info: RunInfo,
    event_results: events.EventResults | None,
    request_results: wsgi_requests.RequestResults | None,
    ablation_results: wsgi_requests.RequestResults | None = None,
    instruction_results: instructions.InstructionResults | str | None = None,
) -> str:
    """The whole RESULTS.md; a figure that was not asked for is ``None``."""
    lines = ["# Benchmark results", "", INTRO, "", *machine(info)]
    if event_results is not None:
        lines += ["", *events_section(event_results)]
    if request_results is not None:
        lines += ["", *requests_section(request_results)]
    if ablation_results is not None:
        lines += ["", *ablation_section(ablation_results)]
    if instruction_results is not None:
        lines += ["", *instructions_section(instruction_results)]
    return "\n".join(lines) + "\n"
