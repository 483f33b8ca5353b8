"""Baggage headers at the W3C limits (64 list-members, 8,192 bytes), for the server tests."""

from __future__ import annotations


def members(count: int) -> str:
    """``m.0=v,m.1=v,...``: *count* short members."""
    return ",".join(f"m.{n}=v" for n in range(count))


def sized(size: int) -> str:
    """A header of exactly *size* bytes in ``m.*`` members, each value within 256 characters.

    About 40 members: within the member limit, so only the size decides what is cut.
    """
    parts: list[str] = []
    while size - len(",".join(parts)) > 300:
        parts.append(f"m.{len(parts)}=" + "x" * 200)
    last = f"m.{len(parts)}="
    parts.append(last + "x" * (size - len(",".join(parts)) - 1 - len(last)))
    return ",".join(parts)
