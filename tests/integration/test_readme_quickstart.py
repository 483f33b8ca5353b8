"""The README's Install and Quickstart, run as written in a brand-new project (issue 21).

The blocks come from README.md itself, found by the comment above each (``<!-- install-commands``,
``quickstart-settings``, ``quickstart-view``, ``quickstart-serve``, ``quickstart-output``), so a
README edit that breaks the Quickstart fails here. The test builds the wheel, installs it into a
fresh venv as the Install block says (with ``constraints.txt``'s pins), makes a project with
``django-admin startproject mysite``, appends the settings block to its ``settings.py``, writes
the view block where its first line says, routes ``flags/`` to it behind ``login_required`` (the
user's own code), migrates, logs 4 users in, and serves the project with the README's gunicorn
command (gthread, 2 workers x 4 threads) on 127.0.0.1. Then 80 concurrent requests by the 4
users: every line of the view carries ``trace_id``, its request's own ``span_id``,
``correlation.id`` and the right ``user.id``, and every stdout line parses (no glued lines). A
caller's ``traceparent`` gives the caller's trace id and a span id of the service's own.

Nothing of the checkout is importable in the project's processes: no ``PYTHONPATH``, and the
project lives outside the repository, so ``otel_context`` is the wheel's.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from example.runner import listening_socket, stop_process
from tests._markdown import README, ROOT, marked_block

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

USERS = 4
REQUESTS = 80
CONCURRENCY = 16
VIEW_EVENTS = {"flags.evaluated", "flags served"}
HEX32, HEX16 = re.compile(r"^[0-9a-f]{32}$"), re.compile(r"^[0-9a-f]{16}$")
#: The user's own code around the README's view: a URL behind login_required.
URLS = """
from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.urls import path

from . import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("flags/", login_required(views.flags)),
]
"""
#: Users and their Django session cookies, made in the project (``manage.py shell``).
LOG_IN = """
import json
from django.contrib.auth import get_user_model
from django.test import Client
sessions = {{}}
for n in range({users}):
    user = get_user_model().objects.create_user(f"user{{n}}", password="not-used-here")
    client = Client()
    client.force_login(user)
    sessions[str(user.pk)] = client.cookies["sessionid"].value
print("SESSIONS " + json.dumps(sessions))
"""


@dataclass(frozen=True)
class Project:
    """The served project: its base URL, stdout file and ``user.id`` -> session cookie."""

    base_url: str
    stdout: Path
    sessions: dict[str, str]

    def lines(self) -> list[dict[str, Any]]:
        """Every stdout line, parsed; a line that is not one JSON object fails the test."""
        parsed = []
        for number, line in enumerate(self.stdout.read_text().splitlines(), start=1):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                pytest.fail(f"stdout line {number} is not one JSON line (glued?): {line[:300]!r}")
            assert isinstance(record, dict), line
            parsed.append(record)
        return parsed

    def get(self, user_id: str, headers: dict[str, str]) -> requests.Response:
        cookies = {"sessionid": self.sessions[user_id]}
        url = self.base_url + "/flags/"
        return requests.get(url, headers=headers, cookies=cookies, timeout=30)


def _clean_env(**extra: str) -> dict[str, str]:
    """This environment without anything that could point a process at the checkout or OTel."""
    prefixes = ("OTEL_", "DJANGO_", "PYTHON", "VIRTUAL_ENV", "EXAMPLE_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}
    env.update(extra)
    return env


def _run(argv: list[str], cwd: Path, timeout: float = 300, **env: str) -> str:
    result = subprocess.run(
        argv,
        cwd=cwd,
        env=_clean_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert result.returncode == 0, f"{shlex.join(argv)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _wheel_install(tmp: Path, venv: Path) -> None:
    """Build the wheel; install it (and gunicorn) as the README's Install and serve blocks say."""
    install = marked_block(README, "install-commands").code
    (line,) = [ln for ln in install.splitlines() if ".whl[" in ln]
    (requirement,) = [w for w in shlex.split(line, comments=True) if ".whl[" in w]
    wheel_name, extras = requirement.removeprefix("dist/").split("[", 1)
    _run([sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp / "dist"), "."], ROOT)
    built = [path.name for path in (tmp / "dist").glob("*.whl")]
    assert built == [wheel_name], f"the README installs {wheel_name}; make dist builds {built}"
    serve = marked_block(README, "quickstart-serve").code
    (pip_line,) = [ln for ln in serve.splitlines() if ln.startswith("pip install")]
    pip_args = [*shlex.split(line, comments=True)[2:], *shlex.split(pip_line, comments=True)[2:]]
    pip_args = [str(tmp / a) if a == requirement else a for a in pip_args]
    assert f"{tmp / 'dist' / wheel_name}[{extras}" in pip_args
    _run([sys.executable, "-m", "venv", str(venv)], tmp)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--disable-pip-version-check"]
    _run([*pip, "--quiet", "-c", str(ROOT / "constraints.txt"), *pip_args], tmp, timeout=600)


