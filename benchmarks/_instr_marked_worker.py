"""Figure C′ in one process: every state's requests between callgrind dump markers.

Run under ``valgrind --tool=callgrind --dump-before=os_getppid`` as ``python -m
benchmarks._instr_marked_worker CONFIG WARMUP N [STATE...]``. It checks one request (and each
state) as ``benchmarks._instr_worker`` does, then for each state (or just the configuration)
applies it, warms up, calls ``os.getppid()`` (callgrind writes the counts so far to a new
file), runs N requests and calls it again. Of the files after the first, every other one
(``counts[0::2]``) holds exactly one block's N requests; those between hold the next state's
set-up and warm-up. One process gives every state's count, and no empty run needs subtracting.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from benchmarks import _wsgi_worker as worker
from benchmarks._site import Setup
from benchmarks._toggles import STATES, Toggles

if TYPE_CHECKING:
    from collections.abc import Sequence


def main(argv: Sequence[str]) -> int:
    """Check, then per state: warm up, marker, N requests; exit 1 if a check fails."""
    if len(argv) < 3:
        msg = "usage: python -m benchmarks._instr_marked_worker CONFIG WARMUP N [STATE...]"
        raise SystemExit(msg)
    spec, warmup, count, states = Setup.parse(argv[0]), int(argv[1]), int(argv[2]), argv[3:]
    handler, provider, exporter = worker.setup(spec)
    found = worker.check(spec, handler, provider, exporter)
    with open(os.devnull, "w") as devnull:  # noqa: PTH123
        worker.configure_structlog(spec, devnull, cache=True)
        toggles = Toggles(handler, worker.add_floor_fields) if states else None
        if toggles is not None:
            found += worker.check_states(toggles, states, handler, provider, exporter)
        if found:
            print(f"{spec.name}: {found}", file=sys.stderr)
            return 1
        environ = worker.base_environ()
        for state in states or ["-"]:
            if toggles is not None:
                toggles.apply(STATES[state])
            for _ in range(warmup):
                worker.request(handler, environ)
            os.getppid()  # the dump marker
            for _ in range(count):
                worker.request(handler, environ)
            os.getppid()  # the block ends here: the next state's set-up is not counted in it
    if provider is not None:
        provider.force_flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
