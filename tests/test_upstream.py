"""tests/_upstream: only the exact known upstream traceback is removed from a server's stderr."""

from __future__ import annotations

import sys

import pytest

from tests._upstream import without_known_upstream_tracebacks

KNOWN = """[INFO] Shutting down: Master
Exception ignored in atexit callback: <function shutdown at 0x7fba1cdff380>
Traceback (most recent call last):
  File "/py/lib/python3.12/logging/__init__.py", line 2271, in shutdown
    h.flush()
  File "/venv/site-packages/opentelemetry/instrumentation/logging/handler.py", line 236, in flush
    thread.start()
  File "/py/lib/python3.12/threading.py", line 992, in start
    _start_new_thread(self._bootstrap, ())
RuntimeError: can't create new thread at interpreter shutdown
"""
OURS = """Traceback (most recent call last):
  File "/repo/otel_context/processors.py", line 1, in __call__
RuntimeError: can't create new thread at interpreter shutdown
"""


class TestKnownUpstreamTracebacks:
    @pytest.mark.skipif(sys.version_info[:2] != (3, 12), reason="Python 3.12 only")
    def test_the_known_block_is_removed_on_python_312(self) -> None:
        """The logging handler's flush at exit goes; the server's own lines stay."""
        assert without_known_upstream_tracebacks(KNOWN) == "[INFO] Shutting down: Master\n"

    def test_any_other_traceback_stays(self) -> None:
        """A traceback through other code is kept, on every Python."""
        assert without_known_upstream_tracebacks(OURS) == OURS
        assert without_known_upstream_tracebacks(OURS + KNOWN).startswith(OURS)

    @pytest.mark.skipif(sys.version_info[:2] == (3, 12), reason="not Python 3.12")
    def test_nothing_is_removed_elsewhere(self) -> None:
        """Python 3.11 and 3.13 never print it: nothing is taken away there."""
        assert without_known_upstream_tracebacks(KNOWN) == KNOWN
