"""The documented gunicorn recipe keeps every ``OTEL_CONTEXT`` setting (issue 22).

``configure_providers()`` in ``post_fork`` runs before Django's settings are loaded. Options
set only in the settings file (a resolver, ``TRACE_RESPONSE_HEADER``) must still take effect
in every worker: the ``traceresponse`` header on every response, the resolver's id on every
server span. The ``post_fork`` recipe is taken from docs/export.md itself.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import requests

from example.runner import ServiceFiles
from tests.integration._startproject import (
    gunicorn_command,
    log_lines,
    make_project,
    project_env,
    serving,
)

pytestmark = pytest.mark.integration

EXPORT_DOC = Path(__file__).resolve().parents[2] / "docs" / "export.md"
RECIPE_MARK = "# gunicorn.conf.py: providers are created per worker, after fork"
REQUESTS = 24

SETTINGS = """
OTEL_CONTEXT = {
    "RESOLVERS": {"tenant.id": "mysite.ids.tenant"},
    "TRACE_RESPONSE_HEADER": "traceresponse",
}
"""
IDS = """
def tenant(request):
    return request.headers.get("X-Tenant")
"""


def documented_recipe() -> str:
    """The Export page's ``gunicorn.conf.py``, as the documentation shows it."""
    blocks = re.findall(r"```python\n(.*?)```", EXPORT_DOC.read_text(encoding="utf-8"), re.DOTALL)
    (recipe,) = [block for block in blocks if block.startswith(RECIPE_MARK)]
    return recipe


def test_documented_gunicorn_recipe_keeps_settings_only_options(tmp_path: Path) -> None:
    """2 workers x 4 threads: traceresponse on every response, tenant.id on every span."""
    project = make_project(
        tmp_path / "project",
        SETTINGS,
        {"mysite/ids.py": IDS, "gunicorn.conf.py": documented_recipe()},
    )
    files = ServiceFiles.in_dir(tmp_path / "run")
    span_file = tmp_path / "spans.jsonl"
    env = project_env(project, OTEL_CONTEXT_SPAN_FILE=str(span_file))
    command = gunicorn_command(project, f"--config={project / 'gunicorn.conf.py'}")
    with serving(command, files, env) as service:
        responses = [
            requests.get(service.url("/hello/"), headers={"X-Tenant": f"t{number}"}, timeout=10)
            for number in range(REQUESTS)
        ]
    output = service.stderr()
    assert "was read before Django's settings" not in output, "nothing read early differs"
    assert "no OpenTelemetry TracerProvider was set" not in output, "post_fork set it"
    spans = [json.loads(line) for line in span_file.read_text().splitlines()]
    servers = {span["context"]["trace_id"].removeprefix("0x"): span for span in spans}
    for number, response in enumerate(responses):
        assert response.status_code == 200
        header = response.headers.get("traceresponse")
        assert header is not None, "TRACE_RESPONSE_HEADER from settings"
        trace_id = header.split("-")[1]
        assert servers[trace_id]["attributes"]["tenant.id"] == f"t{number}", "RESOLVERS"
    lines = [line for line in log_lines(output) if line.get("event") == "hello.served"]
    assert len(lines) == REQUESTS
    assert {line["tenant.id"] for line in lines} == {f"t{n}" for n in range(REQUESTS)}
