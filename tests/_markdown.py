"""Fenced code blocks of the README and docs/, found by language and by the marker above them.

A marker is an HTML comment on the line before a block's fence (``<!-- quickstart-view: ... -->``):
invisible once rendered, and the handle by which tests take a block from the text as written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
_FENCE = re.compile(r"^(?P<indent> *)(?P<fence>```+|~~~+)(?P<info>[^`]*)$")
_MARKER = re.compile(r"^\s*<!--\s*(?P<name>[\w-]+)")


@dataclass(frozen=True)
class Block:
    """One fenced code block: where it is, its language, the marker above it, its text."""

    path: Path
    line: int
    language: str
    marker: str | None
    code: str

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line} ({self.language or 'no language'})"


def markdown_files() -> list[Path]:
    """The README and every page of docs/."""
    return [README, *sorted(DOCS.rglob("*.md"))]


def blocks(path: Path) -> list[Block]:
    """Every fenced block of *path*, in order (indented blocks in list items included)."""
    found: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        above = next((line for line in reversed(lines[:index]) if line.strip()), "")
        marker = m["name"] if (m := _MARKER.match(above)) else None
        end = index + 1
        while end < len(lines) and lines[end].strip() != fence:
            end += 1
        code = "\n".join(line[indent:] for line in lines[index + 1 : end])
        language = opening["info"].strip().split(" ")[0]
        found.append(Block(path, index + 1, language, marker, code + "\n"))
        index = end + 1
    return found


def marked_block(path: Path, marker: str) -> Block:
    """The one block of *path* under ``<!-- marker``; a clear failure if there is none or two."""
    matches = [block for block in blocks(path) if block.marker == marker]
    if len(matches) != 1:
        msg = f"{path.name}: expected one code block under <!-- {marker} -->, found {len(matches)}"
        raise LookupError(msg)
    return matches[0]
