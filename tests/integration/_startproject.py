"""A brand-new ``django-admin startproject`` with the Quickstart, served by real servers.

The Quickstart as the README has it: ``"otel_context"`` in ``INSTALLED_APPS`` and its
structlog chain (written in one ``write()`` per line, so lines of several workers never
interleave). Its ``hello/`` view logs two lines.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from example.runner import Service, ServiceFiles, start_server, wait_until_ready

if TYPE_CHECKING:
    from collections.abc import Iterator

BIN = Path(sys.executable).parent

QUICKSTART = """
INSTALLED_APPS = [*INSTALLED_APPS, "otel_context"]  # the Quickstart

import structlog
from otel_context import StructlogOTelProcessor

structlog.configure(
    processors=[
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        StructlogOTelProcessor(),  # before the renderer
        structlog.processors.TimeStamper(fmt="iso"),
        structlog.processors.JSONRenderer(),
    ],
    logger_factory=structlog.WriteLoggerFactory(),  # one write per line, whole lines
)
"""

URLS = """
import structlog
from django.http import HttpResponse
from django.urls import path

log = structlog.get_logger()


def healthz(request):
    return HttpResponse("ok")


def hello(request):
    log.info("hello.started")
    log.info("hello.served", path=request.path)
    return HttpResponse("hello")


urlpatterns = [path("healthz", healthz), path("hello/", hello)]
"""

#: What the servers inherit that could set a provider or an exporter: cleared ("" is unset).
CLEAN_ENV = {
    "DJANGO_SETTINGS_MODULE": "mysite.settings",
    "OTEL_CONTEXT_SET_UP_PROVIDERS": "",
    "OTEL_CONTEXT_SPAN_FILE": "",
    "OTEL_TRACES_EXPORTER": "",
    "OTEL_EXPORTER_OTLP_ENDPOINT": "",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "",
}


def make_project(directory: Path, settings: str = "", files: dict[str, str] | None = None) -> Path:
    """``startproject mysite`` in *directory*, plus the Quickstart, *settings* and *files*."""
    directory.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [str(BIN / "django-admin"), "startproject", "mysite", str(directory)],
        check=True,
        timeout=60,
    )
    settings_py = directory / "mysite" / "settings.py"
    settings_py.write_text(settings_py.read_text() + QUICKSTART + settings)
    (directory / "mysite" / "urls.py").write_text(URLS)
    for name, text in (files or {}).items():
        (directory / name).write_text(text)
    return directory


def project_env(project: Path, **extra: str) -> dict[str, str]:
    """The server's environment: the project importable, nothing configured but *extra*."""
    return {**CLEAN_ENV, "PYTHONPATH": str(project), **extra}


def log_lines(output: str) -> list[dict[str, Any]]:
    """The JSON log lines in a server's output (stdout and stderr share one file)."""
    return [json.loads(line) for line in output.splitlines() if line.startswith('{"')]


def gunicorn_command(project: Path, *options: str) -> list[str]:
    """gunicorn gthread, 2 workers x 4 threads, on the socket ``start_server`` passes."""
    return [
        str(BIN / "gunicorn"),
        "mysite.wsgi:application",
        f"--chdir={project}",
        "--worker-class=gthread",
        "--workers=2",
        "--threads=4",
        "--bind=fd://{fd}",
        "--no-control-socket",
        *options,
    ]


@contextlib.contextmanager
def serving(command: list[str], files: ServiceFiles, env: dict[str, str]) -> Iterator[Service]:
    """Run *command* until the block ends; ready once ``/healthz`` answers."""
    service = start_server(command, files, env)
    try:
        wait_until_ready(service, 30)
        yield service
    finally:
        service.stop()
