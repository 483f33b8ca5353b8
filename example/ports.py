"""Free ports of 127.0.0.1 for servers that cannot take a listening socket from us.

A Python server should get its socket (:func:`example.runner.listening_socket`, ``fd://``).
A Go program or ``redis-server`` binds its own ports, so we must name free ones. Binding
port 0 and closing the socket, one port at a time, can hand two listeners the same port (the
kernel may give the released port out again on the next call), and any other process may
take a port between our ``close()`` and the server's ``bind()``. Hence:

- :func:`reserved_ports` picks every port a set of listeners needs while all their sockets
  stay open, so they differ, and keeps them bound (not listening, ``SO_REUSEADDR``) for the
  block: no ``bind(("127.0.0.1", 0))`` and no outgoing connection on this machine is given
  one of them meanwhile, while a server that sets ``SO_REUSEADDR`` (every Go listener,
  ``redis-server``, asyncio) listens on them. A program stopped and started again within the
  block finds its ports still free.
- :func:`unused_ports` does the picking alone and releases all the sockets together, for a
  server that does not set ``SO_REUSEADDR``;
- :func:`start_retrying` starts again, on new ports, a server that failed with "address
  already in use" anyway (a process that asked for that port by number).
"""

from __future__ import annotations

import contextlib
import socket
from typing import TYPE_CHECKING, Final, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

LOOPBACK: Final = "127.0.0.1"
#: How many times :func:`start_retrying` starts a server whose port was taken.
START_ATTEMPTS: Final = 5
_T = TypeVar("_T")


class AddressInUseError(RuntimeError):
    """A server could not listen on a port we picked for it: another process has it."""

    def __init__(self, port: int | None, output: str = "") -> None:
        where = f"127.0.0.1:{port}" if port is not None else "one of its ports"
        super().__init__(f"address already in use: {where}\n{output}".rstrip())
        self.port = port


def says_address_in_use(output: str) -> bool:
    """Whether a server's output reports a failed bind (Go, redis-server, Python wording)."""
    lowered = output.lower()
    return "address already in use" in lowered or "errno 98" in lowered


def _bound_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOOPBACK, 0))
    return sock


@contextlib.contextmanager
def reserved_ports(count: int) -> Iterator[tuple[int, ...]]:
    """*count* distinct free ports, reserved for the block (see the module's docstring).

    The server that gets them must set ``SO_REUSEADDR`` before its ``bind()``.
    """
    with contextlib.ExitStack() as sockets:
        ports = tuple(
            int(sockets.enter_context(_bound_socket()).getsockname()[1]) for _ in range(count)
        )
        yield ports


def unused_ports(count: int) -> tuple[int, ...]:
    """*count* distinct ports nothing was bound to: picked together, released together."""
    with reserved_ports(count) as ports:
        return ports


def start_retrying(start: Callable[[], _T], attempts: int = START_ATTEMPTS) -> _T:
    """``start()``, called again (it picks new ports) while it raises :class:`AddressInUseError`.

    Raises:
        AddressInUseError: the last attempt's, after *attempts* of them.
    """
    for _ in range(attempts - 1):
        try:
            return start()
        except AddressInUseError:
            continue
    return start()
