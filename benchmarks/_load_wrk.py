"""Driving ``wrk`` and reading the example's server processes, for :mod:`benchmarks.load`.

``wrk`` prints its summary for people; a Lua ``done()`` hook prints the same figures as one
JSON line instead (latencies in microseconds), which :func:`run_wrk` parses.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Final

#: Prefix of the line the Lua ``done()`` hook prints.
MARK: Final = "WRK_JSON "
LUA_DONE: Final = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, '
    .. '"status": %d, "timeout": %d, "p50_us": %d, "p99_us": %d, "max_us": %d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


@dataclass(frozen=True, slots=True)
class WrkResult:
    """One ``wrk`` run's totals and latency percentiles."""

    requests: int
    seconds: float
    errors: int
    p50_ms: float
    p99_ms: float
    max_ms: float

    @property
    def rate(self) -> float:
        """Completed requests per second."""
        return self.requests / self.seconds


def wrk_binary() -> str | None:
    """The ``wrk`` on PATH, or ``None`` (Debian: ``apt-get install wrk``)."""
    return shutil.which("wrk")


def write_lua(directory: Path) -> Path:
    """Write the ``done()`` hook script into *directory*; return its path."""
    path = directory / "done.lua"
    path.write_text(LUA_DONE, encoding="utf-8")
    return path


def run_wrk(
    binary: str,
    url: str,
    *,
    seconds: float,
    connections: int,
    threads: int,
    headers: dict[str, str],
    script: Path,
) -> WrkResult:
    """Run ``wrk --latency`` against *url* for *seconds*; raise if it fails or prints no JSON."""
    argv = [
        binary,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(script),
    ]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    done = subprocess.run(
        [*argv, url], capture_output=True, text=True, check=True, timeout=seconds + 60
    )
    for line in done.stdout.splitlines():
        if line.startswith(MARK):
            data = json.loads(line.removeprefix(MARK))
            errors = sum(data[k] for k in ("connect", "read", "write", "status", "timeout"))
            return WrkResult(
                requests=data["requests"],
                seconds=data["duration_us"] / 1e6,
                errors=errors,
                p50_ms=data["p50_us"] / 1e3,
                p99_ms=data["p99_us"] / 1e3,
                max_ms=data["max_us"] / 1e3,
            )
    msg = f"wrk printed no summary:\n{done.stdout}\n{done.stderr}"
    raise RuntimeError(msg)


def children(pid: int) -> list[int]:
    """The child processes of *pid* (Linux ``/proc``; gunicorn's master -> its workers)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(part) for part in text.split()]


def rss_kb(pid: int) -> int | None:
    """*pid*'s resident set size in KiB (``VmRSS``), or ``None`` if it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


def alive(pid: int) -> bool:
    """Whether *pid* exists and is not a zombie."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return status.rpartition(")")[2].split()[0] != "Z"


def load_average() -> str:
    """The 1/5/15-minute load averages, as ``/proc/loadavg`` shows them."""
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())
