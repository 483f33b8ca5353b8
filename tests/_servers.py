"""Real server processes for integration tests, built on :mod:`example.runner`.

``example.runner`` does the process work (free port, readiness, graceful stop) because the
demo needs it too; this module adds what tests want: context managers that always stop the
server, a migrated and seeded database, and a cheap per-test copy of it.
"""

from __future__ import annotations

import contextlib
import sqlite3
from typing import TYPE_CHECKING, Any

from example.runner import (
    Service,
    ServiceFiles,
    prepare_database,
    read_json_lines,
    start_gunicorn,
    start_uvicorn,
    start_uwsgi,
    stop_process,
)

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

__all__ = [
    "Service",
    "ServiceFiles",
    "copy_db",
    "migrated_example_db",
    "read_json_lines",
    "running_gunicorn",
    "running_gunicorn_app",
    "running_uvicorn",
    "running_uwsgi",
    "service_files",
    "stop_process",
    "user_ids",
]


@contextlib.contextmanager
def running_gunicorn(files: ServiceFiles, **options: Any) -> Iterator[Service]:
    """Run gunicorn (gthread) on the example app for the block; stopped gracefully after it.

    *options* go to :func:`example.runner.start_gunicorn` (``workers``, ``threads``, ``env``).
    After the block, ``service.process.returncode`` is gunicorn's exit status and the log and
    span files are complete (the workers flushed their spans on exit).
    """
    service = start_gunicorn(files, **options)
    try:
        yield service
    finally:
        service.stop()


@contextlib.contextmanager
def running_uvicorn(files: ServiceFiles, **options: Any) -> Iterator[Service]:
    """Run uvicorn (one process, Django's ASGI handler) on the example app for the block.

    *options* go to :func:`example.runner.start_uvicorn` (``env``, ``graceful_timeout``).
    After the block the server has stopped (``-SIGTERM`` after a graceful shutdown) and the
    log and span files are complete (spans are flushed on the lifespan shutdown).
    """
    service = start_uvicorn(files, **options)
    try:
        yield service
    finally:
        service.stop()


def migrated_example_db(directory: Path, users: int = 0) -> Path:
    """A migrated, seeded example database in *directory*, with *users* token users."""
    files = ServiceFiles.in_dir(directory)
    prepare_database(files, load_users=users)
    return files.db


def service_files(directory: Path, template: Path) -> ServiceFiles:
    """A fresh directory for one server run, holding its own copy of the *template* database."""
    files = ServiceFiles.in_dir(directory)
    copy_db(template, files.db)
    return files


def copy_db(template: Path, target: Path) -> Path:
    """Copy a SQLite database with SQLite's backup API (consistent even in WAL mode)."""
    with (
        contextlib.closing(sqlite3.connect(template)) as source,
        contextlib.closing(sqlite3.connect(target)) as copy,
    ):
        source.backup(copy)
    return target


def user_ids(db: Path) -> dict[str, str]:
    """Username -> primary key (as the string bound for ``user.id``) of every user in *db*."""
    with contextlib.closing(sqlite3.connect(db)) as connection:
        rows = connection.execute("SELECT username, id FROM auth_user").fetchall()
    return {username: str(pk) for username, pk in rows}


@contextlib.contextmanager
def running_gunicorn_app(
    files: ServiceFiles, app: str, *, workers: int = 2, threads: int = 4, ready_timeout: float = 30
) -> Iterator[Service]:
    """Like :func:`running_gunicorn`, serving another WSGI *app* (``"module:variable"``).

    The example's gunicorn settings still apply (gthread, one ``TracerProvider`` per worker
    writing ``files.span_file``); *app* must answer ``GET /healthz`` with 200 once ready.
    """
    with running_gunicorn(
        files, workers=workers, threads=threads, ready_timeout=ready_timeout, app=app
    ) as service:
        yield service


@contextlib.contextmanager
def running_uwsgi(files: ServiceFiles, **options: Any) -> Iterator[Service]:
    """Run uWSGI (``example/uwsgi.ini``: processes x threads, lazy-apps) for the block.

    *options* go to :func:`example.runner.start_uwsgi` (``workers``, ``threads``, ``env``).
    The block starts once every worker has loaded the app. After it, the server has been
    stopped gracefully (SIGTERM, made graceful by the ini), ``service.process.returncode`` is
    uWSGI's exit status and the log and span files are complete.
    """
    service = start_uwsgi(files, **options)
    try:
        yield service
    finally:
        service.stop()
