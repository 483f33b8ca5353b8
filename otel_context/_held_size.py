"""The size a held line is counted at, estimated from its event dict without rendering it.

The flight recorder renders a held line only if it writes it (most are dropped), so its bounds
(``HOLD_MAX_BYTES`` a request, ``HOLD_MAX_PROCESS_BYTES`` a process) count an estimate of the
line instead: about what ``JSONRenderer`` would write for ASCII text.

- each field: the characters of its key, plus 8 (quotes, colon, separator);
- a string (or ``bytes``): its length, plus 2; a number: its digits (a float 12, an ``int`` its
  decimal digits, bounded from its bit length); ``True`` / ``False`` / ``None``: 5;
- a ``dict``, ``list``, ``tuple``, ``set``: 2, plus 2 an item, plus its items' sizes, walked
  without recursion and only until the estimate passes the bound (so a huge or self-referencing
  container costs at most the bound's worth of steps, and is over it);
- a traceback: 200 a frame; anything else: the length of its ``repr`` (what ``JSONRenderer``
  falls back to), or 64 if ``repr`` raises.

Escaped characters (non-ASCII with ``ensure_ascii``, control characters) render longer than
counted, and another renderer (``ConsoleRenderer``'s colours and padding) writes more or less;
the estimate grows with every character of every value, so the held text stays bounded.
"""

from __future__ import annotations

from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["estimate"]

#: A field's quotes, colon and separator: ``"key": "value", ``.
_FIELD: Final = 8
_SCALAR: Final = 5
_FLOAT: Final = 12
_FRAME: Final = 200
_UNKNOWN: Final = 64


def estimate(event: Mapping[Any, Any], limit: int) -> int:
    """The counted size of the line *event* renders to; past *limit*, some value above it.

    Strings (nearly every value of a log line) are counted inline; the rest are walked.
    """
    size = 2
    for key, value in event.items():
        size += _FIELD + (len(key) if type(key) is str else _walk(key, limit))
        size += len(value) if type(value) is str else _walk(value, limit - size)
        if size > limit:
            break
    return size


def _walk(value: object, budget: int) -> int:
    """The size of *value* and what it contains, stopping once it exceeds *budget*."""
    size = 0
    stack = [value]
    while stack and size <= budget:
        item = stack.pop()
        if isinstance(item, (str, bytes, bytearray)):
            size += len(item) + 2
        elif isinstance(item, bool) or item is None:
            size += _SCALAR
        elif isinstance(item, int):
            size += item.bit_length() // 3 + 1
        elif isinstance(item, float):
            size += _FLOAT
        elif isinstance(item, (dict, list, tuple, set, frozenset)):
            size += 2 + 2 * len(item)
            if size <= budget:  # only then: a huge container is over at once, never copied
                stack.extend(item.items() if isinstance(item, dict) else item)
        else:
            size += _other(item)
    return size


def _other(item: object) -> int:
    """A traceback by its frames; anything else by its ``repr``."""
    if isinstance(item, TracebackType):
        frames = 0
        tb: TracebackType | None = item
        while tb is not None:
            frames += 1
            tb = tb.tb_next
        return _FRAME * frames
    try:
        return len(repr(item))
    except Exception:
        return _UNKNOWN
