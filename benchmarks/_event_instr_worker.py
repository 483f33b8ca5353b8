"""Figure A′ worker: every figure A variant, N events each, in one process.

Run under ``valgrind --tool=callgrind --dump-before=os_getppid`` as ``python -m
benchmarks._event_instr_worker N VARIANT...``. It checks each variant exactly as figure A does
(inside a child span) and warms them all up; then, for each variant in turn, it calls
``os.getppid()`` (callgrind writes the counts so far to a new file) and renders N events inside
the request span, and calls it once more at the end. File k+1 then holds exactly variant k's
N events (and a few dozen instructions of loop set-up).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from opentelemetry.sdk.trace import TracerProvider

from benchmarks._event_variants import variants
from benchmarks.events import check, request_environment, time_block, wrap

if TYPE_CHECKING:
    from collections.abc import Sequence

WARMUP = 500


def main(argv: Sequence[str]) -> int:
    """Check the variants, warm up, render N events of each between dump markers."""
    if len(argv) < 2:
        msg = "usage: python -m benchmarks._event_instr_worker N VARIANT..."
        raise SystemExit(msg)
    count, found = int(argv[0]), {variant.key: variant for variant in variants()}
    chosen = [found[key] for key in argv[1:]]
    provider = TracerProvider()
    with request_environment(provider) as span, open(os.devnull, "w") as devnull:  # noqa: PTH123
        for variant in chosen:
            check(variant, span, provider)
        loggers = [(wrap(v.processors(), devnull), v.bound(span)) for v in chosen]
        for logger, bound in loggers:
            time_block(logger, bound, WARMUP)
        for logger, bound in loggers:
            os.getppid()  # the dump marker
            time_block(logger, bound, count)
        os.getppid()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
