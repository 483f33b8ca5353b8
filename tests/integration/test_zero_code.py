"""Zero-code enablement: ``opentelemetry-instrument gunicorn example.wsgi`` with no code changes.

The ``opentelemetry_post_instrument`` entry point installs otel_context's hooks after
``DjangoInstrumentor``; with ``"otel_context"`` also in ``INSTALLED_APPS`` its ``ready()``
must add nothing. Doubled hooks would nest two scopes: the response would echo the outer
scope's generated correlation id while the log lines carry the inner one's, which is what
the correlation check below catches.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import sys
import time
from pathlib import Path

import pytest
import requests

from example.app import demo_data
from example.runner import ServiceFiles, start_ready_server, start_server
from tests._servers import read_json_lines, user_ids
from tests._upstream import without_known_upstream_tracebacks
from tests.integration._startproject import log_lines, make_project, serving
from tests.otlp_receiver import http_receiver

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent
README = Path(__file__).resolve().parents[2] / "README.md"
PROJECT_PATH = "/api/v1/organisations/1/projects/1/"
REQUESTS = 6


SERVERS = {
    "gunicorn": [
        str(BIN / "gunicorn"),
        "example.wsgi:application",
        "--worker-class=gthread",
        "--workers=1",
        "--threads=2",
        "--bind=fd://{fd}",
        "--no-control-socket",
    ],
    "uvicorn": [
        str(BIN / "uvicorn"),
        "example.asgi:application",
        "--fd={fd}",
        "--lifespan=on",
        "--no-access-log",
    ],
}


def _start(files: ServiceFiles, settings_module: str, server: str) -> object:
    command = [str(BIN / "opentelemetry-instrument"), *SERVERS[server]]
    env = {
        "DJANGO_SETTINGS_MODULE": settings_module,
        "OTEL_SERVICE_NAME": "zero-code",
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        # uvicorn exits by re-raising SIGTERM: atexit never runs, so the distro's batch
        # processor is not flushed at exit. Export within 200 ms instead, and wait for it.
        "OTEL_BSP_SCHEDULE_DELAY": "200",
        "OTEL_CONTEXT_CORRELATION_ID_RESPONSE_HEADER": "X-Correlation-Echo",
    }
    return start_ready_server(command, files, env, ready_timeout=30)


@pytest.mark.parametrize("server", ["gunicorn", "uvicorn"])
@pytest.mark.parametrize(
    "settings_module",
    ["tests.zerocode_settings", "example.settings"],
    ids=["not-in-installed-apps", "also-in-installed-apps"],
)
def test_opentelemetry_instrument_gives_every_line_its_ids(
    example_files: ServiceFiles, settings_module: str, server: str
) -> None:
    """Log lines carry trace ids and ids; one set of hooks whether or not the app is listed."""
    alice = user_ids(example_files.db)["alice"]
    service = _start(example_files, settings_module, server)
    headers = {"Authorization": f"Token {demo_data.user_token('alice')}"}
    try:
        responses = [
            requests.get(service.url(PROJECT_PATH), headers=headers, timeout=10)  # type: ignore[attr-defined]
            for _ in range(REQUESTS)
        ]
        time.sleep(1)  # one export interval and more: the spans are out before we stop
    finally:
        # uvicorn re-raises the SIGTERM it handled gracefully: -15 is its clean exit
        assert service.stop() in {0, -15}  # type: ignore[attr-defined]
    lines = [line for line in read_json_lines(example_files.log_file) if "correlation.id" in line]
    output = without_known_upstream_tracebacks(service.stderr())  # type: ignore[attr-defined]
    assert "Traceback" not in output
    assert "Failed to detach context" not in output
    for response in responses:
        assert response.status_code == 200
        cid = response.headers["X-Correlation-Echo"]  # configured by an OTEL_CONTEXT_* variable
        own = [line for line in lines if line["correlation.id"] == cid]
        assert len(own) >= 3, f"the logged correlation id must be the echoed one ({cid})"
        traces = {line["trace_id"] for line in own}
        assert len(traces) == 1
        (trace_id,) = traces
        assert re.fullmatch(r"[0-9a-f]{32}", trace_id)
        assert trace_id != "0" * 32
        assert f"0x{trace_id}" in output, "the same trace id is on the exported server span"
        assert {line["user.id"] for line in own} == {alice}
        assert {line["organisation.id"] for line in own} == {"1"}
    assert len({response.headers["X-Correlation-Echo"] for response in responses}) == REQUESTS


def _first_answer(service: object, timeout: float = 30) -> int:
    """The status of the first response to ``/healthz``, whatever it is."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert service.process.poll() is None, service.stderr()  # type: ignore[attr-defined]
        try:
            return requests.get(service.url("/healthz"), timeout=5).status_code  # type: ignore[attr-defined]
        except requests.ConnectionError:
            time.sleep(0.1)
    pytest.fail(f"no answer within {timeout} s:\n{service.stderr()}")  # type: ignore[attr-defined]


