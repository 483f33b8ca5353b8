"""Beside ``opentelemetry-instrumentation-structlog``: each event reaches OTLP once, with our ids.

The example service runs under ``opentelemetry-instrument gunicorn`` with the official
structlog instrumentation installed (as ``opentelemetry-bootstrap -a install`` does wherever
structlog is), its log export over OTLP to a real receiver on 127.0.0.1, with and without
``"otel_context"`` in ``INSTALLED_APPS``. The official instrumentation inserts its own
processor into the app's chain, which holds ``StructlogOTelLogProcessor`` too: without
otel_context's start-up step each event would be exported twice.
"""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import requests

from example.app import demo_data
from example.runner import start_ready_server
from tests._packages import require
from tests._servers import read_json_lines, user_ids
from tests.otlp_receiver import http_receiver

if TYPE_CHECKING:
    from tests._servers import Service, ServiceFiles

require("opentelemetry-instrumentation-structlog", "opentelemetry.instrumentation.structlog")
pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent
PROJECT_PATH = "/api/v1/organisations/1/projects/1/"
REQUESTS = 4
SPOOF = "user.id=666,organisation.id=666,correlation.id=spoofed"


def _start(files: ServiceFiles, settings_module: str, endpoint: str) -> Service:
    command = [
        str(BIN / "opentelemetry-instrument"),
        str(BIN / "gunicorn"),
        "example.wsgi:application",
        "--worker-class=gthread",
        "--workers=1",
        "--threads=2",
        "--bind=fd://{fd}",
        "--no-control-socket",
    ]
    env = {
        "DJANGO_SETTINGS_MODULE": settings_module,
        "OTEL_SERVICE_NAME": "official-structlog",
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_LOGS_EXPORTER": "otlp",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_BLRP_SCHEDULE_DELAY": "100",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    return start_ready_server(command, files, env, ready_timeout=30)


@pytest.mark.parametrize(
    "settings_module",
    ["tests.zerocode_settings", "example.settings"],
    ids=["not-in-installed-apps", "in-installed-apps"],
)
def test_each_event_is_exported_once_with_our_ids(
    example_files: ServiceFiles, settings_module: str
) -> None:
    """One OTLP record per rendered line: alice's ids as strings, never the spoofed ones."""
    alice = user_ids(example_files.db)["alice"]
    headers = {"Authorization": f"Token {demo_data.user_token('alice')}", "baggage": SPOOF}
    with http_receiver() as (endpoint, received):
        service = _start(example_files, settings_module, endpoint)
        try:
            cids = []
            for _ in range(REQUESTS):
                cid = str(uuid.uuid4())
                response = requests.get(
                    service.url(PROJECT_PATH),
                    headers={**headers, "Correlation-Id": cid},
                    timeout=10,
                )
                assert response.status_code == 200
                cids.append(cid)
            lines = [
                line
                for line in read_json_lines(example_files.log_file)
                if line.get("correlation.id") in cids
            ]
            assert len(lines) >= 3 * REQUESTS
            received.wait_for(lambda r: len(r.logs) >= len(lines))
            time.sleep(0.5)  # one export interval more: a second copy would have arrived
        finally:
            service.stop()
    stderr = service.stderr()
    traces = {line["trace_id"] for line in lines}
    records = [r for r in received.logs if r.trace_id in traces]
    assert len(records) == len(lines), sorted(r.body for r in records)
    stdlib = 0
    for line in lines:
        same = [r for r in records if r.body == line["event"] and r.trace_id == line["trace_id"]]
        assert len(same) == 1, (line["event"], same)
        (record,) = same
        if line.get("logger") is not None:
            # a stdlib record: exported by the logging instrumentation's handler, which
            # otel_context's processor defers to; otel_context lends it the request's ids
            assert record.scope == line["logger"]
            stdlib += 1
        else:
            assert record.scope == "otel_context"  # ours, not the official one's
            assert record.event_name == line["event"]
        assert record.attributes["correlation.id"] == line["correlation.id"]
        assert record.attributes["user.id"] == alice == line["user.id"]
        assert record.attributes["organisation.id"] == "1" == line["organisation.id"]
    assert stdlib >= REQUESTS  # the stdlib records were checked too
    # the spoofed members, by value: a random uuid may well contain "666"
    values = [str(value) for r in received.logs for value in r.attributes.values()]
    assert "666" not in values
    assert "spoofed" not in values
    assert stderr.count("opentelemetry-instrumentation-structlog was taken out") == 1, stderr
