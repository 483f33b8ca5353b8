"""pytest plugin (entry point ``pytest11``; install ``otel-context[testing]``).

Fixture ``otel_capture``: a :class:`otel_context.testing.CapturedTelemetry` for the test,
with a fresh OTel context, events captured after otel_context's processor, and the spans
that finished. Nothing is configured until a test asks for the fixture.

No provider at the first request: outside tests, otel_context sets up the SDK's
``TracerProvider`` at a process's first request when none is set (``SET_UP_PROVIDERS``).
In a test run that would be a global provider set by whichever test makes the first request,
which a later ``trace.set_tracer_provider()`` of the project's own fixtures can no longer
replace, with one announcement line among the test output. The plugin sets
``OTEL_CONTEXT_SET_UP_PROVIDERS=false`` before Django is set up, unless the variable is set
already (empty counts as unset); ``OTEL_CONTEXT["SET_UP_PROVIDERS"] = True`` in the test
settings, or the variable, opts back in. Servers a test starts inherit the variable.
``otel_capture`` sets up a provider of its own when a test asks for spans.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Final

import pytest

from otel_context.options import OPTIONS
from otel_context.testing import CapturedTelemetry, capture_telemetry

if TYPE_CHECKING:
    from collections.abc import Iterator

SET_UP_PROVIDERS_VARIABLE: Final = next(
    option.env_var for option in OPTIONS if option.name == "SET_UP_PROVIDERS"
)


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests() -> Iterator[None]:
    """Opt out of the first-request provider before pytest-django sets Django up."""
    if not os.environ.get(SET_UP_PROVIDERS_VARIABLE, "").strip():  # empty is unset (OTel spec)
        os.environ[SET_UP_PROVIDERS_VARIABLE] = "false"
    return (yield)


@pytest.fixture
def otel_capture() -> Iterator[CapturedTelemetry]:
    """Events and finished spans of this test; context reset before and after."""
    with capture_telemetry() as telemetry:
        yield telemetry