def test_settings_module_set_only_in_wsgi_py_is_named_at_start_up(
    example_files: ServiceFiles,
) -> None:
    """DJANGO_SETTINGS_MODULE only in example/wsgi.py: one line names the trap and the fix.

    DjangoInstrumentor runs before wsgi.py and falls back to Django's default settings, so
    every request fails (no ROOT_URLCONF), plain OTel included. The post-instrument hook says
    so once at start-up, and otel_context adds no traceback of its own.
    """
    command = [
        "env",
        "-u",
        "DJANGO_SETTINGS_MODULE",  # service_env sets it: here only wsgi.py's setdefault() does
        str(BIN / "opentelemetry-instrument"),
        *SERVERS["gunicorn"],
    ]
    env = {
        "OTEL_SERVICE_NAME": "zero-code-trap",
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
    }
    service = start_server(command, example_files, env)
    try:
        status = _first_answer(service)
    finally:
        service.stop()
    output = service.stderr()
    assert status == 500, "the trap itself: Django runs on its default settings"
    (line,) = [line for line in output.splitlines() if "export DJANGO_SETTINGS_MODULE=" in line]
    assert line.startswith("otel_context: DJANGO_SETTINGS_MODULE is not in the environment")
    assert "before opentelemetry-instrument" in line
    assert "otel_context/" not in output, "no traceback through otel_context's code"


RECIPE_HEAD = 'pip install -e ".[zero-code]"'
#: What the recipe must never print at start-up or while exporting.
EXPORTER_ERRORS = (
    "not found in entry point",
    "Failed to auto initialize",
    "RuntimeError",
    "Failed to export",
    "Traceback",
)


def readme_zero_code_recipe() -> list[str]:
    """The Enable section's zero-code shell block, as the README shows it (one line each)."""
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```sh\n(.*?)```", text, re.DOTALL)
    (recipe,) = [block for block in blocks if block.lstrip().startswith(RECIPE_HEAD)]
    return [line.strip() for line in recipe.splitlines() if line.strip()]


def recipe_environment(lines: list[str], **replace: str) -> dict[str, str]:
    """The variables the recipe's ``export`` lines set, with *replace* (name -> value) applied."""
    env: dict[str, str] = {}
    for line in lines:
        if line.startswith("export "):
            for pair in shlex.split(line.removeprefix("export "), comments=True):
                name, _, value = pair.partition("=")
                env[name] = replace.get(name, value)
    return env


def test_readme_zero_code_recipe_runs_clean(tmp_path: Path) -> None:
    """The recipe as written (the extra's packages, its variables): no exporter error, spans
    reach the collector, and every line carries the server span's trace and span ids.

    Only the project's name, the collector's address and the listening socket are this test's.
    """
    lines = readme_zero_code_recipe()
    assert lines[-1] == "opentelemetry-instrument gunicorn myproject.wsgi"
    for module in ("opentelemetry.distro", "opentelemetry.exporter.otlp.proto.http"):
        assert importlib.util.find_spec(module), f"the [zero-code] extra brings {module}"
    project = make_project(tmp_path / "project")
    files = ServiceFiles.in_dir(tmp_path / "run")
    with http_receiver() as (endpoint, received):
        env = recipe_environment(
            lines,
            DJANGO_SETTINGS_MODULE="mysite.settings",
            OTEL_EXPORTER_OTLP_ENDPOINT=endpoint,
            OTEL_SERVICE_NAME="zero-code-recipe",
        )
        path = os.pathsep.join([str(BIN), os.environ.get("PATH", "")])  # the venv, activated
        env = {**env, "PATH": path, "PYTHONPATH": str(project), "OTEL_BSP_SCHEDULE_DELAY": "200"}
        unset = [part for name in RECIPE_UNSET if name not in env for part in ("-u", name)]
        command = [
            "env",
            *unset,
            *shlex.split(lines[-1].replace("myproject", "mysite")),
            f"--chdir={project}",
            "--bind=fd://{fd}",
            "--no-control-socket",
        ]
        with serving(command, files, env) as service:
            responses = [requests.get(service.url("/hello/"), timeout=10) for _ in range(5)]
            assert received.wait_for(lambda got: len(got.spans) >= 5 + 1), service.stderr()
    output = without_known_upstream_tracebacks(service.stderr())
    for error in EXPORTER_ERRORS:
        assert error not in output, output[-3000:]
    assert "no OpenTelemetry TracerProvider was set" not in output, "the distro set it"
    servers = {span.span_id: span for span in received.spans if span.name == "GET hello/"}
    assert len(servers) == len(responses)
    assert {span.resource["service.name"] for span in servers.values()} == {"zero-code-recipe"}
    logged = [line for line in log_lines(output) if line.get("event") == "hello.served"]
    assert len(logged) == len(responses)
    for line in logged:
        span = servers[line["span_id"]]
        assert span.trace_id == line["trace_id"]
        assert line["trace_sampled"] is True


#: Inherited variables that would change the recipe's outcome, removed unless it sets them.
RECIPE_UNSET = (
    "OTEL_TRACES_EXPORTER",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_PROTOCOL",
    "OTEL_CONTEXT_SPAN_FILE",
    "OTEL_PYTHON_CONFIGURATOR",
)