def _make_project(tmp: Path, venv: Path) -> tuple[Path, dict[str, str]]:
    """``startproject``, the README's settings and view, migrate, 4 logged-in users."""
    _run([str(venv / "bin" / "django-admin"), "startproject", "mysite"], tmp)
    project = tmp / "mysite"
    settings = project / "mysite" / "settings.py"
    quickstart = marked_block(README, "quickstart-settings").code
    settings.write_text(settings.read_text() + "\n\n" + quickstart)
    view = marked_block(README, "quickstart-view").code
    target = re.match(r"# (\S+\.py)\n", view)
    assert target, f"the view block's first line names its file: {view[:80]!r}"
    (project / target[1]).write_text(view)
    (project / "mysite" / "urls.py").write_text(URLS)
    python = str(venv / "bin" / "python")
    serve = marked_block(README, "quickstart-serve").code
    (migrate,) = [shlex.split(ln) for ln in serve.splitlines() if ln.startswith("python ")]
    _run([python, *migrate[1:]], project)
    out = _run([python, "manage.py", "shell", "-c", LOG_IN.format(users=USERS)], project)
    (found,) = [ln for ln in out.splitlines() if ln.startswith("SESSIONS ")]
    return project, json.loads(found.removeprefix("SESSIONS "))


def _wait_until_answering(base_url: str, process: subprocess.Popen[bytes], stderr: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited with {process.returncode}:\n{stderr.read_text()}")
        try:
            requests.get(base_url + "/admin/login/", timeout=2)  # any status: it answers
        except requests.RequestException:
            time.sleep(0.2)
            continue
        return
    pytest.fail(f"gunicorn did not answer within 60 s:\n{stderr.read_text()}")


@contextlib.contextmanager
def _served(project: Path, venv: Path, tmp: Path) -> Iterator[tuple[str, Path]]:
    """The README's gunicorn command, on a socket bound here (``--bind fd://N``)."""
    serve = marked_block(README, "quickstart-serve").code
    (command,) = [shlex.split(ln) for ln in serve.splitlines() if ln.startswith("gunicorn ")]
    stdout, stderr = tmp / "stdout.log", tmp / "stderr.log"
    with listening_socket() as sock, stdout.open("wb") as out, stderr.open("wb") as err:
        fd = sock.fileno()
        argv = [str(venv / "bin" / "gunicorn"), *command[1:], "--bind", f"fd://{fd}"]
        # HOME: gunicorn's control socket lives under it; one per test run, not one shared.
        # PYTHONUNBUFFERED, as container images set it: each write() reaches the file at once,
        # so a logger writing a line in two calls would glue lines here.
        env = _clean_env(
            HOME=str(tmp),
            PATH=f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}",
            PYTHONUNBUFFERED="1",
        )
        process = subprocess.Popen(
            argv, cwd=project, env=env, pass_fds=(fd,), stdout=out, stderr=err,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )  # fmt: skip
        base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        _wait_until_answering(base_url, process, stderr)
        yield base_url, stdout
    finally:
        stop_process(process, timeout=20)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """The README's Quickstart project, served by the README's gunicorn command."""
    tmp = tmp_path_factory.mktemp("readme-quickstart")
    venv = tmp / "venv"
    _wheel_install(tmp, venv)
    directory, sessions = _make_project(tmp, venv)
    with _served(directory, venv, tmp) as (base_url, stdout):
        yield Project(base_url, stdout, sessions)


