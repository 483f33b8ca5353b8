"""Append-only line files shared by every thread and process of the example service.

Log lines and spans from several gunicorn workers go to one file. A buffered file object can
split a line over two ``write(2)`` calls when its buffer fills, and another process's line can
land in between. :class:`LineFile` makes each ``write()`` exactly one ``os.write`` on an
``O_APPEND`` descriptor, so every line arrives whole, without locks.
"""

from __future__ import annotations

import os
import sys


class LineFile:
    """A minimal text-file object: one ``write()`` call is one ``os.write`` of whole lines."""

    def __init__(self, fd: int, name: str) -> None:
        self._fd = fd
        self.name = name

    def write(self, text: str) -> int:
        data = text.encode("utf-8")
        view = memoryview(data)
        while view:  # a regular file takes it in one go; a pipe may need more
            view = view[os.write(self._fd, view) :]
        return len(text)

    def flush(self) -> None:
        """Nothing is buffered."""

    def isatty(self) -> bool:
        return os.isatty(self._fd)


def open_line_file(path: str | None) -> LineFile:
    """Open *path* for appending (created if missing); empty or ``None`` means stdout."""
    if not path:
        return LineFile(_stdout_fd(), "<stdout>")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    return LineFile(fd, path)


def _stdout_fd() -> int:
    try:
        return sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # replaced by a capturing object (pytest)
        return 1
