"""``example.ports``: free ports for servers that bind their own (Go programs, redis-server).

The failure these guard against (issue 21): ``Ports.free()`` picked nine ports one at a time,
each bound to port 0 and released before the next, and gave the collector's health check and
its OTLP receiver the same port: ``bind: address already in use``.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import pytest

from example.backend import Ports, Program
from example.ports import (
    AddressInUseError,
    reserved_ports,
    says_address_in_use,
    start_retrying,
    unused_ports,
)

if TYPE_CHECKING:
    from pathlib import Path

#: Calls per check. One call of nine ports picked one by one repeats a port about once in
#: 400 (the kernel's ~14k ports for bind() to 0, birthday odds): 2,000 calls see it.
CALLS = 2000
#: A process picking ports the usual way (bind to 0, read, close), as fast as it can.
OTHER_PICKER = """
import socket, sys
ports = set()
for _ in range(int(sys.argv[1])):
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, int(sys.argv[2]))
        sock.bind(("127.0.0.1", 0))
        ports.add(sock.getsockname()[1])
print(" ".join(map(str, sorted(ports))))
"""


def _other_picker(count: int, *, reuse: bool) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", OTHER_PICKER, str(count), str(int(reuse))],
        stdout=subprocess.PIPE,
        text=True,
    )


def _raw_picks(count: int) -> set[int]:
    """What a thread picking the usual way gets."""
    ports = set()
    for _ in range(count):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            ports.add(int(sock.getsockname()[1]))
    return ports


class TestDistinct:
    def test_no_two_ports_of_one_call_are_equal(self) -> None:
        """2,000 calls of Ports.free() and of unused_ports(9): nine different ports each."""
        for _ in range(CALLS):
            ports = Ports.free()
            assert len(set(vars(ports).values())) == 9, ports
            assert len(set(unused_ports(9))) == 9

    def test_still_distinct_while_other_pickers_run(self) -> None:
        """Four threads picking at once, and other processes picking: every call distinct."""
        others = [_other_picker(10_000, reuse=reuse) for reuse in (False, True)]

        def calls(_: int) -> list[tuple[int, ...]]:
            return [unused_ports(9) for _ in range(CALLS // 4)]

        with ThreadPoolExecutor(4) as pool:
            results = [ports for batch in pool.map(calls, range(4)) for ports in batch]
        for other in others:
            other.communicate(timeout=60)
        assert len(results) == CALLS
        assert all(len(set(ports)) == 9 for ports in results)


class TestReserved:
    def test_no_other_picker_gets_a_reserved_port(self) -> None:
        """While reserved, bind() to port 0 never returns one, in this process or another."""
        with reserved_ports(50) as held:
            others = [_other_picker(10_000, reuse=reuse) for reuse in (False, True)]
            with ThreadPoolExecutor(2) as pool:
                picked = set().union(*pool.map(_raw_picks, [10_000, 10_000]))
                picked.update(*pool.map(lambda _: unused_ports(9), range(500)))
            for other in others:
                out, _ = other.communicate(timeout=60)
                picked.update(int(port) for port in out.split())
        assert len(set(held)) == 50
        assert len(picked) > 1000  # the pickers really ran
        assert not set(held) & picked

    def test_a_server_that_reuses_addresses_listens_on_a_reserved_port(self) -> None:
        """SO_REUSEADDR (Go, redis-server, asyncio): listen and accept; without it: refused."""
        with reserved_ports(1) as (port,):
            with socket.socket() as plain, pytest.raises(OSError, match="in use"):
                plain.bind(("127.0.0.1", port))
            with socket.socket() as server:
                server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                server.bind(("127.0.0.1", port))
                server.listen(1)
                with socket.create_connection(("127.0.0.1", port), timeout=5) as client:
                    accepted, _ = server.accept()
                    accepted.close()
                    assert client.getpeername()[1] == port

    def test_released_at_the_end_of_the_block(self) -> None:
        """After the block anyone may bind the ports again."""
        with reserved_ports(3) as ports:
            pass
        for port in ports:
            with socket.socket() as sock:
                sock.bind(("127.0.0.1", port))


class TestRetry:
    def test_a_start_that_finds_its_port_taken_is_tried_again(self) -> None:
        """Two failures with 'address already in use', then a start that works."""
        attempts: list[int] = []

        def start() -> str:
            attempts.append(1)
            if len(attempts) < 3:
                raise AddressInUseError(1234, "listen tcp 127.0.0.1:1234: bind: in use")
            return "started"

        assert start_retrying(start) == "started"
        assert len(attempts) == 3

    def test_it_gives_up_after_its_attempts(self) -> None:
        """The last attempt's error, after *attempts* of them; other errors are not retried."""
        attempts: list[int] = []

        def taken() -> None:
            attempts.append(1)
            raise AddressInUseError(None)

        with pytest.raises(AddressInUseError, match="address already in use"):
            start_retrying(taken, attempts=4)
        assert len(attempts) == 4

        def broken() -> None:
            attempts.append(1)
            msg = "bad config"
            raise RuntimeError(msg)

        with pytest.raises(RuntimeError, match="bad config"):
            start_retrying(broken)
        assert len(attempts) == 5

    @pytest.mark.parametrize(
        "output",
        [
            "listen tcp 127.0.0.1:35347: bind: address already in use",  # Go (the issue's)
            # redis-server
            "Could not create server TCP listening socket 127.0.0.1:6379: Address already in use",
            "OSError: [Errno 98] error while attempting to bind on address",  # asyncio
        ],
    )
    def test_the_servers_wordings(self, output: str) -> None:
        """Go's, redis-server's and asyncio's words for a taken port are all recognised."""
        assert says_address_in_use(output)

    def test_a_program_that_cannot_listen_raises_address_in_use(self, tmp_path: Path) -> None:
        """Program.start (the collector's, Jaeger's) tells a taken port from other failures."""
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen(1)
            port = taken.getsockname()[1]
            listen = f"import socket; socket.socket().bind(('127.0.0.1', {port}))"
            program = Program(
                "listener",
                [sys.executable, "-c", listen],
                {},
                f"http://127.0.0.1:{port}/",
                tmp_path / "listener.log",
            )
            program.log_file.write_text("an earlier run: address already in use\n")
            with pytest.raises(AddressInUseError, match="Errno 98"):
                program.start(ready_timeout=10)
        crashing = Program(
            "crash",
            [sys.executable, "-c", "raise SystemExit(3)"],
            {},
            "http://127.0.0.1:9/",
            program.log_file,
        )
        with pytest.raises(RuntimeError, match="crash did not start") as error:
            crashing.start(ready_timeout=10)
        assert not isinstance(error.value, AddressInUseError)  # the earlier runs' output: ignored


def test_threads_see_their_own_reservations() -> None:
    """Reservations from many threads at once never overlap while they are all held."""
    barrier = threading.Barrier(4)

    def hold(_: int) -> tuple[int, ...]:
        with reserved_ports(9) as ports:
            barrier.wait(10)  # all four hold theirs at the same time
            return ports

    with ThreadPoolExecutor(4) as pool:
        everyone = [port for ports in pool.map(hold, range(4)) for port in ports]
    assert len(set(everyone)) == 36
