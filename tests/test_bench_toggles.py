"""Figures C and C-prime: each state puts the values it claims to (the worker's own check).

``benchmarks._instr_marked_worker`` checks one request in every state before counting (each
view event's fields, the echoed header) and exits 1 naming what is wrong. Run here without
callgrind: a floor that lost a field would make its figure a floor of something else.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from benchmarks._rule_costs import RULES, Ablation
from benchmarks._toggles import PARTS, STATES, expected

ROOT = Path(__file__).resolve().parent.parent


def test_every_state_passes_the_worker_s_check() -> None:
    done = _worker("benchmarks._instr_marked_worker", "otel_context", "1", "2", *STATES)
    assert done.returncode == 0, done.stderr[-3000:]


def test_the_derivation_floor_is_checked_for_every_value_otel_context_adds() -> None:
    span_ids = {"trace_id": "1" * 32, "span_id": "2" * 16}
    ours = expected(STATES["otel_context"], span_ids, "c" * 32)
    derived = expected(STATES["derived"], span_ids, "c" * 32)
    assert derived == ours
    assert {"organisation.id", "project.id", "correlation.id", "trace_id"} <= derived.keys()
    assert expected(STATES["rules"], span_ids, "c" * 32) == ours


def test_every_rule_taken_out_still_passes_the_check_and_is_put_back() -> None:
    """Figure C″'s blocks: each state still puts its values with rules out; all restored."""
    originals = {
        (id(owner), name): getattr(owner, name)
        for _, swaps in RULES.values()
        for owner, name, _ in swaps
    }
    ablation = Ablation()
    ablation.apply(list(RULES))
    assert all(
        getattr(owner, name) is replacement
        for _, swaps in RULES.values()
        for owner, name, replacement in swaps
    )
    ablation.apply([])
    assert all(
        getattr(owner, name) is originals[id(owner), name]
        for _, swaps in RULES.values()
        for owner, name, _ in swaps
    )
    blocks = [
        "otel_context",
        *(f"otel_context+{rule}" for rule in [*RULES, *PARTS]),
        f"otel_context+{'+'.join(PARTS)}",
        "derived",
        "rules",
    ]
    done = _worker("benchmarks._rule_costs_worker", "1", "2", *blocks)
    assert done.returncode == 0, done.stderr[-3000:]


def _worker(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run a benchmark worker (without callgrind) from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
