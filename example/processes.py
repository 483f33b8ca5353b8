"""The example's other processes: the pricing service, a Celery worker and a Redis broker.

Built on :mod:`example.runner` like the web service: each process writes its JSON log lines
and spans into its own :class:`~example.runner.ServiceFiles` directory, runs in a process
group of its own and is stopped gracefully (SIGTERM), so its spans are flushed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from example.runner import (
    REPO_DIR,
    Service,
    ServiceFiles,
    read_json_lines,
    service_env,
    start_gunicorn,
    stop_process,
)
from example.tasks import DEFAULT_BROKER_URL

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

#: ``service.name`` of each process, on its spans and on each of its log lines.
WEB_SERVICE: Final = "otel-context-example"
PRICING_SERVICE: Final = "otel-context-pricing"
WORKER_SERVICE: Final = "otel-context-worker"
#: Where kombu's Redis transport keeps a queue's bindings (``<prefix>.<queue>``).
_KOMBU_BINDINGS: Final = ("_kombu.binding", "_kombu.binding_permanent")
#: The event the worker logs once it consumes (``example.tasks``).
WORKER_READY_EVENT: Final = "worker.ready"


class BrokerUnavailableError(RuntimeError):
    """No Redis answers and none can be started."""


# ---------------------------------------------------------------- pricing
def start_pricing(
    files: ServiceFiles, *, trust_caller: bool = True, ready_timeout: float = 30
) -> Service:
    """Start the pricing service (gunicorn, one worker) on a free port; wait until it is ready.

    Args:
        files: Where it writes its log lines, spans and stderr (it has no database).
        trust_caller: Accept the caller's ids from 127.0.0.1 (``EXAMPLE_PRICING_TRUST_CALLER``).
        ready_timeout: Seconds to wait for ``/healthz``.
    """
    env = {
        "DJANGO_SETTINGS_MODULE": "example.pricing_settings",
        "OTEL_SERVICE_NAME": PRICING_SERVICE,
        "EXAMPLE_PRICING_TRUST_CALLER": "true" if trust_caller else "false",
    }
    return start_gunicorn(files, workers=1, threads=2, env=env, ready_timeout=ready_timeout)


# ---------------------------------------------------------------- Celery worker
@dataclass
class Worker:
    """A running Celery worker process of ``example.tasks``."""

    process: subprocess.Popen[bytes]
    files: ServiceFiles

    def wait_until_ready(self, timeout: float = 30) -> None:
        """Wait for the worker's ready event; raise if it dies or time runs out."""
        deadline = time.monotonic() + timeout
        while not any(
            line.get("event") == WORKER_READY_EVENT for line in read_json_lines(self.files.log_file)
        ):
            if self.process.poll() is not None:
                msg = f"Celery worker exited with {self.process.returncode}:\n{self.stderr()}"
                raise RuntimeError(msg)
            if time.monotonic() > deadline:
                msg = f"Celery worker not ready after {timeout} s:\n{self.stderr()}"
                raise TimeoutError(msg)
            time.sleep(0.1)

    def stop(self, timeout: float = 20) -> int:
        """Warm shutdown (SIGTERM: the running task finishes, spans are flushed)."""
        return stop_process(self.process, timeout)

    def stderr(self) -> str:
        return self.files.stderr_file.read_text(errors="replace")[-5000:]


def start_worker(files: ServiceFiles, broker_url: str, queue: str) -> Worker:
    """Start ``celery -A example.tasks worker -P solo`` consuming *queue*; does not wait.

    Call :meth:`Worker.wait_until_ready` before relying on it (start the other processes in
    between: a worker takes a few seconds to start).
    """
    command = [sys.executable, "-m", "celery", "-A", "example.tasks", "worker", "-P", "solo"]
    command += ["-l", "INFO", "-n", f"{queue}@%h"]
    command += ["--without-heartbeat", "--without-gossip", "--without-mingle"]
    env = service_env(
        files,
        {
            "EXAMPLE_BROKER_URL": broker_url,
            "EXAMPLE_TASK_QUEUE": queue,
            "OTEL_SERVICE_NAME": WORKER_SERVICE,
        },
    )
    with files.stderr_file.open("ab") as output:
        process = subprocess.Popen(
            command,
            cwd=REPO_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            start_new_session=True,  # its own process group, like the servers
        )
    return Worker(process, files)


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


