"""Zero-code enablement: ``opentelemetry-instrument gunicorn example.wsgi`` with no code changes.

The ``opentelemetry_post_instrument`` entry point installs otel_context's hooks after
``DjangoInstrumentor``; with ``"otel_context"`` also in ``INSTALLED_APPS`` its ``ready()``
must add nothing. Doubled hooks would nest two scopes: the response would echo the outer
scope's generated correlation id while the log lines carry the inner one's, which is what
the correlation check below catches.
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests

from example.app import demo_data
from example.runner import start_server, wait_until_ready
from tests._servers import read_json_lines, user_ids
from tests._upstream import without_known_upstream_tracebacks

if TYPE_CHECKING:
    from tests._servers import ServiceFiles

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent
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
    service = start_server(command, files, env)
    try:
        wait_until_ready(service, 30)
    except BaseException:
        service.stop()
        raise
    return service


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
