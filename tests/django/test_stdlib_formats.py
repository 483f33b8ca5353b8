"""Django's own loggers through the README's stdlib set-up: never a logging error (issue 22).

``django.server`` logs only under Django's development server, so it is served here by that
server's own classes (``WSGIServer``, ``WSGIRequestHandler``) on a free port of 127.0.0.1; its
access line comes after the response, outside any request. The same set-up under gunicorn is
``tests/integration/test_stdlib_formats.py``.
"""

from __future__ import annotations

import io
import logging
import threading
from typing import TYPE_CHECKING

import pytest
import requests
from django.core.servers.basehttp import WSGIRequestHandler, WSGIServer
from django.core.wsgi import get_wsgi_application

from otel_context import OTelContextFilter, OTelContextFormatter
from tests.formats_settings import EVERY_KIND_FORMAT

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pytest_django.fixtures import SettingsWrapper

pytestmark = pytest.mark.usefixtures("instrumented")
LOGGERS = ("django.server", "django.request", "formats.app")


@pytest.fixture
def dev_server(settings: SettingsWrapper) -> Iterator[WSGIServer]:
    """tests/formats_site.py served by Django's development server classes, in a thread.

    ``shutdown()`` returns once the request being served is done, its access line included.
    """
    settings.ROOT_URLCONF = "tests.formats_site"
    settings.OTEL_CONTEXT = {
        "URL_KWARGS": {"organisation_pk": "organisation.id", "shard_pk": "shard.id"},
        "RESOLVERS": {"tenant.id": "tests.testapp.identifiers.tenant_from_header"},
    }
    server = WSGIServer(("127.0.0.1", 0), WSGIRequestHandler)
    server.set_app(get_wsgi_application())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """What the README's handler (filter + formatter) writes for Django's and the app's loggers."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(OTelContextFilter())
    handler.setFormatter(OTelContextFormatter(EVERY_KIND_FORMAT))
    loggers = [logging.getLogger(name) for name in LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.removeHandler(handler)
            logger.setLevel(level)


def test_django_server_and_request_records_never_fail(
    dev_server: WSGIServer, lines: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    """Access lines (outside any request), app lines with and without order.id, a 404."""
    base = f"http://127.0.0.1:{dev_server.server_address[1]}"
    headers = {"Correlation-Id": "dev-1", "X-Tenant": "t-1"}
    url = f"{base}/shards/s-1/orgs/7/?order=o-1"
    assert requests.get(url, headers=headers, timeout=10).status_code == 200
    assert requests.get(f"{base}/plain/", timeout=10).status_code == 200
    assert requests.get(f"{base}/nope/", timeout=10).status_code == 404
    dev_server.shutdown()  # the last access line is written after its response
    assert "Logging error" not in capsys.readouterr().err
    by_logger: dict[str, list[str]] = {}
    for line in lines.getvalue().splitlines():
        logger, _, fields = line.removeprefix("LINE ").partition("|")
        by_logger.setdefault(logger, []).append(fields)
    assert len(by_logger["django.server"]) == 3
    for access in by_logger["django.server"]:
        assert "|correlation_id=-|correlation.id=-|" in access
        assert "|order_id=-|order.id=-|" in access
    bound, thread, plain, _ = by_logger["formats.app"]
    assert thread.endswith("msg=app.thread")  # from a plain thread: outside any request
    assert all(field.endswith("=-") for field in thread.split("|")[1:-1]), thread
    assert "|tenant_id=t-1|tenant.id=t-1|order_id=o-1|order.id=o-1|msg=app.work" in bound
    assert "|shard_id=s-1|shard.id=s-1|" in bound
    assert "|tenant_id=-|tenant.id=-|order_id=-|order.id=-|msg=app.work" in plain
    (not_found,) = by_logger["django.request"]
    assert "|correlation_id=-|" not in not_found
    assert not_found.endswith("msg=Not Found: /nope/")
