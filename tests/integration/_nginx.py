"""Run ``example/deploy/nginx.conf`` for real: a private nginx on 127.0.0.1 for one test run.

The config is the shipped one with two addresses replaced (``listen`` and the upstream
``server``); its snippets are copied next to it, so its relative includes resolve as shipped.
Everything nginx writes (pid, error log, access log, temp files) stays in the run's directory.
nginx takes its listening socket from this process through the ``NGINX`` environment variable
(the mechanism of nginx's own binary upgrade), so no other process can take the port between
choosing it and listening on it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import requests

from example.runner import REPO_DIR, listening_socket

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

DEPLOY_DIR = REPO_DIR / "example" / "deploy"
NGINX_CONFIG = DEPLOY_DIR / "nginx.conf"
SNIPPETS = ("otel_context_http.conf", "otel_context_proxy.conf")
#: The addresses in the shipped nginx.conf that a test run replaces, each present once.
SHIPPED_LISTEN = "listen 127.0.0.1:8080;"
SHIPPED_UPSTREAM = "server 127.0.0.1:8000;"


def nginx_binary() -> str | None:
    """``nginx`` on PATH, or in Debian's /usr/sbin (not on a non-root user's PATH)."""
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")


def write_config(directory: Path, *, listen_port: int, upstream: str) -> Path:
    """Copy the shipped config and snippets into *directory* with the two addresses replaced.

    Raises:
        ValueError: the shipped config no longer has exactly one of each address.
    """
    text = NGINX_CONFIG.read_text(encoding="utf-8")
    for shipped in (SHIPPED_LISTEN, SHIPPED_UPSTREAM):
        if text.count(shipped) != 1:
            msg = f"{NGINX_CONFIG} should contain {shipped!r} exactly once"
            raise ValueError(msg)
    text = text.replace(SHIPPED_LISTEN, f"listen 127.0.0.1:{listen_port};")
    text = text.replace(SHIPPED_UPSTREAM, f"server {upstream};")
    for subdirectory in ("logs", "temp"):  # nginx creates only the last part of a temp path
        (directory / subdirectory).mkdir(parents=True, exist_ok=True)
    for name in SNIPPETS:
        shutil.copyfile(DEPLOY_DIR / name, directory / name)
    config = directory / "nginx.conf"
    config.write_text(text, encoding="utf-8")
    return config


def nginx_command(binary: str, config: Path, *extra: str) -> list[str]:
    """nginx with *config*, its prefix (logs/, temp/), pid and error log in config's directory."""
    directory = config.parent
    return [
        binary,
        "-p",
        f"{directory}/",
        "-c",
        str(config),
        "-e",
        str(directory / "error.log"),
        "-g",
        f"pid {directory / 'nginx.pid'};",
        *extra,
    ]


@dataclass(frozen=True)
class Nginx:
    """A running nginx: its address and where it logs."""

    process: subprocess.Popen[bytes]
    base_url: str
    directory: Path

    def access_log(self) -> str:
        return (self.directory / "logs" / "access.log").read_text(errors="replace")

    def error_log(self) -> str:
        path = self.directory / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""


@contextlib.contextmanager
def running_nginx(binary: str, directory: Path, upstream: str) -> Iterator[Nginx]:
    """Run nginx (master + 1 worker, in the foreground) proxying to *upstream* for the block.

    Ready once ``/healthz`` answers 200 through it; stopped with SIGQUIT (graceful) after.
    """
    with listening_socket() as sock:
        port = sock.getsockname()[1]
        config = write_config(directory, listen_port=port, upstream=upstream)
        command = nginx_command(binary, config, "-g", "daemon off; master_process on;")
        with (directory / "nginx.stdout").open("ab") as output:
            process = subprocess.Popen(
                command,
                env={**os.environ, "NGINX": f"{sock.fileno()};"},
                pass_fds=(sock.fileno(),),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output,
                start_new_session=True,
            )
    nginx = Nginx(process, f"http://127.0.0.1:{port}", directory)
    try:
        _wait_until_ready(nginx, timeout=15)
        yield nginx
    finally:
        _stop(process)


def _wait_until_ready(nginx: Nginx, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if nginx.process.poll() is not None:
            msg = f"nginx exited with {nginx.process.returncode}:\n{nginx.error_log()}"
            raise RuntimeError(msg)
        with contextlib.suppress(requests.RequestException):
            if requests.get(nginx.base_url + "/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    msg = f"nginx not ready after {timeout} s:\n{nginx.error_log()}"
    raise TimeoutError(msg)


def _stop(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGQUIT)  # graceful: finish open requests, then exit
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout)
            return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
