"""W3C Baggage limits: at most 64 list-members and 8,192 bytes, in and out, counted.

The W3C Baggage Candidate Recommendation asks a platform to propagate at least 64
list-members and 8,192 bytes, and when it cannot propagate all of it, to drop whole
list-members, never part of one; which members go is the platform's choice. OTel Java
(CVE-2026-45292) and Go enforce exactly these numbers; Python's SDK still applies the older
draft's 180 members and 4,096-byte members, and ignores a header over 8,192 bytes outright.

- In: :func:`cut_header` keeps the header's first whole members within both limits (the
  rest of a long header is not parsed at all), and :func:`note_cut` leaves the count in the
  extracted context, where the request hook finds it for the server span.
- Out: :func:`fit_entries` keeps entries in the given order (identifiers first) while the
  encoded header stays within both limits, and counts what it leaves out.

Sizes are measured in characters of the header as the server decoded it; every valid
member is ASCII, so what is kept is measured in bytes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final
from urllib.parse import quote

from opentelemetry.context import create_key, get_value, set_value

if TYPE_CHECKING:
    from collections.abc import Mapping

    from opentelemetry.context import Context

#: The W3C Baggage CR's limits ("Limits": propagate at least this much, drop whole members).
MAX_MEMBERS: Final = 64
MAX_BYTES: Final = 8192
#: Span attribute: inbound list-members cut by the limits (on the server span).
OVER_LIMIT_ATTRIBUTE: Final = "otel_context.baggage.over_limit"
#: Span attribute: outbound entries left out of ``baggage`` by the limits (on the client span).
OUTBOUND_OVER_LIMIT_ATTRIBUTE: Final = "otel_context.baggage.outbound.over_limit"
_CUT_KEY: Final = create_key("otel_context.baggage.over_limit")
#: The context key of :func:`cut_count` (read directly by ``request.begin``).
CUT_KEY: Final = _CUT_KEY
#: An entry encodes to at most 12 characters per character (4 UTF-8 bytes, each ``%XX``).
_WORST_CASE_GROWTH: Final = 12


def _count_members(text: str) -> int:
    """How many list-members *text* holds (empty ones between commas are not members)."""
    return sum(1 for member in text.split(",") if member.strip(" \t"))


def cut_header(
    header: str, max_members: int = MAX_MEMBERS, max_bytes: int = MAX_BYTES
) -> tuple[str, int]:
    """The header's first whole members within the limits, and how many members were cut.

    Cheap for a header within the limits: a length check and a count of commas.
    """
    if len(header) <= max_bytes and header.count(",") < max_members:
        return header, 0
    cut = 0
    if len(header) > max_bytes:
        end = header.rfind(",", 0, max_bytes + 1)  # a comma at max_bytes ends a whole member
        cut = _count_members(header[end + 1 :]) if end >= 0 else _count_members(header)
        header = header[:end] if end >= 0 else ""
    members = [member for member in header.split(",") if member.strip(" \t")]
    if len(members) > max_members:
        cut += len(members) - max_members
        members = members[:max_members]
    return ",".join(members), cut


def note_cut(cut: int, context: Context) -> Context:
    """*context* remembering that *cut* inbound members were cut (unchanged when none were)."""
    return set_value(_CUT_KEY, cut, context) if cut else context


def cut_count(context: Context | None = None) -> int:
    """How many inbound members the baggage extracted into *context* lost to the limits."""
    value = get_value(_CUT_KEY) if context is None else context.get(_CUT_KEY)
    return value if isinstance(value, int) else 0


def encoded_member(name: str, value: object) -> str:
    """One list-member as otel_context's codec writes it: both parts percent-encoded."""
    return f"{quote(name, safe='')}={quote(str(value), safe='')}"


def fit_entries(
    entries: Mapping[str, object], max_members: int = MAX_MEMBERS, max_bytes: int = MAX_BYTES
) -> tuple[dict[str, object], int]:
    """The entries, in order, whose encoded header fits the limits; and how many did not.

    An entry that does not fit is left out and the next ones are still tried, so one long
    value costs only itself. The encoded size is an upper bound for the SDK's codec too
    (``quote_plus`` writes a space as one character, not three). Within a worst-case bound
    nothing is encoded: the usual handful of short entries costs one pass over the lengths.
    """
    if len(entries) <= max_members:
        raw = len("".join(entries)) + len("".join(map(str, entries.values())))
        if raw * _WORST_CASE_GROWTH + 2 * len(entries) <= max_bytes:
            return dict(entries), 0
    kept: dict[str, object] = {}
    length = -1  # the first member has no comma before it
    for name, value in entries.items():
        size = len(encoded_member(str(name), value)) + 1
        if len(kept) < max_members and length + size <= max_bytes:
            kept[name] = value
            length += size
    return kept, len(entries) - len(kept)
