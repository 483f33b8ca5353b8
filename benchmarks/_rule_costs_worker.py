"""Figure C″ in one process: blocks of requests, each with some rules taken out.

Run under ``valgrind --tool=callgrind --dump-before=os_getppid`` as ``python -m
benchmarks._rule_costs_worker WARMUP N BLOCK...``. A block is a state of figure C′
(``benchmarks._toggles.STATES``), then ``+rule`` for each rule of
``benchmarks._rule_costs.RULES`` taken out or part of ``benchmarks._toggles.PARTS`` left out:
``otel_context+user+guard``. Like
``benchmarks._instr_marked_worker``, it checks one request of every block first (the view's
events carry the state's fields), then per block warms up, calls ``os.getppid()`` (the
marker), runs N requests and calls it again. The span processor is flushed before each marker,
so a block counts the export of exactly its own spans (the batch processor's timer otherwise
exports them in whichever block it fires), and the set-up's objects are frozen first
(``gc.freeze()``, as ``example/gunicorn.conf.py`` does), so that no block pays for a full
collection's walk over them; the collections requests cause are counted.
"""

from __future__ import annotations

import gc
import os
import sys
from typing import TYPE_CHECKING

from benchmarks import _wsgi_worker as worker
from benchmarks._rule_costs import RULES, Ablation
from benchmarks._site import Setup
from benchmarks._toggles import PARTS, STATES, Toggles

if TYPE_CHECKING:
    from collections.abc import Sequence


def main(argv: Sequence[str]) -> int:
    """Check every block, then count them; exit 1 if a check fails."""
    if len(argv) < 3:
        msg = "usage: python -m benchmarks._rule_costs_worker WARMUP N BLOCK..."
        raise SystemExit(msg)
    warmup, count, blocks = int(argv[0]), int(argv[1]), argv[2:]
    spec = Setup.parse("otel_context")
    handler, provider, exporter = worker.setup(spec, flush_only=True)
    if provider is None:
        msg = "otel_context's configuration has no provider"
        raise SystemExit(msg)
    ablation = Ablation()
    with open(os.devnull, "w") as devnull:  # noqa: PTH123
        worker.configure_structlog(spec, devnull, cache=True)
        toggles = Toggles(handler, worker.add_floor_fields)
        found: list[str] = []
        for block in blocks:
            state, swaps, parts = _parse(block)
            ablation.apply(swaps)
            checked = worker.check_states(
                toggles, [state], handler, provider, exporter, left_out=parts
            )
            found += [f"{block}: {problem}" for problem in checked]
        if found:
            print(f"blocks: {found}", file=sys.stderr)
            return 1
        environ = worker.base_environ()
        gc.collect()  # as example/gunicorn.conf.py does after start-up: a full collection
        gc.freeze()  # then walks only what requests leave, not the set-up, in whichever block
        for block in blocks:
            state, swaps, parts = _parse(block)
            ablation.apply(swaps)
            toggles.apply(STATES[state], parts)
            for _ in range(warmup):
                worker.request(handler, environ)
            provider.force_flush()
            os.getppid()  # the dump marker
            for _ in range(count):
                worker.request(handler, environ)
            provider.force_flush()
            os.getppid()  # the block ends here
        ablation.apply([])
    return 0


def _parse(block: str) -> tuple[str, list[str], frozenset[str]]:
    """``state+rule+...`` -> the state, the rules swapped out, the parts left out."""
    state, *rules = block.split("+")
    unknown = [rule for rule in rules if rule not in RULES and rule not in PARTS]
    if unknown:
        msg = f"{block}: unknown rules {unknown}"
        raise SystemExit(msg)
    return state, [rule for rule in rules if rule in RULES], frozenset(set(rules) & PARTS.keys())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
