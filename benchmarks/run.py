"""Run the benchmarks and write ``benchmarks/RESULTS.md``.

Figures: A, one structlog event (``benchmarks.events``); B, one Django request per
configuration (``benchmarks.wsgi_requests``); C, otel_context's request cost taken apart in
one process (``benchmarks._toggles``); C′, B and C counted in instructions by callgrind
(``benchmarks.instructions``, skipped without valgrind). Usage, from the repository root::

    python -m benchmarks.run              # full run, ~2-4 minutes, writes RESULTS.md
    python -m benchmarks.run --quick      # ~30 s smoke run, prints only (unless --output)
    python -m benchmarks.run --only a     # one figure
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks import _load_report, _report, _toggles, events, instructions, wsgi_requests

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


@dataclass(frozen=True, slots=True)
class Plan:
    """Rounds and sizes of one run."""

    a: events.EventPlan
    b: wsgi_requests.RequestPlan
    c: wsgi_requests.RequestPlan
    c_prime: instructions.InstructionPlan

    def describe(self) -> str:
        """The parameters, for the report."""
        a, b, c, c_prime = self.a, self.b, self.c, self.c_prime
        return (
            f"A: {a.rounds} rounds of {a.subrounds} sub-rounds of {a.events} events;"
            f" B: {b.generations} sets of processes, each {b.rounds} rounds of {b.subrounds}"
            f" sub-rounds of {b.requests} requests after {b.warmup} warm-up;"
            f" C: {c.generations} processes, each {c.rounds} rounds of {c.subrounds} sub-rounds"
            f" of {c.requests} requests; C′: {c_prime.requests} requests per count after"
            f" {c_prime.warmup} warm-up"
        )


FULL = Plan(
    events.EventPlan(rounds=15, subrounds=40, events=250),
    wsgi_requests.RequestPlan(generations=5, rounds=3, subrounds=40, requests=25, warmup=500),
    wsgi_requests.RequestPlan(generations=4, rounds=3, subrounds=60, requests=10, warmup=500),
    instructions.InstructionPlan(warmup=200, requests=400),
)
QUICK = Plan(
    events.EventPlan(rounds=5, subrounds=10, events=100),
    wsgi_requests.RequestPlan(generations=1, rounds=5, subrounds=10, requests=10, warmup=200),
    wsgi_requests.RequestPlan(generations=1, rounds=3, subrounds=8, requests=10, warmup=200),
    instructions.InstructionPlan(warmup=50, requests=50),
)


def parse(argv: list[str]) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a ~30 s smoke run")
    parser.add_argument(
        "--only", choices=("a", "b", "c", "c2"), help="run one figure only (c2: C′)"
    )
    parser.add_argument("--seed", type=int, default=None, help="seed of the shuffles")
    parser.add_argument("--output", type=Path, default=None, help="Markdown file to write")
    return parser.parse_args(argv)


Results = tuple[
    events.EventResults | None,
    wsgi_requests.RequestResults | None,
    wsgi_requests.RequestResults | None,
    instructions.InstructionResults | str | None,
]


def run_figures(args: argparse.Namespace, plan: Plan, rng: random.Random) -> Results:
    """Run the figures asked for: A, B, C, C′ (``None`` for those not asked for)."""
    a = b = c = None
    c_prime: instructions.InstructionResults | str | None = None
    if args.only in {None, "a"}:
        print("A: per structlog event ...", file=sys.stderr)
        a = events.run(plan.a, rng)
    if args.only in {None, "b"}:
        print("B: per Django request ...", file=sys.stderr)
        b = wsgi_requests.run(plan.b, rng, ROOT)
    if args.only in {None, "c"}:
        print("C: otel_context taken apart ...", file=sys.stderr)
        c = wsgi_requests.run_states(plan.c, rng, ROOT, list(_toggles.STATES))
    if args.only in {None, "c2"}:
        print("C′: instructions per request (callgrind) ...", file=sys.stderr)
        c_prime = (
            instructions.run(plan.c_prime, ROOT)
            if instructions.available()
            else "valgrind is not installed (Debian: apt-get install valgrind)"
        )
    return a, b, c, c_prime


def main(argv: list[str]) -> int:
    """Run the figures asked for, print the report and write it."""
    args = parse(argv)
    plan = QUICK if args.quick else FULL
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    load_before, started = _report.load_average(), time.monotonic()
    results = run_figures(args, plan, random.Random(seed))
    info = _report.RunInfo(
        command=" ".join(["python -m benchmarks.run", *argv]),
        parameters=plan.describe(),
        seed=seed,
        load_before=load_before,
        load_after=_report.load_average(),
        seconds=time.monotonic() - started,
    )
    text = _report.render(info, *results)
    print(text)
    output = args.output or (None if args.quick else RESULTS)
    if output is not None:
        # python -m benchmarks.load's section (figures D, E) is carried over, not erased.
        output.write_text(_load_report.keep_section(text, output), encoding="utf-8")
        print(f"written to {output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
