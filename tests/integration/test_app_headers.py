"""Response headers the application set are left as they are, on real servers (issue 22, point 3).

``tests/formats_site.py``'s ``AppRequestIdMiddleware`` answers every ``/app-ids/...`` request
with its own ``X-Request-ID`` (and on ``/app-ids/traceresponse/`` its own ``traceresponse``),
as an application keyed by its own request ids does. The client sends ``X-Request-ID`` too,
so otel_context would echo its correlation id under that very header.

Decided (see the README): the response carries the application's value; ``correlation.id``
on the lines stays the inbound id (the request's earlier lines already carry it); the server
span records the application's id as ``correlation.response_id`` if it is a valid id, and an
unsafe one is recorded and logged nowhere.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from tests._servers import ServiceFiles, read_json_lines, running_gunicorn, running_uvicorn
from tests.formats_site import APP_TRACERESPONSE, UNSAFE_APP_ID
from tests.integration._load import server_spans_by_cid

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests._servers import Service

pytestmark = pytest.mark.integration

TIMEOUT = 30
SETTINGS = {"DJANGO_SETTINGS_MODULE": "tests.formats_settings"}
SERVERS: dict[str, Callable[..., Any]] = {
    "gunicorn": lambda files: running_gunicorn(files, workers=2, threads=4, env=SETTINGS),
    "uvicorn": lambda files: running_uvicorn(files, env=SETTINGS),
}
#: path -> what the app does: sets its own id (200, a 500 and a streamed body), its own
#: unsafe id, its own traceresponse too; and a path where the app sets nothing.
PATHS = {
    "own": "/app-ids/own/",
    "boom": "/app-ids/own/boom/",
    "stream": "/app-ids/own/stream/",
    "unsafe": "/app-ids/unsafe/",
    "traceresponse": "/app-ids/traceresponse/",
    "nothing": "/plain/",
}


class Run:
    """One server run: a request per path, each with its own inbound X-Request-ID."""

    def __init__(self, service: Service) -> None:
        self.sent: dict[str, str] = {}
        self.responses: dict[str, requests.Response] = {}
        for kind, path in PATHS.items():
            inbound = f"abc-{kind}-{uuid.uuid4().hex[:12]}"
            response = requests.get(
                service.url(path), headers={"X-Request-ID": inbound}, timeout=TIMEOUT
            )
            response.content  # noqa: B018 - read a streamed body to the end
            self.sent[kind], self.responses[kind] = inbound, response
        self.files: ServiceFiles = service.files
        self.service = service

    def finish(self) -> None:
        self.spans = server_spans_by_cid(read_json_lines(self.files.span_file))
        self.log = self.files.log_file.read_text()
        self.lines = [line for line in self.log.splitlines() if line.startswith("LINE ")]

    def lines_of(self, kind: str) -> list[str]:
        return [line for line in self.lines if f"correlation_id={self.sent[kind]}|" in line]


@pytest.fixture(scope="module", params=sorted(SERVERS))
def run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Run:
    files = ServiceFiles.in_dir(tmp_path_factory.mktemp(request.param))
    with SERVERS[request.param](files) as service:
        result = Run(service)
    result.finish()
    return result


class TestTheAppsHeaderWins:
    def test_response_carries_the_apps_own_id(self, run: Run) -> None:
        """On a 200, a 500 and a streamed body: one X-Request-ID, the app's, not the inbound."""
        for kind, status in (("own", 200), ("boom", 500), ("stream", 200)):
            response = run.responses[kind]
            assert response.status_code == status
            value = response.headers["X-Request-ID"]
            assert value.startswith("app-"), (kind, value)
            assert value != run.sent[kind]
            assert "Correlation-Id" not in response.headers

    def test_lines_carry_the_inbound_id_and_the_span_records_the_apps(self, run: Run) -> None:
        """correlation.id stays the inbound id; the span has correlation.response_id."""
        for kind in ("own", "boom", "stream"):
            assert run.lines_of(kind), kind  # the request logged, under the inbound id
            span = run.spans[run.sent[kind]]
            app_id = run.responses[kind].headers["X-Request-ID"]
            assert span["attributes"]["correlation.response_id"] == app_id
            assert app_id not in run.log  # the app's id is on the span, not on the lines

    def test_unsafe_app_id_is_left_alone_and_recorded_nowhere(self, run: Run) -> None:
        """2 KB with spaces and markup: answered as the app set it, never logged or recorded."""
        response = run.responses["unsafe"]
        assert response.headers["X-Request-ID"] == UNSAFE_APP_ID
        span = run.spans[run.sent["unsafe"]]
        assert "correlation.response_id" not in span["attributes"]
        assert run.lines_of("unsafe")
        for text in (run.log, Path(run.files.span_file).read_text(), run.service.stderr()):
            assert "app id <b>" not in text

    def test_traceresponse_the_app_set_is_not_overwritten(self, run: Run) -> None:
        """TRACE_RESPONSE_HEADER is on, yet the app's traceresponse stays; ours elsewhere."""
        assert run.responses["traceresponse"].headers["traceresponse"] == APP_TRACERESPONSE
        ours = run.responses["own"].headers["traceresponse"]
        span = run.spans[run.sent["own"]]
        assert ours.split("-")[1] == span["context"]["trace_id"].removeprefix("0x")

    def test_echoed_where_the_app_sets_nothing(self, run: Run) -> None:
        """No header of the app's: the inbound id is echoed as before, nothing recorded."""
        response = run.responses["nothing"]
        assert response.headers["X-Request-ID"] == run.sent["nothing"]
        assert "correlation.response_id" not in run.spans[run.sent["nothing"]]["attributes"]
