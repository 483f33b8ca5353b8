"""BaggageSpanProcessor (allow-all) on a real gunicorn: a client's baggage reaches no span.

The server span starts in the context the instrumentation extracted from the request, through
otel_context's propagator, which holds back every server-owned or unlisted key at extract:
the processor has nothing of the client's to copy. An authenticated request's span says the
real user (written by otel_context); an anonymous one has no ``user.id``. Log lines never
carry the client's either.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

import pytest
import requests

from example.app import demo_data
from tests._packages import require
from tests._servers import read_json_lines, running_gunicorn, user_ids
from tests.integration._load import PROJECT_PATH, TIMEOUT, server_spans_by_cid

if TYPE_CHECKING:
    from tests._servers import ServiceFiles

require("opentelemetry-processor-baggage", "opentelemetry.processor.baggage")
pytestmark = pytest.mark.integration
SPOOF = "user.id=666,organisation.id=666,colour=blue"


def _server_span(files: ServiceFiles, correlation_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        spans = server_spans_by_cid(read_json_lines(files.span_file))
        if correlation_id in spans:
            return spans[correlation_id]
        time.sleep(0.05)
    msg = f"no server span for {correlation_id}"
    raise AssertionError(msg)


def test_allow_all_copies_no_client_key_onto_the_server_span(
    example_files: ServiceFiles,
) -> None:
    """Authenticated: the span's ids are the server's. Anonymous: no user.id at all."""
    alice = user_ids(example_files.db)["alice"]
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.baggage_processor_settings",
        "OTEL_BSP_SCHEDULE_DELAY": "50",
    }
    ids = {name: str(uuid.uuid4()) for name in ("alice", "anonymous")}
    with running_gunicorn(example_files, workers=1, threads=2, env=env) as service:
        token = {"Authorization": f"Token {demo_data.user_token('alice')}"}
        signed_in = requests.get(
            service.url(PROJECT_PATH),
            headers={**token, "baggage": SPOOF, "Correlation-Id": ids["alice"]},
            timeout=TIMEOUT,
        )
        anonymous = requests.get(
            service.url("/api/v1/sdk/flags/"),
            headers={
                "X-Environment-Key": "unknown",
                "baggage": SPOOF,
                "Correlation-Id": ids["anonymous"],
            },
            timeout=TIMEOUT,
        )
        assert (signed_in.status_code, anonymous.status_code) == (200, 401)
        alice_span = _server_span(example_files, ids["alice"])["attributes"]
        anonymous_span = _server_span(example_files, ids["anonymous"])["attributes"]
    assert alice_span["user.id"] == alice  # written back at the response
    assert alice_span["organisation.id"] == "1"
    for attributes in (alice_span, anonymous_span):
        assert "colour" not in attributes  # not in INBOUND_BAGGAGE_ALLOW: held back at extract
        assert "666" not in [str(value) for value in attributes.values()]  # by value
    assert "user.id" not in anonymous_span  # the hole W005 used to warn about: closed
    lines = [
        line
        for line in read_json_lines(example_files.log_file)
        if line.get("correlation.id") in ids.values()
    ]
    assert lines
    assert all(line.get("user.id") in {None, alice} for line in lines)
    assert "666" not in [str(value) for line in lines for value in line.values()]  # by value
