"""docs/migrating.md, django-guid: the same id on the same stdlib lines, the same header.

Real ``django_guid`` middleware and log filter before; after, otel_context alone with
``CORRELATION_ID_HEADERS = ["Correlation-ID"]`` and ``OTelContextFilter`` on the handler. The
format string (``%(correlation_id)s``) does not change.
"""

from __future__ import annotations

import logging
import re
import uuid
from typing import TYPE_CHECKING, Any

import pytest

from otel_context import OTelContextFilter
from tests._packages import require
from tests.migrating.conftest import logged_in, middleware

if TYPE_CHECKING:
    import io

    from django.http import HttpResponse

log_filters = require("django-guid", "django_guid.log_filters")

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.usefixtures("instrumented", "migrating_urls"),
]

PEER = "django_guid.middleware.guid_middleware"
HEADER = "Correlation-ID"
PATH = "/orgs/7/work/"
Lines = tuple[logging.Logger, "io.StringIO"]


def _serve(
    logger_and_buffer: Lines, alice: Any, log_filter: logging.Filter, **headers: str
) -> tuple[str, HttpResponse]:
    """One request; the stdlib line it logged and the response."""
    logger, buffer = logger_and_buffer
    handler = logger.handlers[0]
    handler.addFilter(log_filter)
    try:
        response = logged_in(alice).get(PATH, headers=headers)
    finally:
        handler.removeFilter(log_filter)
    (line,) = buffer.getvalue().splitlines()
    buffer.seek(0)
    buffer.truncate()
    return line, response


def _peer(settings: Any) -> None:
    """django-guid's set-up; otel_context (always on here) reads and echoes another header."""
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "django_guid"]
    settings.MIDDLEWARE = middleware(first=(PEER,))
    settings.OTEL_CONTEXT = {**settings.OTEL_CONTEXT, "CORRELATION_ID_HEADERS": ["X-Unused-Id"]}


def _ours(settings: Any) -> None:
    settings.MIDDLEWARE = middleware()
    settings.OTEL_CONTEXT = {**settings.OTEL_CONTEXT, "CORRELATION_ID_HEADERS": [HEADER]}


def _header_line(response: HttpResponse) -> bytes:
    """The correlation header as serialised on the wire: name spelling included."""
    (line,) = [
        line
        for line in response.serialize_headers().splitlines()
        if line.lower().startswith(HEADER.lower().encode())
    ]
    return line


class TestRecipe:
    @pytest.mark.parametrize("sent", [uuid.uuid4().hex, str(uuid.uuid4())])
    def test_same_line_and_header_for_a_client_id(
        self, settings: Any, alice: Any, stdlib_lines: Lines, sent: str
    ) -> None:
        """A valid id from the client: identical stdlib line and response header, both ways."""
        _peer(settings)
        before = _serve(stdlib_lines, alice, log_filters.CorrelationId(), **{HEADER: sent})
        _ours(settings)
        after = _serve(stdlib_lines, alice, OTelContextFilter(), **{HEADER: sent})
        assert before[0] == after[0] == f"INFO correlation_id={sent} work done"
        assert _header_line(before[1]) == _header_line(after[1]) == f"{HEADER}: {sent}".encode()

    @pytest.mark.parametrize("headers", [{}, {HEADER: "not a uuid!"}])
    def test_generated_id_same_shape_on_line_and_header(
        self, settings: Any, alice: Any, stdlib_lines: Lines, headers: dict[str, str]
    ) -> None:
        """No id, or an invalid one: both generate 32 hex digits, logged and returned."""
        _peer(settings)
        before = _serve(stdlib_lines, alice, log_filters.CorrelationId(), **headers)
        _ours(settings)
        after = _serve(stdlib_lines, alice, OTelContextFilter(), **headers)
        for line, response in (before, after):
            match = re.fullmatch(r"INFO correlation_id=([0-9a-f]{32}) work done", line)
            assert match is not None, line
            assert _header_line(response) == f"{HEADER}: {match[1]}".encode()
        assert before[0] != after[0]
