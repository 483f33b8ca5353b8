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
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from benchmarks._latency import schedule

if TYPE_CHECKING:
    from collections.abc import Iterator

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]

#: How long before a due time :func:`until` stops waiting on the event loop (seconds).
SPIN = 0.0015
#: A request not answered within this many seconds is an error (``"timeout"``).
TIMEOUT = 10.0
#: A keep-alive connection idle this long is not reused (seconds; gunicorn's default is 2).
IDLE = 1.0
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
    #: The server's ``Server-Timing: cpu;dur=`` of each answer that had one (seconds).
    server_cpu: list[float] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)  # scheduled send -> actually sent
    errors: Counter[str] = field(default_factory=Counter)  # refused, dropped, not 200
    connections: int = 0  # opened during the run
    seconds: float = 0.0  # first scheduled send -> last response


class _Pool:
    """Idle keep-alive connections to one target, most recently used first.

    A connection idle longer than :data:`IDLE` is closed rather than reused: gunicorn closes
    keep-alive connections after ``keepalive`` seconds (2 by default), and a request sent on
    one it has just closed fails.
    """

    def __init__(self, target: Target) -> None:
        self.target = target
        self.idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter, float]] = []
        self.opened = 0

    async def take(self, *, fresh: bool = False) -> tuple[Connection, bool]:
        """An idle connection (``reused=True``) or, if none or *fresh*, a new one."""
        now = time.monotonic()
        while self.idle and not fresh:
            reader, writer, since = self.idle.pop()
            if now - since < IDLE:
                return (reader, writer), True
            writer.close()
        reader, writer = await asyncio.open_connection(self.target.host, self.target.port)
        self.opened += 1
        return (reader, writer), False

    def give(self, connection: Connection) -> None:
        """Put *connection* back, idle from now."""
        self.idle.append((*connection, time.monotonic()))

    def close(self) -> None:
        """Close every idle connection."""
        for _, writer, _ in self.idle:
            writer.close()
        self.idle.clear()


@dataclass(frozen=True, slots=True)
class Answer:
    """One response: its status (``-1`` if the server will close) and its server CPU time."""

    status: int
    server_cpu: float | None = None  # seconds, from ``Server-Timing: cpu;dur=<ms>``


def server_cpu(value: str | None) -> float | None:
    """The ``cpu`` metric's duration (seconds) in a ``Server-Timing`` value, if any."""
    for metric in (value or "").split(","):
        name, _, params = metric.strip().partition(";")
        if name.strip() != "cpu":
            continue
        for param in params.split(";"):
            key, _, number = param.strip().partition("=")
            if key == "dur":
                try:
                    return float(number) / 1e3
                except ValueError:
                    return None
    return None


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, data: bytes
) -> Answer:
    """Send *data*, read one response."""
    writer.write(data)
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    fields = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
    await reader.readexactly(int(fields.get("content-length", "0")))
    cpu = server_cpu(fields.get("server-timing"))
    return Answer(-1 if fields.get("connection") == "close" else status, cpu)


async def request(pool: _Pool, cpu: list[float] | None = None) -> str | None:
    """One request on a pooled connection; ``None`` if it got 200, else what went wrong.

    The answer's server CPU time, if it has one, is appended to *cpu*.

    A reused connection that drops is retried once on a new one (the server may have closed
    it idle just as the request went out).
    """
    fresh = False
    while True:
        connection, reused = await pool.take(fresh=fresh)
        try:
            answer = await _exchange(*connection, pool.target.request)
        except DROPPED as error:
            connection[1].close()
            if reused:
                fresh = True
                continue
            return type(error).__name__
        except OSError as error:
            connection[1].close()
            return type(error).__name__
        if cpu is not None and answer.server_cpu is not None:
            cpu.append(answer.server_cpu)
        if answer.status == -1:
            connection[1].close()
            return None
        pool.give(connection)
        return None if answer.status == 200 else f"status {answer.status}"


async def guarded(pool: _Pool, cpu: list[float] | None = None) -> str | None:
    """:func:`request`, with a failed connect or no answer within :data:`TIMEOUT` an error."""
    try:
        async with asyncio.timeout(TIMEOUT):
            return await request(pool, cpu)
    except TimeoutError:
        return "timeout"
    except OSError as error:  # connecting failed
        return type(error).__name__


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
            error = await guarded(pool, recording.server_cpu)
            recording.latencies.append(loop.time() - due)
            if error is not None:
                recording.errors[error] += 1

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
            ok = await guarded(pool) is None  # not `done[0] += await ...`: reads done[0] first
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
