"""The example's other processes: the pricing service and a Celery worker; the demo's stack.

Built on :mod:`example.runner` like the web service: each process writes its JSON log lines
and spans into its own :class:`~example.runner.ServiceFiles` directory, runs in a process
group of its own and is stopped gracefully (SIGTERM), so its spans are flushed. The Celery
broker is :mod:`example.broker`'s.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from example.broker import Broker, BrokerUnavailableError, demo_broker, forget_queue
from example.runner import (
    REPO_DIR,
    Service,
    ServiceFiles,
    read_json_lines,
    service_env,
    start_gunicorn,
    stop_process,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

#: ``service.name`` of each process, on its spans and on each of its log lines.
WEB_SERVICE: Final = "otel-context-example"
PRICING_SERVICE: Final = "otel-context-pricing"
WORKER_SERVICE: Final = "otel-context-worker"
#: The event the worker logs once it consumes (``example.tasks``).
WORKER_READY_EVENT: Final = "worker.ready"

__all__ = [
    "PRICING_SERVICE",
    "WEB_SERVICE",
    "WORKER_SERVICE",
    "BrokerUnavailableError",
    "Stack",
    "StackFiles",
    "Worker",
    "running_stack",
    "start_pricing",
    "start_worker",
]


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
    broker: Broker

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

    The broker is :func:`example.broker.demo_broker`'s: Redis when there is one, else a folder
    below ``files.directory``.

    The web service's database must be prepared (:func:`example.runner.prepare_database`).
    Whatever happens, every process started is stopped gracefully, web first, so that no
    request is in flight when pricing or the worker goes away.

    Raises:
        BrokerUnavailableError: see :func:`example.broker.demo_broker`.
    """
    with contextlib.ExitStack() as stack:
        broker = stack.enter_context(demo_broker(files.directory))
        queue = f"otel-context-demo-{uuid.uuid4().hex[:12]}"  # never shared with another run
        stack.callback(forget_queue, broker.url, queue)
        worker = start_worker(files.worker, broker.url, queue)
        stack.callback(worker.stop)
        pricing = start_pricing(files.pricing)
        stack.callback(pricing.stop)
        env = {
            "OTEL_SERVICE_NAME": WEB_SERVICE,
            "EXAMPLE_PRICING_URL": pricing.base_url,
            "EXAMPLE_BROKER_URL": broker.url,
            "EXAMPLE_TASK_QUEUE": queue,
        }
        web = start_gunicorn(files.web, workers=web_workers, threads=4, env=env)
        stack.callback(web.stop)
        worker.wait_until_ready()
        yield Stack(web, pricing, worker, broker)
