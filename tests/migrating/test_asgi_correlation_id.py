"""docs/migrating.md, asgi-correlation-id: the same ids on the same lines, header kept.

Django's ASGI handler under a real uvicorn on 127.0.0.1, run twice: wrapped in the real
``CorrelationIdMiddleware`` with its ``CorrelationIdFilter``, then the recipe (no wrapper,
``CORRELATION_ID_HEADERS = ["X-Request-ID"]``, ``OTelContextFilter``). The same requests must
give the same stdlib lines and the same ``X-Request-ID`` response header.
"""

from __future__ import annotations

import re
import sys
import uuid
from typing import TYPE_CHECKING

import pytest

from example.runner import ServiceFiles, start_server, wait_until_ready
from tests._packages import require

if TYPE_CHECKING:
    from pathlib import Path

require("asgi-correlation-id", "asgi_correlation_id")

pytestmark = pytest.mark.integration

HEADER = "X-Request-ID"
VALID = [str(uuid.uuid4()), uuid.uuid4().hex]
INVALID = ["not a uuid!", "x" * 300]
Served = list[tuple[str, str]]  # (stdlib line, response header value) per request


def _serve(directory: Path, mode: str) -> Served:
    """Run the service in *mode*, send the requests, stop it; each request's line and header."""
    files = ServiceFiles.in_dir(directory / mode)
    log_file = directory / mode / "lines.log"
    command = [sys.executable, "-m", "uvicorn", "tests.migrating.asgi_app:application"]
    command += ["--fd", "{fd}", "--lifespan", "off", "--no-access-log"]
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.migrating.asgi_settings",
        "MIGRATING_MODE": mode,
        "MIGRATING_LOG_FILE": str(log_file),
    }
    import httpx  # a dev dependency, imported here so that a cell without it skips above

    service = start_server(command, files, env)
    headers: list[str] = []
    try:
        wait_until_ready(service, timeout=30)
        with httpx.Client(base_url=service.base_url, timeout=10) as client:
            for sent in [*VALID, *INVALID, None]:
                response = client.get("/logged/", headers={HEADER: sent} if sent else {})
                assert response.status_code == 200, service.stderr()
                names = [name.lower() for name, _ in response.headers.raw]
                assert names.count(HEADER.lower().encode()) == 1, response.headers
                headers.append(response.headers[HEADER])
    finally:
        service.stop()
    lines = log_file.read_text().splitlines()
    return list(zip(lines, headers, strict=True))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Served]:
    """Both runs, once for the module."""
    directory = tmp_path_factory.mktemp("asgi-correlation-id")
    return {mode: _serve(directory, mode) for mode in ("peer", "ours")}


class TestRecipe:
    def test_client_ids_same_lines_same_header(self, served: dict[str, Served]) -> None:
        """A valid id from the client: the identical line and header value, both ways."""
        for mode in ("peer", "ours"):
            for sent, (line, header) in zip(VALID, served[mode], strict=False):
                assert line == f"INFO correlation_id={sent} logged", mode
                assert header == sent, mode

    def test_generated_ids_same_shape_on_line_and_header(self, served: dict[str, Served]) -> None:
        """Invalid or missing ids: both generate 32 hex digits, log them and return them."""
        for mode in ("peer", "ours"):
            for line, header in served[mode][len(VALID) :]:
                assert re.fullmatch(r"[0-9a-f]{32}", header), (mode, header)
                assert line == f"INFO correlation_id={header} logged", mode
        generated = [header for mode in served.values() for _, header in mode[len(VALID) :]]
        assert len(set(generated)) == len(generated)
