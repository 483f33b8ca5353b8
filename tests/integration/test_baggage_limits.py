"""W3C Baggage limits on real servers: gunicorn (WSGI) and uvicorn (ASGI), in and out.

The example service runs with ``m.*`` keys allowed in and up to 64 of them kept, and a
stub pricing service on loopback (an own host: it receives baggage). A request at a limit
is served whole; one past it is served with whole members cut, counted on the server span
(``otel_context.baggage.over_limit``). The quote view calls pricing with the identifiers and
the kept keys: the ``baggage`` header pricing receives is within both limits, identifiers
first, and what was left out is counted on the client span.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

import pytest
import requests

from example.app import demo_data
from tests._servers import read_json_lines, running_gunicorn, running_uvicorn
from tests.integration._baggage import members, sized
from tests.integration._load import PROJECT_PATH, TIMEOUT

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from tests._servers import Service, ServiceFiles

pytestmark = pytest.mark.integration

QUOTE_PATH = "/api/v1/organisations/1/projects/1/quote/"
IDENTIFIERS = ["correlation.id", "user.id", "organisation.id", "project.id"]


class Pricing(http.server.BaseHTTPRequestHandler):
    """The stub pricing service: records each request's ``baggage`` header by correlation id."""

    received: dict[str, str | None]

    def do_GET(self) -> None:
        self.received[self.headers.get("Correlation-Id", "")] = self.headers.get("baggage")
        body = json.dumps({"total": "1.00"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        """Quiet."""


@pytest.fixture(scope="module")
def pricing() -> Iterator[tuple[str, dict[str, str | None]]]:
    received: dict[str, str | None] = {}
    handler = type("Handler", (Pricing,), {"received": received})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


def server_env(pricing_url: str) -> dict[str, str]:
    return {
        "OTEL_CONTEXT_INBOUND_BAGGAGE_ALLOW": "m.",
        "OTEL_CONTEXT_INBOUND_BAGGAGE_MAX_ENTRIES": "64",
        "EXAMPLE_PRICING_URL": pricing_url,
        "OTEL_BSP_SCHEDULE_DELAY": "50",
    }


@pytest.fixture(params=["gunicorn", "uvicorn"])
def service(
    request: pytest.FixtureRequest,
    example_files: ServiceFiles,
    pricing: tuple[str, dict[str, str | None]],
) -> Iterator[Service]:
    env = server_env(pricing[0])
    start: Callable[..., contextlib.AbstractContextManager[Service]] = (
        running_gunicorn if request.param == "gunicorn" else running_uvicorn
    )
    options: dict[str, Any] = {"workers": 1, "threads": 2} if request.param == "gunicorn" else {}
    with start(example_files, env=env, **options) as running:
        yield running


def get(service: Service, path: str, baggage: str) -> tuple[requests.Response, str]:
    correlation_id = str(uuid.uuid4())
    headers = {
        "Authorization": f"Token {demo_data.user_token('alice')}",
        "Correlation-Id": correlation_id,
        "baggage": baggage,
    }
    response = requests.get(service.url(path), headers=headers, timeout=TIMEOUT)
    return response, correlation_id


def span_of(files: ServiceFiles, correlation_id: str, kind: str) -> dict[str, Any]:
    """The exported span of *kind* (SERVER or CLIENT) in the request with *correlation_id*."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        spans = read_json_lines(files.span_file)
        server = [s for s in spans if s["attributes"].get("correlation.id") == correlation_id]
        if server:
            trace_id = server[0]["context"]["trace_id"]
            found = [s for s in spans if s["context"]["trace_id"] == trace_id and kind in s["kind"]]
            if found:
                return found[0]
        time.sleep(0.05)
    msg = f"no {kind} span for {correlation_id}"
    raise AssertionError(msg)


@pytest.mark.parametrize(
    ("baggage", "cut"),
    [
        (members(64), None),
        (members(65), 1),
        (sized(8192), None),
        (sized(8193), 1),
    ],
    ids=["64-members", "65-members", "8192-bytes", "8193-bytes"],
)
def test_inbound_limits(
    service: Service, example_files: ServiceFiles, baggage: str, cut: int | None
) -> None:
    """At the limit the request is served with nothing cut; one past it, one member is cut."""
    response, correlation_id = get(service, PROJECT_PATH, baggage)
    assert response.status_code == 200, response.text[:200]
    attributes = span_of(example_files, correlation_id, "SERVER")["attributes"]
    assert attributes.get("otel_context.baggage.over_limit") == cut
    assert "otel_context.baggage.dropped" not in attributes


def test_outbound_limits(
    service: Service,
    example_files: ServiceFiles,
    pricing: tuple[str, dict[str, str | None]],
) -> None:
    """64 kept keys + 4 identifiers: pricing gets 64 members, ids first; 4 keys counted."""
    response, correlation_id = get(service, QUOTE_PATH, members(64))
    assert response.status_code == 200, response.text[:200]
    sent = pricing[1][correlation_id]
    assert sent is not None
    names = [member.split("=", 1)[0] for member in sent.split(",")]
    assert len(names) == 64
    assert len(sent) <= 8192
    assert set(names[:4]) == set(IDENTIFIERS)
    assert names[4:] == [f"m.{n}" for n in range(60)]
    client = span_of(example_files, correlation_id, "CLIENT")
    assert client["attributes"]["otel_context.baggage.outbound.over_limit"] == 4
