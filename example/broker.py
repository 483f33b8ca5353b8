"""The demo's Celery broker: Redis when there is one, else a folder (kombu's filesystem transport).

``make demo`` must run on a machine with nothing but ``python3``: no ``redis-server``, nothing
on 6379, no root. kombu, which Celery already depends on, ships a transport that keeps each
message as a JSON file in a folder: no server, no port, nothing more to install. Producers
(the web service's gunicorn workers) and the worker share the folder; the message file holds
the message's headers, so the OpenTelemetry ``traceparent`` and ``baggage`` travel in it as
they do in Redis. The demo keeps the consumed messages in ``processed/`` beside it, to look at.

Which broker :func:`demo_broker` yields:

- ``EXAMPLE_BROKER_URL`` when set: a Redis URL must answer, ``filesystem://localhost/<folder>``
  is the folder broker on that folder;
- else ``EXAMPLE_DEMO_BROKER``: ``redis`` (Redis at 127.0.0.1:6379, or a ``redis-server``
  started for the run; fail without), ``filesystem`` (the folder broker), or unset / ``auto``:
  Redis if one answers or can be started, else the folder broker.

:func:`celery_settings` is what ``example.tasks`` reads, in every process, to open the
folder broker named by its URL: :mod:`example.folder_transport`, kombu's transport with each
message written whole before the worker can see it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urlsplit

from example.ports import AddressInUseError, reserved_ports, says_address_in_use, start_retrying
from example.runner import stop_process

if TYPE_CHECKING:
    from collections.abc import Iterator

#: Where the example's Celery app looks for Redis without ``EXAMPLE_BROKER_URL``.
DEFAULT_BROKER_URL: Final = "redis://127.0.0.1:6379/0"
FILESYSTEM_SCHEME: Final = "filesystem"
#: ``EXAMPLE_DEMO_BROKER`` values (empty means ``auto``).
CHOICES: Final = ("auto", "redis", "filesystem")
#: Where kombu's Redis transport keeps a queue's bindings (``<prefix>.<queue>``).
_KOMBU_BINDINGS: Final = ("_kombu.binding", "_kombu.binding_permanent")


class BrokerUnavailableError(RuntimeError):
    """The broker asked for does not answer and cannot be started, or the choice is unknown."""


@dataclass(frozen=True)
class Broker:
    """The broker of one demo run: its URL, for ``EXAMPLE_BROKER_URL``, and how it was found."""

    url: str
    description: str

    @property
    def folder(self) -> Path | None:
        """The folder of a filesystem broker, else ``None``."""
        return folder_of(self.url)


# ---------------------------------------------------------------- the folder broker
def filesystem_url(folder: Path) -> str:
    """The broker URL of the folder broker kept in *folder*.

    ``localhost`` is only there because kombu logs a warning for a URL without a host.
    """
    return f"{FILESYSTEM_SCHEME}://localhost{folder.resolve().as_posix()}"


def folder_of(url: str) -> Path | None:
    """The folder a ``filesystem://localhost/<folder>`` URL names, else ``None``."""
    parts = urlsplit(url)
    if parts.scheme != FILESYSTEM_SCHEME:
        return None
    return Path(parts.path or ".").resolve()


def celery_settings(url: str) -> dict[str, Any]:
    """The Celery settings a broker *url* needs: for a folder, its transport and options."""
    if folder_of(url) is None:
        return {}
    return {
        "broker_transport": "example.folder_transport:Transport",
        "broker_transport_options": transport_options(url),
    }


def transport_options(url: str) -> dict[str, Any]:
    """kombu's transport options for *url*: the folders of a folder broker, else none.

    Messages are written in ``<folder>/incoming``, then moved to ``<folder>/queue``, where the
    worker reads them; the exchange tables (the worker's remote-control fan-out) live in
    ``<folder>/control``; consumed messages are moved to ``<folder>/processed``. The worker
    looks for new messages every 0.1 s (kombu: 1 s).
    """
    folder = folder_of(url)
    if folder is None:
        return {}
    queue = folder / "queue"
    for sub in (queue, folder / "incoming", folder / "control", folder / "processed"):
        sub.mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(queue),
        "data_folder_out": str(queue),
        "control_folder": str(folder / "control"),
        "store_processed": True,
        "processed_folder": str(folder / "processed"),
        "polling_interval": 0.1,
    }


def fresh_folder_broker(folder: Path) -> Broker:
    """An empty folder broker in *folder* (what an earlier run left there is removed)."""
    shutil.rmtree(folder, ignore_errors=True)
    url = filesystem_url(folder)
    transport_options(url)  # creates the folders
    return Broker(url, f"a folder, {folder} (kombu's filesystem transport)")


