"""The example's WSGI app, watched: the flight recorder's held lines and bytes in this worker.

For the held-lines soak (``tests/integration/test_soak_held.py``): after every request the
worker notes the most it has held; ``GET /_held`` answers with this worker's pid, what it
holds now and the peak, without going through Django.
"""

from __future__ import annotations

import json
import os
import threading
from typing import TYPE_CHECKING, Any

from example.wsgi import application as example_application
from otel_context.flight_recorder import held_now

if TYPE_CHECKING:
    from collections.abc import Iterable

_lock = threading.Lock()
_peak = {"lines": 0, "bytes": 0}


def _note() -> None:
    lines, held_bytes = held_now()
    with _lock:
        _peak["lines"] = max(_peak["lines"], lines)
        _peak["bytes"] = max(_peak["bytes"], held_bytes)


def application(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
    """The example app; ``/_held`` reports on the recorder."""
    if environ.get("PATH_INFO") == "/_held":
        lines, held_bytes = held_now()
        with _lock:
            peak = dict(_peak)
        body = json.dumps({"pid": os.getpid(), "lines": lines, "bytes": held_bytes, "peak": peak})
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body.encode()]
    _note()  # others' requests in flight, while this one starts
    try:
        return example_application(environ, start_response)  # type: ignore[no-any-return]
    finally:
        _note()
