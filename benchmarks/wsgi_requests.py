"""Figures B and C: the cost of one Django request, as ratios.

B: each configuration runs in its own process (``benchmarks._wsgi_worker``): instrumentation
is process-wide and cannot be undone cleanly. All the processes are started and warmed up
first; then each is told in turn (shuffled) to time a short block of requests, so only one
runs at a time and the configurations are compared milliseconds apart (see ``_stats``).

C: one otel_context process switches its own pieces on and off between blocks
(``benchmarks._toggles``), which compares them without the few per cent by which two
processes of the same configuration differ.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from benchmarks._site import CONFIGS
from benchmarks._stats import (
    Blocks,
    Summary,
    interleave,
    paired_differences,
    paired_ratios,
    round_medians,
)

if TYPE_CHECKING:
    import random
    from collections.abc import Iterable, Sequence
    from pathlib import Path

LABELS = {
    "plain": "plain Django",
    "instrumentor": "+ DjangoInstrumentor (SDK, BatchSpanProcessor, dropping exporter)",
    "otel_context": "+ otel_context (`INSTALLED_APPS`) and its structlog processor",
    "django_structlog": "+ django-structlog `RequestMiddleware` on DjangoInstrumentor",
}


class WorkerError(RuntimeError):
    """A worker process failed its check or crashed."""


class Worker:
    """One configuration's process, fed blocks of requests over a pipe."""

    def __init__(self, config: str, warmup: int, cwd: Path, states: Sequence[str] = ()) -> None:
        self.config = config
        command = [sys.executable, "-m", "benchmarks._wsgi_worker", config, str(warmup)]
        if states:
            command.append(",".join(states))
        self._stderr = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed in close()
        self._process = subprocess.Popen(
            command,
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            bufsize=1,
        )

    def _read(self) -> dict[str, Any]:
        assert self._process.stdout is not None
        line = self._process.stdout.readline()
        message: dict[str, Any] = json.loads(line) if line.strip() else {"error": "no output"}
        if "error" in message:
            self._stderr.seek(0)
            msg = f"{self.config}: {message['error']}\n{self._stderr.read()[-2000:]}"
            raise WorkerError(msg)
        return message

    def _send(self, count: int, state: str | None = None) -> None:
        assert self._process.stdin is not None
        self._process.stdin.write(f"{state or ''} {count}\n")
        self._process.stdin.flush()

    def wait_ready(self) -> None:
        """Block until the worker has passed its check and warmed up."""
        self._read()

    def block(self, requests: int, state: str | None = None) -> float:
        """Time *requests* requests in the worker (in *state*); its CPU µs per request."""
        self._send(requests, state)
        return float(self._read()["us_per_request"])

    def close(self) -> int | None:
        """Stop the worker; how many spans it failed to export (``None`` if unknown)."""
        missing = None
        try:
            if self._process.poll() is None:
                self._send(0)
                missing = int(self._read()["spans_missing"])
                self._process.wait(timeout=60)
        except (OSError, ValueError, KeyError, WorkerError, subprocess.TimeoutExpired):
            missing = None
        finally:
            if self._process.poll() is None:
                self._process.kill()
            self._stderr.close()
        return missing


@dataclass(frozen=True, slots=True)
class RequestResults:
    """Block times (µs per request) per configuration, and spans lost on the way."""

    blocks: Blocks
    spans_missing: int | None

    def over(self, baseline: str) -> dict[str, Summary]:
        """Each configuration's ratio to *baseline*, summarised over rounds."""
        return {key: Summary.of(paired_ratios(self.blocks, key, baseline)) for key in self.blocks}

    def difference(self, key: str, baseline: str) -> Summary:
        """µs per request that *key* adds to *baseline*, summarised over rounds."""
        return Summary.of(paired_differences(self.blocks, key, baseline))

    def absolute(self) -> dict[str, Summary]:
        """Each configuration's µs per request (median block per round), over rounds."""
        return {key: Summary.of(round_medians(self.blocks, key)) for key in self.blocks}


@dataclass(frozen=True, slots=True)
class RequestPlan:
    """Generations of worker processes, each timed for some rounds of sub-rounds.

    Every generation starts fresh processes: two processes of the same configuration differ
    by a few per cent (memory layout, hash seeds), so the rounds are spread over several.
    """

    generations: int
    rounds: int  # per generation
    subrounds: int
    requests: int
    warmup: int


def _generation(
    plan: RequestPlan, rng: random.Random, cwd: Path, configs: Sequence[str]
) -> tuple[Blocks, int | None]:
    """Start one worker per configuration, time them interleaved, stop them."""
    workers = {config: Worker(config, plan.warmup, cwd) for config in configs}
    try:
        for worker in workers.values():
            worker.wait_ready()

        def measure(config: str) -> float:
            return workers[config].block(plan.requests)

        blocks = interleave(configs, plan.rounds, plan.subrounds, rng, measure)
    finally:
        missing = _close_all(workers.values())
    return blocks, missing


def _close_all(workers: Iterable[Worker]) -> int | None:
    missing: int | None = 0
    for worker in workers:
        closed = worker.close()
        missing = None if closed is None or missing is None else missing + closed
    return missing


def _state_generation(
    plan: RequestPlan, rng: random.Random, cwd: Path, states: Sequence[str]
) -> tuple[Blocks, int | None]:
    """One otel_context worker, switched between *states* block by block."""
    worker = Worker("otel_context", plan.warmup, cwd, states)
    try:
        worker.wait_ready()

        def measure(state: str) -> float:
            return worker.block(plan.requests, state)

        blocks = interleave(states, plan.rounds, plan.subrounds, rng, measure)
    finally:
        missing = _close_all([worker])
    return blocks, missing


def available_configs() -> list[str]:
    """The configurations whose packages are installed (django-structlog is optional)."""
    return [c for c in CONFIGS if c != "django_structlog" or importlib.util.find_spec(c)]


def run(
    plan: RequestPlan, rng: random.Random, cwd: Path, configs: Sequence[str] | None = None
) -> RequestResults:
    """Figure B: every (available) configuration over *plan*'s generations of processes."""
    configs = available_configs() if configs is None else configs
    blocks: Blocks = {config: [] for config in configs}
    missing: int | None = 0
    for number in range(plan.generations):
        found, lost = _generation(plan, rng, cwd, configs)
        for config, rounds in found.items():
            blocks[config].extend(rounds)
        missing = None if lost is None or missing is None else missing + lost
        print(f"  B: processes {number + 1}/{plan.generations} done", file=sys.stderr)
    return RequestResults(blocks, missing)


def run_states(
    plan: RequestPlan, rng: random.Random, cwd: Path, states: Sequence[str]
) -> RequestResults:
    """Figure C: otel_context's pieces switched on and off in one process per generation."""
    blocks: Blocks = {state: [] for state in states}
    missing: int | None = 0
    for number in range(plan.generations):
        found, lost = _state_generation(plan, rng, cwd, states)
        for state, rounds in found.items():
            blocks[state].extend(rounds)
        missing = None if lost is None or missing is None else missing + lost
        print(f"  C: process {number + 1}/{plan.generations} done", file=sys.stderr)
    return RequestResults(blocks, missing)
