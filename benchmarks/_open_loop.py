"""A small HTTP/1.1 load generator on asyncio: open loop at a constant rate, or closed loop.

:func:`constant_rate` sends one request at each time of :func:`benchmarks._latency.schedule`
on keep-alive connections (a new one when none is idle, up to a cap) and records each
latency from the request's *scheduled* time (coordinated omission corrected, as wrk2 does);
how late the generator itself sent each request is recorded beside it, so a generator that
falls behind shows. :func:`closed_loop` keeps *connections* requests in flight back to back:
the server's capacity. Only what the benchmark needs: ``GET``, ``Content-Length`` bodies.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from benchmarks._latency import schedule

if TYPE_CHECKING:
    from collections.abc import Iterator

#: How long before a due time :func:`until` stops waiting on the event loop (seconds).
SPIN = 0.0015
#: Raised by a connection the server has closed (an idle keep-alive connection it timed out).
DROPPED = (ConnectionError, asyncio.IncompleteReadError, EOFError)


@dataclass(frozen=True, slots=True)
class Target:
    """Where to send, and the request's bytes."""

    host: str
    port: int
    request: bytes

    @classmethod
    def get(cls, host: str, port: int, path: str, headers: dict[str, str]) -> Target:
        """A keep-alive ``GET`` of *path* with *headers*."""
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        return cls(host, port, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))


@dataclass
class Recording:
    """What one constant-rate run measured (seconds)."""

    latencies: list[float] = field(default_factory=list)  # scheduled send -> response read
    lags: list[float] = field(default_factory=list)  # scheduled send -> actually sent
    errors: int = 0  # refused, dropped mid-response or not 200
    connections: int = 0  # opened during the run
    seconds: float = 0.0  # first scheduled send -> last response


class _Pool:
    """Idle keep-alive connections to one target, most recently used first."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self.opened = 0

    async def take(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bool]:
        """An idle connection (``reused=True``) or a new one."""
        if self.idle:
            return (*self.idle.pop(), True)
        reader, writer = await asyncio.open_connection(self.target.host, self.target.port)
        self.opened += 1
        return reader, writer, False

    def close(self) -> None:
        """Close every idle connection."""
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes) -> int:
    """Send *data*, read one response; its status (``-1`` if the server will close)."""
    writer.write(data)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    fields = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
    await reader.readexactly(int(fields.get("content-length", "0")))
    return -1 if fields.get("connection") == "close" else status


async def request(pool: _Pool) -> bool:
    """One request on a pooled connection (retried once on a fresh one if a stale one drops)."""
    for _ in range(2):
        reader, writer, reused = await pool.take()
        try:
            status = await _exchange(reader, writer, pool.target.request)
        except DROPPED:
            writer.close()
            if reused:
                continue
            return False
        if status == -1:
            writer.close()
            return True
        pool.idle.append((reader, writer))
        return status == 200
    return False


async def until(loop: asyncio.AbstractEventLoop, due: float) -> None:
    """Return at *due* (``loop.time()``), to about 0.1 ms.

    The event loop's timers wake up to 1 ms late (epoll counts in milliseconds), which would
    add up to 1 ms to every latency: sleep on the loop until 1.5 ms before, then the rest in
    a blocking ``time.sleep`` (nanosecond timer; a response arriving meanwhile waits for it).
    """
    if (ahead := due - loop.time() - SPIN) > 0:
        await asyncio.sleep(ahead)
    if (rest := due - loop.time()) > 0:
        time.sleep(rest)  # noqa: ASYNC251 - on purpose, under 1.5 ms (see above)


async def _constant(target: Target, rate: float, seconds: float, cap: int) -> Recording:
    loop = asyncio.get_running_loop()
    pool, limit, recording = _Pool(target), asyncio.Semaphore(cap), Recording()

    async def one(due: float) -> None:
        async with limit:
            recording.lags.append(loop.time() - due)
            try:
                ok = await request(pool)
            except OSError:
                ok = False
            recording.latencies.append(loop.time() - due)
            recording.errors += not ok

    start = loop.time() + 0.05
    tasks = []
    for due in schedule(start, rate, seconds):
        await until(loop, due)
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    recording.seconds, recording.connections = loop.time() - start, pool.opened
    pool.close()
    return recording


async def _closed(target: Target, connections: int, seconds: float) -> tuple[int, float]:
    loop = asyncio.get_running_loop()
    done = [0]
    stop = loop.time() + seconds

    async def client() -> None:
        pool = _Pool(target)
        while loop.time() < stop:
            ok = await request(pool)  # not `done[0] += await ...`: that reads done[0] first
            done[0] += ok
        pool.close()

    start = loop.time()
    await asyncio.gather(*(client() for _ in range(connections)))
    return done[0], loop.time() - start


@contextlib.contextmanager
def _no_gc() -> Iterator[None]:
    """The generator's own garbage collections would show up as server latency: none."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def constant_rate(target: Target, rate: float, seconds: float, cap: int = 64) -> Recording:
    """Send at *rate* per second for *seconds* (at most *cap* in flight); the latencies."""
    with _no_gc():
        return asyncio.run(_constant(target, rate, seconds, cap))


def closed_loop(target: Target, connections: int, seconds: float) -> float:
    """Completed requests per second with *connections* requests always in flight."""
    with _no_gc():
        count, elapsed = asyncio.run(_closed(target, connections, seconds))
    return count / elapsed
