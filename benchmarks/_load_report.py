"""The load benchmarks' sections of ``benchmarks/RESULTS.md``, each kept between two markers.

``python -m benchmarks.load`` replaces only what lies between :data:`START` and :data:`END`
(figures D and E), ``python -m benchmarks.load_constant`` only what lies between the
:data:`CONSTANT` markers (figure D′); ``python -m benchmarks.run`` rewrites the rest of the
file and carries both sections over (:func:`keep_section`), so any of the commands can run
without losing the others' figures. The hand-written sections are carried too: the issue-25
figures (:data:`ISSUE25`, in place after figure C′) and the issue-24 figures (F, :data:`ISSUE24`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from pathlib import Path

START: Final = "<!-- load -->"
END: Final = "<!-- /load -->"
#: (start, end) markers of ``python -m benchmarks.load``'s section.
LOAD: Final = (START, END)
#: (start, end) markers of ``python -m benchmarks.load_constant``'s section.
CONSTANT: Final = ("<!-- load-constant -->", "<!-- /load-constant -->")
#: (start, end) markers of the issue-24 figures (``python -m benchmarks.log_sampling_gunicorn``
#: and ``benchmarks.trace_keeping``, written in by hand): figure F.
ISSUE24: Final = ("<!-- issue24 -->", "<!-- /issue24 -->")
#: (start, end) markers of the issue-25 figures (written in by hand from the callgrind
#: workers): they follow figure C-prime, so they are carried over first.
ISSUE25: Final = ("<!-- issue25 -->", "<!-- /issue25 -->")
#: every marked section :func:`keep_section` carries over, in the file's order.
KEPT: Final = (ISSUE25, LOAD, CONSTANT, ISSUE24)


def extract(text: str, marks: tuple[str, str] = LOAD) -> str | None:
    """The section of *text* between *marks*, markers included, or ``None`` if it has none."""
    first, last = marks
    start = text.find(first)
    end = text.find(last, start + len(first)) if start >= 0 else -1
    if start < 0 or end < 0:
        return None
    return text[start : end + len(last)]


def splice(text: str, section: str, marks: tuple[str, str] = LOAD) -> str:
    """*text* with its *marks* section replaced by *section* (appended if it has none)."""
    old = extract(text, marks)
    if old is not None:
        return text.replace(old, section.strip(), 1)
    return text.rstrip("\n") + "\n\n" + section.strip() + "\n"


def keep_section(new_text: str, path: Path) -> str:
    """*new_text* plus each marked section of the file at *path* that *new_text* lacks."""
    if not path.exists():
        return new_text
    existing = path.read_text(encoding="utf-8")
    for marks in KEPT:
        old = extract(existing, marks)
        if old is not None and extract(new_text, marks) is None:
            new_text = splice(new_text, old, marks)
    return new_text
