"""pytest plugin (entry point ``pytest11``; install ``otel-context[testing]``).

Fixture ``otel_capture``: a :class:`otel_context.testing.CapturedTelemetry` for the test,
with a fresh OTel context, events captured after otel_context's processor, and the spans
that finished. Nothing is configured until a test asks for the fixture.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from otel_context.testing import CapturedTelemetry, capture_telemetry

if TYPE_CHECKING:
    from collections.abc import Iterator


@pytest.fixture
def otel_capture() -> Iterator[CapturedTelemetry]:
    """Events and finished spans of this test; context reset before and after."""
    with capture_telemetry() as telemetry:
        yield telemetry
