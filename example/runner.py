"""Run the example service as real server processes: used by ``example.demo`` and the tests.

Everything a run writes lives in one directory (:class:`ServiceFiles`): the SQLite database,
the JSON log lines, the JSON span lines and the server's own stderr. The server listens on a
socket this process binds to a free port and passes down (``fd://``), so there is no window in
which another process can take the port.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_DIR = Path(__file__).resolve().parent.parent
GUNICORN_CONFIG = REPO_DIR / "example" / "gunicorn.conf.py"
UWSGI_CONFIG = REPO_DIR / "example" / "uwsgi.ini"
_PREPARE_DB = """
import django
from django.core.management import call_command
from django.db import connections
django.setup()
call_command("migrate", verbosity=0)
call_command("seed_demo", users={users})
connections.close_all()  # checkpoints the WAL: the database file alone is complete
"""


@dataclass(frozen=True)
class ServiceFiles:
    """Where one run of the example service keeps its database and writes its output."""

    directory: Path
    db: Path
    log_file: Path
    span_file: Path
    stderr_file: Path

    @classmethod
    def in_dir(cls, directory: Path, db: Path | None = None) -> ServiceFiles:
        directory.mkdir(parents=True, exist_ok=True)
        return cls(
            directory=directory,
            db=db or directory / "example.sqlite3",
            log_file=directory / "log.jsonl",
            span_file=directory / "spans.jsonl",
            stderr_file=directory / "server.stderr",
        )

    def truncate_outputs(self) -> None:
        for path in (self.log_file, self.span_file, self.stderr_file):
            path.write_bytes(b"")


def service_env(files: ServiceFiles, extra: dict[str, str] | None = None) -> dict[str, str]:
    """This process's environment (OTEL_* passes through) plus the example's own variables."""
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="example.settings",
        EXAMPLE_DB=str(files.db),
        EXAMPLE_LOG_FILE=str(files.log_file),
        EXAMPLE_SPAN_FILE=str(files.span_file),
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_DIR), env.get("PYTHONPATH")])),
    )
    env.update(extra or {})
    return env


def prepare_database(files: ServiceFiles, load_users: int = 0, timeout: float = 120) -> None:
    """Migrate the database and seed the demo data (and *load_users* token users)."""
    subprocess.run(
        [sys.executable, "-c", _PREPARE_DB.format(users=int(load_users))],
        cwd=REPO_DIR,
        env=service_env(files, {"EXAMPLE_LOG_FILE": os.devnull}),
        check=True,
        timeout=timeout,
        capture_output=True,
    )


def listening_socket() -> socket.socket:
    """A TCP socket listening on a free port of 127.0.0.1, inheritable by a child process."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


@dataclass
class Service:
    """A running server process of the example service."""

    process: subprocess.Popen[bytes]
    base_url: str
    files: ServiceFiles

    def url(self, path: str) -> str:
        return self.base_url + path

    def stop(self, timeout: float = 20) -> int:
        """Stop gracefully (SIGTERM: workers finish and flush spans); SIGKILL after *timeout*."""
        return stop_process(self.process, timeout)

    def stderr(self) -> str:
        return self.files.stderr_file.read_text(errors="replace")


def start_server(
    command: list[str], files: ServiceFiles, env: dict[str, str] | None = None
) -> Service:
    """Start *command* with ``{fd}`` in it replaced by a listening socket's descriptor."""
    with listening_socket() as sock:
        fd = sock.fileno()
        port = sock.getsockname()[1]
        argv = [part.replace("{fd}", str(fd)) for part in command]
        env = service_env(files, {k: v.replace("{fd}", str(fd)) for k, v in (env or {}).items()})
        with files.stderr_file.open("ab") as stderr:
            process = subprocess.Popen(
                argv,
                cwd=REPO_DIR,
                env=env,
                pass_fds=(fd,),
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                start_new_session=True,  # its own process group: we can stop all its workers
            )
    return Service(process, f"http://127.0.0.1:{port}", files)


def start_gunicorn(  # noqa: PLR0913 - keyword-only server options
    files: ServiceFiles,
    *,
    workers: int = 2,
    threads: int = 4,
    env: dict[str, str] | None = None,
    ready_timeout: float = 30,
    app: str | None = None,
) -> Service:
    """Start gunicorn (gthread) on a free port with ``example/gunicorn.conf.py``; wait for it.

    *app* (``"module:variable"``) serves another WSGI app under the same settings.
    """
    command = [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONFIG)]
    if app is not None:
        command.append(app)
    server_env = {
        "EXAMPLE_BIND": "fd://{fd}",
        "EXAMPLE_WORKERS": str(workers),
        "EXAMPLE_THREADS": str(threads),
        **(env or {}),
    }
    return start_ready_server(command, files, server_env, ready_timeout=ready_timeout)