def _view_lines(project: Project, correlation_ids: set[str]) -> dict[str, list[dict[str, Any]]]:
    """The view's lines of each request (by its correlation id); every stdout line parses."""
    by_request: dict[str, list[dict[str, Any]]] = {cid: [] for cid in correlation_ids}
    for line in project.lines():
        if line.get("event") in VIEW_EVENTS:
            assert line.get("correlation.id"), line  # every line of the view, any test's
            by_request.get(line["correlation.id"], []).append(line)
    return by_request


class TestReadmeQuickstart:
    def test_every_line_of_concurrent_requests_carries_its_own_ids(self, project: Project) -> None:
        """80 requests by 4 users on 2 workers x 4 threads: each line has its request's ids."""
        plan = [(str(uuid.uuid4()), sorted(project.sessions)[n % USERS]) for n in range(REQUESTS)]

        def call(cid: str, user_id: str) -> None:
            response = project.get(user_id, {"Correlation-Id": cid})
            assert response.status_code == 200, response.text[:300]
            assert response.headers["Correlation-Id"] == cid

        with ThreadPoolExecutor(CONCURRENCY) as pool:
            list(pool.map(lambda item: call(*item), plan))
        by_request = _view_lines(project, {cid for cid, _ in plan})
        for cid, user_id in plan:  # the ids of the request, first: they hold without a provider
            lines = by_request[cid]
            assert sorted(line["event"] for line in lines) == sorted(VIEW_EVENTS), lines
            assert all(line.get("user.id") == user_id for line in lines), lines
            assert next(line for line in lines if line["event"] == "flags.evaluated")["count"] == 3
        for cid, _ in plan:  # then the trace ids: one trace and one span of its own each
            traces = {line.get("trace_id") for line in by_request[cid]}
            spans = {line.get("span_id") for line in by_request[cid]}
            assert len(traces) == 1, by_request[cid]
            assert HEX32.match(str(*traces)), by_request[cid]
            assert len(spans) == 1, by_request[cid]
            assert HEX16.match(str(*spans)), by_request[cid]
        assert len({by_request[cid][0]["trace_id"] for cid, _ in plan}) == REQUESTS
        assert len({by_request[cid][0]["span_id"] for cid, _ in plan}) == REQUESTS

    def test_caller_traceparent_gives_its_trace_and_a_span_of_our_own(
        self, project: Project
    ) -> None:
        """Under a caller's ``traceparent``: the caller's trace id, never the caller's span id."""
        trace_id, parent_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
        cid, user_id = str(uuid.uuid4()), min(project.sessions)
        headers = {"Correlation-Id": cid, "traceparent": f"00-{trace_id}-{parent_id}-01"}
        assert project.get(user_id, headers).status_code == 200
        lines = _view_lines(project, {cid})[cid]
        assert len(lines) == len(VIEW_EVENTS), lines
        assert all(line.get("user.id") == user_id for line in lines), lines
        assert {line.get("trace_id") for line in lines} == {trace_id}, lines
        (span_id,) = {line.get("span_id") for line in lines}
        assert HEX16.match(str(span_id)), lines
        assert span_id != parent_id, lines

    def test_lines_have_the_documented_fields(self, project: Project) -> None:
        """The README's sample lines name exactly the fields a real line of each kind has."""
        cid, user_id = str(uuid.uuid4()), sorted(project.sessions)[1]
        assert project.get(user_id, {"Correlation-Id": cid}).status_code == 200
        real = {line["event"]: set(line) for line in _view_lines(project, {cid})[cid]}
        documented = marked_block(README, "quickstart-output").code
        samples = [json.loads(line) for line in documented.splitlines() if line.strip()]
        assert {sample["event"]: set(sample) for sample in samples} == real
