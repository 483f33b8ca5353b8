"""The pytest plugin, used by a test project run with pytester."""

from __future__ import annotations

import pytest

USER_TESTS = """
import structlog
from otel_context import scoped

log = structlog.get_logger()


def emit(user_id):
    with scoped(user__id=user_id, correlation__id="c-" + user_id):
        log.info("order.placed", amount=3)
        log.info("order.paid")


def test_events_carry_the_ids(otel_capture):
    emit("42")
    otel_capture.assert_events_carry(user__id="42", correlation__id="c-42")
    assert [e["event"] for e in otel_capture.events] == ["order.placed", "order.paid"]


def test_a_wrong_id_is_reported(otel_capture):
    emit("7")
    try:
        otel_capture.assert_events_carry(user__id="42")
    except AssertionError as exc:
        assert "'order.placed': user.id='7', expected '42'" in str(exc)
    else:
        raise AssertionError("assert_events_carry accepted the wrong user")


def test_nothing_leaks_into_the_next_test(otel_capture):
    log.info("fresh")
    (event,) = otel_capture.events
    assert "user.id" not in event


def test_spans_are_captured(otel_capture):
    from opentelemetry import trace

    with trace.get_tracer("t").start_as_current_span("work", attributes={"order.id": "9"}):
        log.info("inside")
    span = otel_capture.assert_span_has("work", order__id="9")
    assert otel_capture.events[0]["span_id"] == format(span.context.span_id, "016x")
"""


class TestPlugin:
    def test_fixture_works_in_a_user_project(self, pytester: pytest.Pytester) -> None:
        """A project using otel_capture: its passing and failing assertions behave."""
        pytester.makepyfile(test_user=USER_TESTS)
        result = pytester.runpytest_subprocess("-p", "no:randomly", "-p", "no:django")
        result.assert_outcomes(passed=4)

    def test_assertion_failure_is_readable(self, pytester: pytest.Pytester) -> None:
        """A failing assert_events_carry names the event and the wrong value."""
        pytester.makepyfile(
            test_fail="""
import structlog
from otel_context import scoped

def test_fails(otel_capture):
    with scoped(user__id="1"):
        structlog.get_logger().info("x")
    otel_capture.assert_events_carry(user__id="2")
"""
        )
        result = pytester.runpytest_subprocess("-p", "no:randomly", "-p", "no:django")
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines(["*'x': user.id='1', expected '2'*"])


#: A minimal Django project with otel_context in INSTALLED_APPS, and a test making a request.
DJANGO_PROJECT = {
    "proj_settings": """
SECRET_KEY = "x"
ALLOWED_HOSTS = ["testserver"]
INSTALLED_APPS = ["otel_context"]
ROOT_URLCONF = "proj_urls"
MIDDLEWARE = []
DATABASES = {}
USE_TZ = True
""",
    "proj_urls": """
from django.http import HttpResponse
from django.urls import path

urlpatterns = [path("hello/", lambda request: HttpResponse("ok"))]
""",
    "test_request": """
from opentelemetry import trace


def test_first_request(client):
    assert client.get("/hello/").status_code == 200
    print("provider:", type(trace.get_tracer_provider()).__name__)
""",
}


class TestFirstRequestProvider:
    def _run(self, pytester: pytest.Pytester, *args: str) -> str:
        pytester.makepyfile(**DJANGO_PROJECT)
        result = pytester.runpytest_subprocess(
            "-p", "no:randomly", "-s", "--ds=proj_settings", *args
        )
        result.assert_outcomes(passed=1)
        (line,) = [line for line in result.outlines if "provider:" in line]
        return line.split("provider:")[1].strip()

    def test_the_plugin_opts_out(
        self, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Under the plugin, a test's request sets up no global provider."""
        monkeypatch.delenv("OTEL_CONTEXT_SET_UP_PROVIDERS", raising=False)
        assert self._run(pytester) == "ProxyTracerProvider"

    def test_without_the_plugin_the_first_request_sets_one_up(
        self, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The same run without the plugin: the first request sets up the SDK's provider."""
        monkeypatch.setenv("OTEL_CONTEXT_SET_UP_PROVIDERS", "")
        assert self._run(pytester, "-p", "no:otel_context") == "_NoExportTracerProvider"

    def test_the_variable_opts_back_in(
        self, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """OTEL_CONTEXT_SET_UP_PROVIDERS=true in the environment is honoured."""
        monkeypatch.setenv("OTEL_CONTEXT_SET_UP_PROVIDERS", "true")
        assert self._run(pytester) == "_NoExportTracerProvider"
