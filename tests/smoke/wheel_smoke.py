"""Smoke check of an installed otel_context wheel: ``make wheel-smoke`` runs it in a fresh venv.

Not a pytest module (pytest collects ``test_*.py`` only): it runs in a venv holding the built
wheel, its ``[testing]`` extra (for the pytest11 plugin) and ``requests`` (the example's own
dependency), without the dev extras and outside the repository, so the checkout cannot shadow
the installed package.

Usage: ``python tests/smoke/wheel_smoke.py WHEEL EXAMPLE_DIR``

It checks that
- ``otel_context`` imports from site-packages and its ``__version__`` is the wheel's version;
- ``py.typed`` is shipped;
- the entry points load: ``opentelemetry_post_instrument``, both ``opentelemetry_traces_sampler``
  ones and ``pytest11``;
- the example project (a copy of EXAMPLE_DIR), served by a real threaded HTTP server on
  127.0.0.1, answers concurrent requests of different users, and each request's log lines carry
  its own correlation.id, user.id, organisation.id and trace_id.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import threading
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from importlib import metadata
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

ENTRY_POINTS = {
    "opentelemetry_post_instrument": {"otel_context"},
    "opentelemetry_traces_sampler": {
        "otel_context_parentbased_always_on",
        "otel_context_parentbased_traceidratio",
    },
    "pytest11": {"otel_context"},
}


def check(condition: object, message: str) -> None:
    """Fail the smoke check with *message* (assert would vanish under ``python -O``)."""
    if not condition:
        raise SystemExit(f"wheel smoke check FAILED: {message}")


def check_package(wheel: Path) -> None:
    """Imported from site-packages, the wheel's version, ``py.typed`` shipped."""
    import otel_context

    package = Path(otel_context.__file__).resolve().parent
    check("site-packages" in package.parts, f"otel_context imported from {package}")
    wheel_version = wheel.name.split("-")[1]
    check(
        otel_context.__version__ == wheel_version == metadata.version("otel-context"),
        f"__version__ {otel_context.__version__!r}, wheel {wheel_version!r}",
    )
    check((package / "py.typed").is_file(), f"no py.typed in {package}")
    print(f"ok: otel_context {otel_context.__version__} from {package}, py.typed shipped")


def check_entry_points() -> None:
    """Every entry point the distribution declares is there and loads."""
    for group, names in ENTRY_POINTS.items():
        found = {
            ep.name: ep
            for ep in metadata.entry_points(group=group)
            if ep.dist is not None and ep.dist.name == "otel-context"
        }
        check(set(found) == names, f"{group}: {sorted(found)} != {sorted(names)}")
        for entry_point in found.values():
            check(callable(entry_point.load()) or group == "pytest11", f"{entry_point} loads")
            print(f"ok: entry point {group}: {entry_point.name} = {entry_point.value}")


REQUESTS = 8  # concurrent requests, each by its own seeded user with its own correlation id


def serve_requests(work: Path) -> list[Served]:
    """Seed the example's database, serve concurrent API requests, return what each logged."""
    os.environ.update(
        DJANGO_SETTINGS_MODULE="example.settings",
        EXAMPLE_DB=str(work / "example.sqlite3"),
        EXAMPLE_LOG_FILE=str(work / "log.jsonl"),
        EXAMPLE_SPAN_FILE=str(work / "spans.jsonl"),
    )
    import django
    from django.core.management import call_command

    from example.tracing import setup_tracing, shutdown

    providers = setup_tracing(warn=print, shutdown_on_exit=False)
    django.setup()
    call_command("migrate", verbosity=0)
    from django.contrib.auth import get_user_model

    from example.app.demo_data import load_username
    from example.app.seeding import seed
    from example.wsgi import application

    seeded = seed(load_users=REQUESTS)
    users = get_user_model().objects.filter(username__in=map(load_username, range(REQUESTS)))
    path = f"/api/v1/organisations/{seeded.organisation_id}/projects/{seeded.project_id}/"
    with make_server("127.0.0.1", 0, application, _ThreadingServer, _QuietHandler) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{server.server_port}"
        with ThreadPoolExecutor(REQUESTS) as pool:
            served = list(pool.map(partial(_get, base + path, seeded), users))
        server.shutdown()
    shutdown(providers)
    lines = [json.loads(line) for line in (work / "log.jsonl").read_text().splitlines()]
    for one in served:
        one.lines = [line for line in lines if line.get("correlation.id") == one.correlation_id]
    return served


@dataclass
class Served:
    """One request: who sent it, what it answered, the log lines with its correlation id."""

    user_id: str
    organisation_id: str
    correlation_id: str
    body: dict[str, Any]
    lines: list[dict[str, Any]] = field(default_factory=list)


def _get(url: str, seeded: Any, user: Any) -> Served:
    from example.app.demo_data import user_token

    correlation_id = f"wheel-smoke-{uuid.uuid4()}"
    headers = {
        "Authorization": f"Token {user_token(user.username)}",
        "X-Request-ID": correlation_id,
    }
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=60) as r:
        check(r.status == 200, f"GET {url}: {r.status}")
        body = json.load(r)
    return Served(str(user.pk), str(seeded.organisation_id), correlation_id, body)


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass


def check_request_logs(served: list[Served]) -> None:
    """Each request's log lines carry its own correlation.id, user.id, organisation.id, trace."""
    trace_ids = set()
    for one in served:
        events = [line.get("event") for line in one.lines]
        check("project.served" in events, f"no project.served for {one.correlation_id}: {events}")
        check(one.body["identifiers"].get("correlation.id") == one.correlation_id, "response ids")
        for line in one.lines:
            check(line.get("user.id") == one.user_id, f"user.id {one.user_id} expected: {line}")
            check(line.get("organisation.id") == one.organisation_id, f"organisation.id: {line}")
            trace_ids.add(str(line.get("trace_id", "")))
        check(len({line.get("trace_id") for line in one.lines}) == 1, "one trace per request")
    check(len(trace_ids) == len(served), f"{len(served)} requests, trace ids {trace_ids}")
    check(all(len(t) == 32 and t.strip("0") for t in trace_ids), f"trace ids {trace_ids}")
    lines = sum(len(one.lines) for one in served)
    print(f"ok: {len(served)} concurrent requests logged {lines} lines, each with its own ids")
    print(f"    e.g. {served[0].lines[-1]}")


def main(wheel: Path, example: Path) -> None:
    """Run every check; the example runs from a scratch copy outside the repository."""
    check_package(wheel)
    check_entry_points()
    with tempfile.TemporaryDirectory(prefix="otel-context-smoke-") as tmp:
        work = Path(tmp)
        shutil.copytree(example, work / "example", ignore=shutil.ignore_patterns("__pycache__"))
        sys.path.insert(0, str(work))
        check_request_logs(serve_requests(work))
    print("wheel smoke check passed")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