def start_uvicorn(
    files: ServiceFiles,
    *,
    env: dict[str, str] | None = None,
    ready_timeout: float = 30,
    graceful_timeout: float = 10,
) -> Service:
    """Start uvicorn (one process) on a free port with ``example.asgi``; wait for it.

    Lifespan is on: ``example.asgi`` flushes its spans on the lifespan shutdown. The access
    log is off (the app logs its requests). On SIGTERM uvicorn shuts down gracefully, then
    re-raises the signal: a graceful stop exits with ``-SIGTERM``.
    """
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "example.asgi:application",
        "--fd",
        "{fd}",
        "--lifespan",
        "on",
        "--no-access-log",
        "--timeout-graceful-shutdown",
        str(graceful_timeout),
        # A pooled connection the client picks up as the server's idle timer (5 s by default)
        # closes it fails the request with no response (httpx.ReadError): seen once in CI,
        # under load, in a test that sends 400 requests over 32 kept-alive connections.
        "--timeout-keep-alive",
        "60",
    ]
    return start_ready_server(command, files, env, ready_timeout=ready_timeout)


def start_ready_server(
    command: list[str],
    files: ServiceFiles,
    env: dict[str, str] | None = None,
    *,
    ready_timeout: float = 30.0,
) -> Service:
    """:func:`start_server`, then wait until ``/healthz`` answers; stop it if it never does."""
    service = start_server(command, files, env)
    try:
        wait_until_ready(service, ready_timeout)
    except BaseException:
        service.stop()
        raise
    return service


def wait_until_ready(service: Service, timeout: float) -> None:
    """Poll ``/healthz`` until it answers 200; raise if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if service.process.poll() is not None:
            msg = f"server exited with {service.process.returncode}:\n{service.stderr()}"
            raise RuntimeError(msg)
        try:
            with urllib.request.urlopen(service.url("/healthz"), timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    msg = f"server not ready after {timeout} s:\n{service.stderr()}"
    raise TimeoutError(msg)


def stop_process(process: subprocess.Popen[bytes], timeout: float) -> int:
    """SIGTERM *process*, wait up to *timeout*, then SIGKILL its whole process group."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # the group we started: master and workers
    return process.wait()


def read_json_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of *path* parsed as a JSON object; a torn or non-JSON line raises."""
    if not path.exists():
        return []
    records = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            msg = f"{path}:{number}: not a JSON line ({exc}): {line[:200]!r}"
            raise ValueError(msg) from exc
        records.append(record)
    return records


# ---------------------------------------------------------------- uWSGI
#: What uWSGI 2.0 logs when a worker has loaded the app (with lazy-apps, once per worker).
_UWSGI_APP_READY = re.compile(r"WSGI app \d+ \(mountpoint='[^']*'\) ready in .* pid: (\d+)")


def uwsgi_binary() -> str | None:
    """The ``uwsgi`` installed next to this Python (the venv's), else one on PATH."""
    beside = Path(sys.executable).with_name("uwsgi")
    return str(beside) if beside.is_file() else shutil.which("uwsgi")


def start_uwsgi(  # noqa: PLR0913 - start_gunicorn's options, plus lazy_apps
    files: ServiceFiles,
    *,
    workers: int = 2,
    threads: int = 4,
    lazy_apps: bool = True,
    env: dict[str, str] | None = None,
    ready_timeout: float = 30,
) -> Service:
    """Start uWSGI with ``example/uwsgi.ini`` on a free port; wait until every worker is ready.

    ``Service.stop()`` sends SIGTERM, which the ini makes uWSGI's graceful shutdown: workers
    finish their requests, flush their spans and exit.

    ``lazy_apps=False`` overrides the ini: the master loads the app once and forks the workers
    (``example/uwsgi_app.py`` then sets tracing up in a ``uwsgidecorators.postfork`` hook).

    Raises:
        FileNotFoundError: no ``uwsgi`` binary (``pip install uwsgi``).
    """
    binary = uwsgi_binary()
    if binary is None:
        msg = "no uwsgi binary next to this Python or on PATH (pip install uwsgi)"
        raise FileNotFoundError(msg)
    server_env = {
        "EXAMPLE_BIND": "fd://{fd}",
        "EXAMPLE_WORKERS": str(workers),
        "EXAMPLE_THREADS": str(threads),
        **(env or {}),
    }
    command = [binary, "--ini", str(UWSGI_CONFIG)]
    if not lazy_apps:
        command += ["--set", "lazy-apps=false"]
    service = start_server(command, files, server_env)
    try:
        deadline = time.monotonic() + ready_timeout
        wait_until_ready(service, ready_timeout)
        _wait_for_uwsgi_apps(service, workers if lazy_apps else 1, deadline)
    except BaseException:
        service.stop()
        raise
    return service


def _wait_for_uwsgi_apps(service: Service, count: int, deadline: float) -> None:
    """Wait until *count* processes have loaded the app (with lazy-apps, each worker does)."""
    while time.monotonic() < deadline:
        if len(set(_UWSGI_APP_READY.findall(service.stderr()))) >= count:
            return
        time.sleep(0.1)
    msg = f"fewer than {count} uwsgi processes loaded the app:\n{service.stderr()}"
    raise TimeoutError(msg)
