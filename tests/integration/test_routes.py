"""Route-scoped URL ids under real servers: DRF routers call every id ``pk`` (issue 22.4).

The example service's settings with ``tests.testapp.routes`` as its URLconf, under gunicorn
(gthread, two workers) and uvicorn (Django's ASGI handler): a tenant route's ``pk`` is
``tenant.id`` on every line and on the server span, a site's or a device's never is, and the
nested ``organisation_pk`` / ``project_pk`` bind as they always did.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import pytest
import requests

from tests._servers import (
    ServiceFiles,
    read_json_lines,
    running_gunicorn,
    running_uvicorn,
)
from tests.django.test_routes import DERIVED, EXPECTED
from tests.integration._load import hex_id, server_spans_by_cid

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager
    from pathlib import Path

    from example.runner import Service

pytestmark = pytest.mark.integration

TIMEOUT = 30
ENV = {"DJANGO_SETTINGS_MODULE": "tests.routes_settings"}
#: Each path twice: the second request finds its route's rules in the cache.
ROUNDS = 2


def _gunicorn(files: ServiceFiles) -> AbstractContextManager[Service]:
    return running_gunicorn(files, workers=2, threads=2, env=ENV)


def _uvicorn(files: ServiceFiles) -> AbstractContextManager[Service]:
    return running_uvicorn(files, env=ENV)


def _derived(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if key in DERIVED}


@pytest.mark.parametrize("server", [_gunicorn, _uvicorn], ids=["gunicorn", "uvicorn"])
def test_pk_is_a_tenant_id_on_tenant_routes_only(
    server: Callable[[ServiceFiles], AbstractContextManager[Service]], tmp_path: Path
) -> None:
    """Lines and server span of each request carry exactly its route's ids."""
    files = ServiceFiles.in_dir(tmp_path / "service")
    sent: dict[str, str] = {}  # correlation id -> path
    with server(files) as service:
        for round_ in range(ROUNDS):
            for path in EXPECTED:
                correlation_id = f"routes-{round_}-{uuid.uuid4().hex}"
                response = requests.get(
                    service.url(path), headers={"Correlation-Id": correlation_id}, timeout=TIMEOUT
                )
                assert response.status_code == 200, response.text
                assert _derived(response.json()["identifiers"]) == EXPECTED[path]
                sent[correlation_id] = path

    spans = server_spans_by_cid(read_json_lines(files.span_file))
    lines = read_json_lines(files.log_file)
    for correlation_id, path in sent.items():
        span = spans[correlation_id]
        assert _derived(span["attributes"]) == EXPECTED[path], path
        own = [line for line in lines if line.get("correlation.id") == correlation_id]
        assert [line["event"] for line in own] == [
            "retrieved" if path.rstrip("/")[-1].isdigit() else "listed"
        ], path
        for line in own:
            assert _derived(line) == EXPECTED[path], path
            assert line["trace_id"] == hex_id(span["context"]["trace_id"])
    tenant_lines = [line for line in lines if "tenant.id" in line]
    assert {line["resource"] for line in tenant_lines} == {"tenant"}
