"""The load benchmark's section of ``benchmarks/RESULTS.md``, kept between two markers.

``python -m benchmarks.load`` replaces only what lies between :data:`START` and :data:`END`;
``python -m benchmarks.run`` rewrites the rest of the file and carries the section over
(:func:`keep_section`), so either command can run without losing the other's figures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from pathlib import Path

START: Final = "<!-- load -->"
END: Final = "<!-- /load -->"


def extract(text: str) -> str | None:
    """The marked section of *text*, markers included, or ``None`` if it has none."""
    start = text.find(START)
    end = text.find(END, start + len(START)) if start >= 0 else -1
    if start < 0 or end < 0:
        return None
    return text[start : end + len(END)]


def splice(text: str, section: str) -> str:
    """*text* with its marked section replaced by *section* (appended if it has none)."""
    old = extract(text)
    if old is not None:
        return text.replace(old, section.strip(), 1)
    return text.rstrip("\n") + "\n\n" + section.strip() + "\n"


def keep_section(new_text: str, path: Path) -> str:
    """*new_text* plus the marked section of the file at *path*, if that file has one."""
    if not path.exists():
        return new_text
    old = extract(path.read_text(encoding="utf-8"))
    return new_text if old is None or extract(new_text) is not None else splice(new_text, old)
