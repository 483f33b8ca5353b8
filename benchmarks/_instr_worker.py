"""Figure C′ worker: one configuration (and state), a fixed number of requests, then exit.

Run under ``valgrind --tool=callgrind`` as ``python -m benchmarks._instr_worker CONFIG STATE
WARMUP COUNT`` (STATE ``-`` for none). It checks one request's log events (and the state's)
exactly as figure B's worker does, so a broken set-up is never counted, warms up, runs COUNT
requests and flushes the span processor. The orchestrator runs it twice, with COUNT 0 and
COUNT N, and divides the difference in instructions by N: everything but the N requests
cancels out.
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
    """Check, warm up, run the requests; exit 1 (with the problems on stderr) if a check fails."""
    if len(argv) != 4:
        msg = "usage: python -m benchmarks._instr_worker CONFIG STATE WARMUP COUNT"
        raise SystemExit(msg)
    spec, state = Setup.parse(argv[0]), argv[1]
    warmup, count = int(argv[2]), int(argv[3])
    handler, provider, exporter = worker.setup(spec)
    found = worker.check(spec, handler, provider, exporter)
    with open(os.devnull, "w") as devnull:  # noqa: PTH123
        worker.configure_structlog(spec, devnull, cache=True)
        if state != "-":
            toggles = Toggles(handler, worker.add_floor_fields)
            found += worker.check_states(toggles, [state], handler, provider, exporter)
            toggles.apply(STATES[state])
        if found:
            print(f"{spec.name} {state}: {found}", file=sys.stderr)
            return 1
        environ = worker.base_environ()
        for _ in range(warmup + count):
            worker.request(handler, environ)
    if provider is not None:
        provider.force_flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
