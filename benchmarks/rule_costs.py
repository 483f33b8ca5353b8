"""Figure C″: each per-request rule of otel_context, counted by taking it out (callgrind).

``python -m benchmarks.rule_costs [N]`` from the repository root. One process
(``benchmarks._rule_costs_worker``) counts blocks of N requests (default 200, after 20
warm-up) in figure C′'s ``otel_context`` state, alternating with blocks that take one rule of
``benchmarks._rule_costs.RULES`` out (or leave one part of ``benchmarks._toggles.PARTS`` out:
otel_context's middleware layers, guard and propagators), then the derivation floor and the
rules floor (``benchmarks._rules_floor``: the least code for the rules kept). A rule's
cost is the mean of the two ``otel_context`` blocks around it minus its block, in
instructions a request.
"""

from __future__ import annotations

import sys

from benchmarks._rule_costs import RULES
from benchmarks._toggles import PARTS
from benchmarks.event_instructions import segments

BASE = "otel_context"
FLOORS = {"derived": "the derivation floor instead", "rules": "the rules floor instead"}


def blocks() -> list[str]:
    """``otel_context``, then each rule out between two ``otel_context`` blocks, the floors."""
    layout = [BASE]
    for rule in [*RULES, *PARTS]:
        layout += [f"{BASE}+{rule}", BASE]
    layout += [f"{BASE}+{'+'.join([*RULES, *PARTS])}", BASE]
    for floor in FLOORS:
        layout += [floor, BASE]
    return layout


def run(requests: int) -> dict[str, float]:
    """k instructions a request of every rule (and of all rules, and of the floor)."""
    layout = blocks()
    counts = segments(["benchmarks._rule_costs_worker", "20", str(requests), *layout])
    per_request = [count / requests / 1000 for count in counts[0::2]]
    found: dict[str, float] = {}
    for index, block in enumerate(layout):
        if block != BASE:
            around = (per_request[index - 1] + per_request[index + 1]) / 2
            found[block] = around - per_request[index]
    found["otel_context (mean of its blocks)"] = sum(
        count for block, count in zip(layout, per_request, strict=True) if block == BASE
    ) / layout.count(BASE)
    return found


def main(argv: list[str]) -> int:
    """Print the table (markdown)."""
    requests = int(argv[0]) if argv else 200
    found = run(requests)
    base = found.pop("otel_context (mean of its blocks)")
    print(f"otel_context: {base:.1f} k instructions a request ({requests} a block)\n")
    print("| Rule taken out | k instructions a request | % of otel_context's request |")
    print("| --- | --- | --- |")
    for block, cost in found.items():
        rule = block.removeprefix(f"{BASE}+")
        other = "all of the above" if "+" in rule else FLOORS.get(rule, rule)
        label = RULES[rule][0] if rule in RULES else PARTS.get(rule, other)
        print(f"| {label} (`{rule}`) | {cost:+.1f} | {cost / base * 100:+.2f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