# ---------------------------------------------------------------- Redis
def broker_answers(url: str) -> bool:
    """Whether a Redis server answers PING at *url* within a second."""
    import redis  # noqa: PLC0415 - the [celery] extra

    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def forget_queue(url: str, queue: str) -> None:
    """Delete what Celery left in Redis for a per-run *queue* (its list and its bindings)."""
    if folder_of(url) is not None:
        return  # the folder broker is emptied at the start of the next run
    import redis  # noqa: PLC0415

    with contextlib.suppress(redis.RedisError):
        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        with contextlib.closing(client):
            client.delete(queue, *(f"{prefix}.{queue}" for prefix in _KOMBU_BINDINGS))


@contextlib.contextmanager
def own_redis(binary: str, directory: Path, start_timeout: float) -> Iterator[str]:
    """A throw-away ``redis-server`` (no persistence) on a free port, for the block.

    redis-server cannot take a listening socket from us: its port is reserved
    (:func:`example.ports.reserved_ports`) while it runs, and if it still finds the port
    taken, it is started again on another.
    """
    directory.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as reservations:
        process, url = start_retrying(
            lambda: _start_redis(binary, directory, reservations, start_timeout)
        )
        try:
            yield url
        finally:
            stop_process(process, 5)


def _start_redis(
    binary: str, directory: Path, reservations: contextlib.ExitStack, start_timeout: float
) -> tuple[subprocess.Popen[bytes], str]:
    (port,) = reservations.enter_context(reserved_ports(1))
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--daemonize", "no", "--dir", str(directory)]
    log = directory / "redis.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"redis://127.0.0.1:{port}/0"
    deadline = time.monotonic() + start_timeout
    while not broker_answers(url):
        if process.poll() is not None or time.monotonic() > deadline:
            stop_process(process, 5)
            output_text = log.read_text(errors="replace")
            if says_address_in_use(output_text):
                raise AddressInUseError(port, output_text[-2000:])
            msg = f"redis-server did not start: see {log}"
            raise BrokerUnavailableError(msg)
        time.sleep(0.05)
    return process, url


# ---------------------------------------------------------------- the demo's choice
@contextlib.contextmanager
def demo_broker(directory: Path, start_timeout: float = 10) -> Iterator[Broker]:
    """The broker for one demo run (see the module's docstring), for the block.

    Args:
        directory: The run's folder: the folder broker lives in ``broker/`` below it, a
            ``redis-server`` started for the run in ``redis/``.
        start_timeout: Seconds to wait for a ``redis-server`` started for the run.

    Raises:
        BrokerUnavailableError: the configured broker does not answer, Redis was asked for
            and there is none, or ``EXAMPLE_DEMO_BROKER`` is not one of :data:`CHOICES`.
    """
    configured = os.environ.get("EXAMPLE_BROKER_URL", "").strip()
    choice = os.environ.get("EXAMPLE_DEMO_BROKER", "").strip().lower() or "auto"
    if not configured and choice not in CHOICES:
        msg = f"EXAMPLE_DEMO_BROKER must be one of {', '.join(CHOICES)} (or unset), not {choice!r}"
        raise BrokerUnavailableError(msg)
    with contextlib.ExitStack() as stack:
        if configured:
            yield _configured(configured)
        elif choice == "filesystem":
            yield fresh_folder_broker(directory / "broker")
        else:
            yield _redis_or_folder(choice, directory, start_timeout, stack)


def _redis_or_folder(
    choice: str, directory: Path, start_timeout: float, stack: contextlib.ExitStack
) -> Broker:
    """Redis at the default URL, or a redis-server started for the run (stopped with *stack*).

    Without either, the folder broker, unless *choice* is ``redis``: then an error.
    """
    if broker_answers(DEFAULT_BROKER_URL):
        return Broker(DEFAULT_BROKER_URL, f"Redis at {DEFAULT_BROKER_URL}")
    reason = f"no Redis at {DEFAULT_BROKER_URL}, no redis-server"
    binary = shutil.which("redis-server")
    if binary is not None:
        try:
            url = stack.enter_context(own_redis(binary, directory / "redis", start_timeout))
        except (BrokerUnavailableError, AddressInUseError) as exc:
            reason = f"no Redis at {DEFAULT_BROKER_URL}, and {exc}"
        else:
            return Broker(url, f"Redis, a redis-server started for the run at {url}")
    if choice == "redis":
        msg = f"EXAMPLE_DEMO_BROKER=redis: {reason}"
        raise BrokerUnavailableError(msg)
    folder = fresh_folder_broker(directory / "broker")
    return Broker(folder.url, f"{folder.description}: {reason}")


def _configured(url: str) -> Broker:
    """The broker ``EXAMPLE_BROKER_URL`` names; a Redis one must answer."""
    if folder_of(url) is not None:
        transport_options(url)  # creates the folders
        return Broker(url, f"EXAMPLE_BROKER_URL, a folder: {folder_of(url)}")
    if not broker_answers(url):
        msg = f"no Redis answers at {url} (EXAMPLE_BROKER_URL)"
        raise BrokerUnavailableError(msg)
    return Broker(url, f"EXAMPLE_BROKER_URL, Redis at {url}")
