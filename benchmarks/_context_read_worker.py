"""The per-event piece no implementation can skip: finding the current request's fields.

Run under ``valgrind --tool=callgrind --dump-before=os_getppid`` as ``python -m
benchmarks._context_read_worker N``: inside figure A's request environment, N calls of each of
three processors between dump markers: the floor (constant fields), the floor after reading
the current span and scope from the OTel context (what any per-event lookup must do), and
``StructlogOTelProcessor``. Each works on a fresh copy of a 3-key event.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from opentelemetry.sdk.trace import TracerProvider

from benchmarks._event_variants import FLOOR_FIELDS
from benchmarks.events import request_environment
from otel_context import StructlogOTelProcessor
from otel_context.processors import _SPAN_KEY, _current_context
from otel_context.scope import SCOPE_KEY

EVENT = {"event": "project.loaded", "path": "/orgs/7/projects/12/", "status": 200}


def floor(logger: Any, method: str, event_dict: dict[str, Any]) -> Any:
    """Constant fields."""
    event_dict.update(FLOOR_FIELDS)
    return event_dict


def floor_after_lookup(logger: Any, method: str, event_dict: dict[str, Any]) -> Any:
    """Constant fields, after reading what a lookup needs: the scope and the span."""
    ctx = _current_context()
    if ctx.get(SCOPE_KEY) is not None and ctx.get(_SPAN_KEY) is not None:
        event_dict.update(FLOOR_FIELDS)
    return event_dict


def main(argv: list[str]) -> int:
    """N calls of each processor between markers."""
    count = int(argv[0])
    processors = [floor, floor_after_lookup, StructlogOTelProcessor()]
    with request_environment(TracerProvider()):
        for processor in processors:
            for _ in range(100):
                processor(None, "info", dict(EVENT))
        for processor in processors:
            os.getppid()  # the dump marker
            for _ in range(count):
                processor(None, "info", dict(EVENT))
        os.getppid()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
