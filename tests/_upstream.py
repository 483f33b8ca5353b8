"""Known tracebacks of upstream packages that a server's stderr may show, and nothing of ours.

Only exact, explained blocks are removed; any other traceback still fails the calling test.
"""

from __future__ import annotations

import re
import sys
from typing import Final

#: Python 3.12 refuses to start a thread during interpreter shutdown, and the OTel logging
#: instrumentation's ``LoggingHandler.flush()`` starts one (to force-flush the logger provider)
#: when ``logging.shutdown()`` runs at exit: the gunicorn master under ``opentelemetry-instrument``
#: prints this at its very end, on every OTel train tested (1.42.1/0.63b1 and 1.45.1/0.66b1
#: alike), and Python 3.11 and 3.13 do not. Nothing of otel_context runs in it.
_PY312_LOGGING_FLUSH_AT_EXIT: Final = re.compile(
    r"Exception ignored in atexit callback: <function shutdown at 0x[0-9a-f]+>\n"
    r"Traceback \(most recent call last\):\n"
    r'  File "[^"\n]*/logging/__init__\.py", line \d+, in shutdown\n    h\.flush\(\)\n'
    r'  File "[^"\n]*/opentelemetry/instrumentation/logging/handler\.py", line \d+, in flush\n'
    r"    thread\.start\(\)\n"
    r'  File "[^"\n]*/threading\.py", line \d+, in start\n.*\n'
    r"RuntimeError: can't create new thread at interpreter shutdown\n?"
)


def without_known_upstream_tracebacks(stderr: str) -> str:
    """*stderr* less the known upstream tracebacks of this Python (see above)."""
    if sys.version_info[:2] == (3, 12):
        return _PY312_LOGGING_FLUSH_AT_EXIT.sub("", stderr)
    return stderr