@contextlib.contextmanager
def redis_broker(directory: Path, start_timeout: float = 10) -> Iterator[str]:
    """Yield a Redis URL that answers: ``EXAMPLE_BROKER_URL``, the default one, or our own.

    Without ``EXAMPLE_BROKER_URL`` and with nothing answering at :data:`DEFAULT_BROKER_URL`,
    a throw-away ``redis-server`` (no persistence) is started on a free port for the block.

    Raises:
        BrokerUnavailableError: the configured broker does not answer, or there is no broker
            and no ``redis-server`` binary to start one.
    """
    configured = os.environ.get("EXAMPLE_BROKER_URL", "").strip()
    url = configured or DEFAULT_BROKER_URL
    if broker_answers(url):
        yield url
        return
    binary = shutil.which("redis-server")
    if configured or binary is None:
        what = "EXAMPLE_BROKER_URL" if configured else "no redis-server binary to start one"
        msg = f"no Redis answers at {url} ({what}); install redis-server or set a broker URL"
        raise BrokerUnavailableError(msg)
    with own_redis(binary, directory, start_timeout) as started:
        yield started


@contextlib.contextmanager
def own_redis(binary: str, directory: Path, start_timeout: float) -> Iterator[str]:
    """A throw-away ``redis-server`` (no persistence) on a free port, for the block."""
    directory.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--daemonize", "no", "--dir", str(directory)]
    with (directory / "redis.log").open("wb") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + start_timeout
        while not broker_answers(url):
            if process.poll() is not None or time.monotonic() > deadline:
                msg = f"redis-server did not start: see {directory / 'redis.log'}"
                raise BrokerUnavailableError(msg)
            time.sleep(0.05)
        yield url
    finally:
        stop_process(process, 5)


def forget_queue(url: str, queue: str) -> None:
    """Delete what Celery left in Redis for a per-run *queue* (its list and its bindings)."""
    import redis  # noqa: PLC0415

    with contextlib.suppress(redis.RedisError):
        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        with contextlib.closing(client):
            client.delete(queue, *(f"{prefix}.{queue}" for prefix in _KOMBU_BINDINGS))


def _free_port() -> int:
    # redis-server cannot take a listening socket: there is a short window to lose the port.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# ---------------------------------------------------------------- all three, for the demo
@dataclass(frozen=True)
class StackFiles:
    """Where each process of a run writes: the web service in *directory*, the others below."""

    directory: Path
    web: ServiceFiles
    pricing: ServiceFiles
    worker: ServiceFiles

    @classmethod
    def in_dir(cls, directory: Path) -> StackFiles:
        return cls(
            directory=directory,
            web=ServiceFiles.in_dir(directory),
            pricing=ServiceFiles.in_dir(directory / "pricing"),
            worker=ServiceFiles.in_dir(directory / "worker"),
        )

    def by_service(self) -> dict[str, ServiceFiles]:
        """Each process's files by its ``service.name``."""
        return {WEB_SERVICE: self.web, PRICING_SERVICE: self.pricing, WORKER_SERVICE: self.worker}

    def truncate_outputs(self) -> None:
        for files in self.by_service().values():
            files.truncate_outputs()


@dataclass(frozen=True)
class Stack:
    """The running processes: the web service calls pricing and enqueues tasks for the worker."""

    web: Service
    pricing: Service
    worker: Worker

    def exit_codes(self) -> dict[str, int | None]:
        """Each process's exit status by service name (``None`` while it runs)."""
        running: dict[str, Service | Worker] = {
            WEB_SERVICE: self.web,
            PRICING_SERVICE: self.pricing,
            WORKER_SERVICE: self.worker,
        }
        return {name: p.process.returncode for name, p in running.items()}


@contextlib.contextmanager
def running_stack(files: StackFiles, *, web_workers: int = 2) -> Iterator[Stack]:
    """Run a broker, the worker, pricing and the web service for the block; stop them all.

    The web service's database must be prepared (:func:`example.runner.prepare_database`).
    Whatever happens, every process started is stopped gracefully, web first, so that no
    request is in flight when pricing or the worker goes away.

    Raises:
        BrokerUnavailableError: see :func:`redis_broker`.
    """
    with contextlib.ExitStack() as stack:
        broker = stack.enter_context(redis_broker(files.directory / "redis"))
        queue = f"otel-context-demo-{uuid.uuid4().hex[:12]}"  # never shared with another run
        stack.callback(forget_queue, broker, queue)
        worker = start_worker(files.worker, broker, queue)
        stack.callback(worker.stop)
        pricing = start_pricing(files.pricing)
        stack.callback(pricing.stop)
        env = {
            "OTEL_SERVICE_NAME": WEB_SERVICE,
            "EXAMPLE_PRICING_URL": pricing.base_url,
            "EXAMPLE_BROKER_URL": broker,
            "EXAMPLE_TASK_QUEUE": queue,
        }
        web = start_gunicorn(files.web, workers=web_workers, threads=4, env=env)
        stack.callback(web.stop)
        worker.wait_until_ready()
        yield Stack(web, pricing, worker)
