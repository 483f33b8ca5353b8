"""Requests rejected before the view keep their id, on real gunicorn and uvicorn (issue 21.6).

A disallowed ``Host`` (400, raised inside the instrumentation before otel_context's hooks), a
body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` and too many fields (400s raised while the form is
read): each response carries the correlation id (a valid inbound one echoed, else a new one),
and the server's log line about it has that ``correlation.id``. The next request on the same
worker thread has only its own.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest
import requests

from tests._servers import read_json_lines, running_gunicorn, running_uvicorn

if TYPE_CHECKING:
    from tests._servers import Service, ServiceFiles

pytestmark = pytest.mark.integration
HEX_ID = re.compile(r"[0-9a-f]{32}")
ENV = {"DJANGO_SETTINGS_MODULE": "tests.early_settings"}


def _send(service: Service) -> dict[str, requests.Response]:
    base = service.base_url
    session = requests.Session()  # one connection: one worker thread serves them in turn
    return {
        "host": session.get(
            f"{base}/healthz", headers={"Host": "evil.example", "Correlation-Id": "host-1"}
        ),
        "bad-id": session.get(
            f"{base}/healthz", headers={"Host": "evil.example", "Correlation-Id": "no good!"}
        ),
        "too-big": session.post(f"{base}/form/", data={"x": "y" * 4096}),
        "too-many": session.post(
            f"{base}/form/",
            data={f"f{i}": "v" for i in range(10)},
            headers={"X-Request-ID": "fields-3"},
        ),
        "next": session.post(
            f"{base}/form/", data={"a": "b"}, headers={"Correlation-Id": "next-4"}
        ),
    }


def _lines(files: ServiceFiles, logger: str) -> list[dict[str, Any]]:
    return [line for line in read_json_lines(files.log_file) if line.get("logger") == logger]


def _check(responses: dict[str, requests.Response], files: ServiceFiles) -> None:
    assert {name: r.status_code for name, r in responses.items()} == {
        "host": 400,
        "bad-id": 400,
        "too-big": 400,
        "too-many": 400,
        "next": 200,
    }
    ids = {
        "host": responses["host"].headers.get("Correlation-Id"),
        "bad-id": responses["bad-id"].headers.get("Correlation-Id"),
        "too-big": responses["too-big"].headers.get("Correlation-Id"),
        "too-many": responses["too-many"].headers.get("X-Request-ID"),
        "next": responses["next"].headers.get("Correlation-Id"),
    }
    assert ids["host"] == "host-1"
    assert ids["too-many"] == "fields-3"
    assert ids["next"] == "next-4"
    for generated in ("bad-id", "too-big"):
        assert HEX_ID.fullmatch(ids[generated] or ""), ids
    host_lines = _lines(files, "django.security.DisallowedHost")
    assert [line.get("correlation.id") for line in host_lines] == [ids["host"], ids["bad-id"]]
    assert "no good!" not in files.log_file.read_text()
    (too_big,) = _lines(files, "django.security.RequestDataTooBig")
    assert too_big["correlation.id"] == ids["too-big"]
    (too_many,) = _lines(files, "django.security.TooManyFieldsSent")
    assert too_many["correlation.id"] == ids["too-many"]
    (form_read,) = [
        line for line in read_json_lines(files.log_file) if line["event"] == "form.read"
    ]
    assert form_read["correlation.id"] == "next-4"
    assert form_read["trace_id"]  # a traced request, with its own ids only


def test_gunicorn(example_files: ServiceFiles) -> None:
    """gunicorn gthread, one worker thread: every early rejection keeps its id."""
    with running_gunicorn(example_files, workers=1, threads=1, env=ENV) as service:
        responses = _send(service)
    assert service.process.returncode == 0, service.stderr()
    _check(responses, example_files)


def test_uvicorn(example_files: ServiceFiles) -> None:
    """uvicorn with Django's ASGI handler: the same."""
    with running_uvicorn(example_files, env=ENV) as service:
        responses = _send(service)
    _check(responses, example_files)
