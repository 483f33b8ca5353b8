"""Walk a project's source tree and scan each file once: emit sites and baggage reads.

Files are parsed, never imported or run. :func:`scan` backs ``manage.py otel_context_catalogue
--events``; :func:`baggage_reads` is the cheaper walk the start-up check runs: it parses only
files whose text mentions ``baggage``.
"""

from __future__ import annotations

import ast
import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from otel_context.catalogue.baggage_reads import BaggageRead, reads_in
from otel_context.catalogue.emit_sites import BindSite, EmitSite, sites_in

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

#: Path components never scanned (``fnmatch`` patterns): virtualenvs, caches, migrations.
DEFAULT_EXCLUDE: Final = (
    ".*",
    "__pycache__",
    "node_modules",
    "site-packages",
    "venv",
    "migrations",
)


@dataclass(slots=True)
class Scan:
    """What scanning some paths found."""

    roots: tuple[str, ...]
    files: int = 0
    emits: list[EmitSite] = field(default_factory=list)
    binds: list[BindSite] = field(default_factory=list)
    #: Reads of inbound baggage keys.
    reads: list[BaggageRead] = field(default_factory=list)
    #: Files that could not be read or parsed.
    unreadable: list[str] = field(default_factory=list)


def _excluded(name: str, exclude: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in exclude)


def python_files(root: Path, exclude: tuple[str, ...]) -> Iterator[Path]:
    """The ``.py`` files under *root* (or *root* itself), skipping *exclude* matches."""
    if root.is_file():
        yield root
        return
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = sorted(d for d in subdirectories if not _excluded(d, exclude))
        for name in sorted(files):
            if name.endswith(".py") and not _excluded(name, exclude):
                yield Path(directory, name)


def display_path(path: Path, base: Path) -> str:
    """*path* relative to *base* if it lies below it, else absolute; always with ``/``."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(base.resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


def scan(roots: Iterable[Path], exclude: tuple[str, ...], base: Path) -> Scan:
    """Scan the Python files under *roots*; paths in the result are relative to *base*.

    Raises:
        FileNotFoundError: a root does not exist.
    """
    roots = tuple(roots)
    result = Scan(tuple(display_path(root, base) for root in roots))
    for path in _files(roots, exclude):
        shown = display_path(path, base)
        try:
            tree = ast.parse(path.read_bytes(), filename=shown)
        except (OSError, SyntaxError, ValueError):
            result.unreadable.append(shown)
            continue
        result.files += 1
        emits, binds = sites_in(tree, shown)
        result.emits.extend(emits)
        result.binds.extend(binds)
        result.reads.extend(reads_in(tree, shown))
    return result


def _files(roots: tuple[Path, ...], exclude: tuple[str, ...]) -> list[Path]:
    missing = [str(root) for root in roots if not root.exists()]
    if missing:
        msg = f"no such file or directory: {', '.join(missing)}"
        raise FileNotFoundError(msg)
    return sorted({path.resolve() for root in roots for path in python_files(root, exclude)})


def baggage_reads(
    root: Path, exclude: tuple[str, ...], *, max_files: int
) -> list[BaggageRead] | None:
    """The baggage reads under *root*, or ``None`` if it holds more than *max_files* files.

    Only files whose text mentions ``baggage`` are parsed (every read needs an import naming
    it); unreadable files are skipped. Paths are relative to *root*.

    Raises:
        FileNotFoundError: *root* does not exist.
    """
    files = _files((root,), exclude)
    if len(files) > max_files:
        return None
    reads: list[BaggageRead] = []
    for path in files:
        try:
            source = path.read_bytes()
            if b"baggage" in source:
                shown = display_path(path, root)
                reads.extend(reads_in(ast.parse(source, filename=shown), shown))
        except (OSError, SyntaxError, ValueError):
            continue
    return reads
