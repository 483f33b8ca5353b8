"""Figure A′: figure A counted in CPU instructions by valgrind's callgrind.

``python -m benchmarks.event_instructions [N [VARIANT...]]`` from the repository root
(``--request [N]``: figure A″, per event inside a Django request, see
``benchmarks._request_event_worker``). One
process (``benchmarks._event_instr_worker``) renders N events of each variant between dump
markers: callgrind writes one file per variant's events, whose total over N is one event's
instructions. Unlike figure A's times, counts do not move with the machine's load.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks._event_variants import BASELINE, variants
from benchmarks.instructions import CallgrindError

ROOT = Path(__file__).resolve().parent.parent
_TOTALS = re.compile(r"^(?:summary|totals): (\d+)", re.MULTILINE)


def segments(argv: list[str], keep: Path | None = None) -> list[int]:
    """Instructions between ``os.getppid()`` markers of ``python -m <argv>`` under callgrind."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(keep or tmp)
        command = [
            "valgrind",
            "--tool=callgrind",
            "--dump-before=os_getppid",
            f"--callgrind-out-file={out}/callgrind.out",
            sys.executable,
            "-m",
            *argv,
        ]
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        done = subprocess.run(
            command, cwd=ROOT, env=env, capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            raise CallgrindError(done.stderr[-2000:])
        dumps = sorted(out.glob("callgrind.out.*"), key=lambda p: int(p.name.rsplit(".", 1)[1]))
        counts = [int(_TOTALS.findall(p.read_text(encoding="utf-8"))[-1]) for p in dumps]
    return counts[1:]  # the first file is everything before the first marker


def run(events: int, keys: list[str] | None = None, keep: Path | None = None) -> dict[str, float]:
    """Instructions per event of every variant (or of *keys*)."""
    keys = keys or [variant.key for variant in variants()]
    counts = segments(["benchmarks._event_instr_worker", str(events), *keys], keep)
    return {key: count / events for key, count in zip(keys, counts, strict=True)}


def run_request(requests: int, keep: Path | None = None, warmup: int = 100) -> dict[str, float]:
    """Figure A″: instructions per event inside a Django request, per pipeline.

    ``benchmarks._request_event_worker`` runs, per pipeline, N requests logging 1 event and N
    logging 1 + E; the difference over E·N is one event (the lazy user's refresh included).
    """
    from benchmarks._request_event_worker import EXTRA_EVENTS, PIPELINES  # noqa: PLC0415

    counts = segments(["benchmarks._request_event_worker", str(requests), str(warmup)], keep)
    return {
        name: (counts[2 * i + 1] - counts[2 * i]) / (EXTRA_EVENTS * requests)
        for i, name in enumerate(PIPELINES)
    }


def run_request_inner(
    requests: int, keep: Path | None = None, warmup: int = 100
) -> dict[str, float]:
    """Figure A″, the events alone: markers around the view's E events in every request.

    Per pipeline the segments alternate: the request up to its events, then its events; the
    pipeline's last request ends in the segment that reaches the next pipeline's marker.
    """
    from benchmarks._request_event_worker import EXTRA_EVENTS, PIPELINES  # noqa: PLC0415

    argv = ["benchmarks._request_event_worker", str(requests), str(warmup), "--inner"]
    counts = segments(argv, keep)
    per_pipeline = 2 * requests + 1
    if len(counts) != per_pipeline * len(PIPELINES):
        msg = f"{len(counts)} segments, not {per_pipeline * len(PIPELINES)}"
        raise CallgrindError(msg)
    return {
        name: sum(counts[i * per_pipeline + 1 : (i + 1) * per_pipeline : 2])
        / (EXTRA_EVENTS * requests)
        for i, name in enumerate(PIPELINES)
    }


def main(argv: list[str]) -> int:
    """Count and print instructions per event and the ratio to the bare pipeline."""
    if argv[:1] == ["--request-inner"]:
        counted = run_request_inner(int(argv[1]) if len(argv) > 1 else 200)
    elif argv[:1] == ["--request"]:
        counted = run_request(int(argv[1]) if len(argv) > 1 else 200)
    else:
        counted = run(int(argv[0]) if argv else 2000, argv[1:] or None)
    base = counted.get(BASELINE)
    for key, value in counted.items():
        ratio = f"{value / base:.4f}×" if base else ""
        print(f"{key:20} {value:10.1f} instructions/event {ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
