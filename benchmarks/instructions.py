"""Figure C′: figures B and C counted in CPU instructions by valgrind's callgrind.

Timings on a shared machine move by several per cent from run to run; instruction counts do
not: callgrind counts the instructions the process executes, whatever else runs on the
CPUs. They leave out what instructions do not show (cache misses, memory bandwidth, time in
the kernel), so they complement figures B and C rather than replace them.

Each job (a configuration of figure B, or a state of figure C in the otel_context process)
runs ``benchmarks._instr_worker`` under callgrind twice, with 0 and with N requests after
the same set-up and warm-up; the difference divided by N is the cost of one request.
``PYTHONHASHSEED`` is fixed so both runs hash alike. One job is run a second time to show
how far two counts of the same thing drift.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from benchmarks._toggles import STATES
from benchmarks.wsgi_requests import available_configs

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

#: (configuration, figure C state or "-").
Job = tuple[str, str]
REPEATED: Final[Job] = ("otel_context", "-")
_COLLECTED: Final = re.compile(r"==\d+== Collected : (\d+)")


class CallgrindError(RuntimeError):
    """A worker failed its check, or callgrind printed no count."""


@dataclass(frozen=True, slots=True)
class InstructionPlan:
    """Requests counted per job, after the warm-up."""

    warmup: int
    requests: int


@dataclass(frozen=True, slots=True)
class InstructionResults:
    """Instructions per request of every job, and of the repeated job's second count."""

    per_request: dict[Job, float]
    repeat: float
    requests: int

    def ratio(self, job: Job, baseline: Job) -> float:
        """Instructions of *job* over those of *baseline*."""
        return self.per_request[job] / self.per_request[baseline]


def available() -> bool:
    """Whether valgrind is installed."""
    return shutil.which("valgrind") is not None


def run_module(argv: list[str], cwd: Path | None = None) -> int:
    """Instructions of ``python -m <argv>`` under callgrind (hash seed fixed).

    Raises:
        CallgrindError: the module failed, or callgrind printed no count.
    """
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(
        [*command, "-m", *argv], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    found = _COLLECTED.search(done.stderr)
    if done.returncode != 0 or found is None:
        tail = [line for line in done.stderr.splitlines() if not line.startswith("==")][-5:]
        msg = f"{' '.join(argv)}: exit {done.returncode}: {' | '.join(tail)}"
        raise CallgrindError(msg)
    return int(found.group(1))


def count(job: Job, warmup: int, requests: int, cwd: Path) -> int:
    """Instructions of one worker run under callgrind."""
    config, state = job
    return run_module(["benchmarks._instr_worker", config, state, str(warmup), str(requests)], cwd)


def per_request(job: Job, plan: InstructionPlan, cwd: Path) -> float:
    """Instructions of one request: (run with N requests - run with none) / N."""
    base = count(job, plan.warmup, 0, cwd)
    loaded = count(job, plan.warmup, plan.requests, cwd)
    return (loaded - base) / plan.requests


def all_jobs() -> list[Job]:
    """Figure B's available configurations, then figure C's states."""
    return [
        *((config, "-") for config in available_configs()),
        *(("otel_context", state) for state in STATES),
    ]


def run(plan: InstructionPlan, cwd: Path, jobs: Sequence[Job] | None = None) -> InstructionResults:
    """Count every job, on as many CPUs as there are (counts do not depend on it)."""
    jobs = all_jobs() if jobs is None else jobs
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        futures = {job: pool.submit(per_request, job, plan, cwd) for job in (*jobs, REPEATED)}
        repeat = pool.submit(per_request, REPEATED, plan, cwd)
        counted = {job: future.result() for job, future in futures.items()}
        return InstructionResults(counted, repeat.result(), plan.requests)
