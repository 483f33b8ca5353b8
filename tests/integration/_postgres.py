"""A throw-away PostgreSQL server for integration tests: ``initdb`` in a temporary directory.

The server listens on a Unix socket in its own directory only (no TCP port at all), trusts
local connections and is stopped and deleted afterwards. Server binaries are found on
``PATH`` or under ``/usr/lib/postgresql/<version>/bin`` (Debian's ``postgresql`` package).
``initdb`` refuses to run as root, so as root the cluster belongs to the ``postgres`` user
(``runuser``). Without binaries the test is skipped, except under ``CI=true``, where it fails.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

START_TIMEOUT = 30
DATABASE = "otel_context_tests"
SUPERUSER = "postgres"


@dataclass(frozen=True)
class Postgres:
    """Where a running server answers: its socket directory (libpq's ``host``) and database."""

    host: str
    port: str
    name: str = DATABASE
    user: str = SUPERUSER

    def env(self) -> dict[str, str]:
        """The variables ``tests.djtasks_settings`` reads."""
        return {
            "OTEL_CONTEXT_TEST_PG_HOST": self.host,
            "OTEL_CONTEXT_TEST_PG_PORT": self.port,
            "OTEL_CONTEXT_TEST_PG_NAME": self.name,
            "OTEL_CONTEXT_TEST_PG_USER": self.user,
        }


def unavailable(reason: str) -> None:
    """Skip the test for *reason*, or fail it under ``CI=true``."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: the PostgreSQL integration test must run)")
    pytest.skip(reason)


def server_binaries() -> Path | None:
    """The directory holding ``initdb``, ``pg_ctl`` and ``createdb``; the newest version."""
    found = shutil.which("pg_ctl")
    candidates = [Path(found).resolve().parent] if found else []  # often a symlink
    candidates += sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda path: int(path.parts[-2]) if path.parts[-2].isdigit() else 0,
        reverse=True,
    )
    for directory in candidates:
        if all((directory / name).is_file() for name in ("initdb", "pg_ctl", "createdb")):
            return directory
    return None


def _run(command: list[str], *, as_user: str | None) -> None:
    if as_user is not None:
        command = ["runuser", "-u", as_user, "--", *command]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    if result.returncode != 0:
        pytest.fail(f"{command[0]} failed: {result.stdout[-2000:]}{result.stderr[-2000:]}")


@contextlib.contextmanager
def postgres_server() -> Iterator[Postgres]:
    """Start a private PostgreSQL cluster with one database; stop and delete it after."""
    binaries = server_binaries()
    if binaries is None:
        unavailable("no PostgreSQL server binaries (pg_ctl) on PATH or in /usr/lib/postgresql")
    assert binaries is not None
    as_user = SUPERUSER if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="otel-context-pg-"))  # /tmp: reachable by postgres
    data, socket_dir = root / "data", root
    if as_user is not None:
        entry = pwd.getpwnam(as_user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    port = "5432"  # only names the socket file: the server listens on no TCP port
    options = f"-c listen_addresses='' -k {socket_dir} -p {port} -c fsync=off"
    pg_ctl = [str(binaries / "pg_ctl"), "-D", str(data)]
    try:
        initdb = [str(binaries / "initdb"), "-D", str(data), "-U", SUPERUSER, "-N"]
        _run([*initdb, "-A", "trust", "-E", "UTF8"], as_user=as_user)
        _run(
            [*pg_ctl, "-o", options, "-l", str(root / "server.log"), "-w", "-t", "30", "start"],
            as_user=as_user,
        )
        try:
            createdb = [str(binaries / "createdb"), "-h", str(socket_dir), "-p", port]
            _run([*createdb, "-U", SUPERUSER, DATABASE], as_user=as_user)
            yield Postgres(host=str(socket_dir), port=port)
        finally:
            _run([*pg_ctl, "-m", "fast", "-w", "stop"], as_user=as_user)
    finally:
        shutil.rmtree(root, ignore_errors=True)
