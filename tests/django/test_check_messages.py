"""A bad ``OTEL_CONTEXT`` option is a message, never a traceback (issue 21, point 5).

``manage.py check`` lists every bad option as its own E002, next to Django's own problems; a
server that runs no checks (gunicorn, uvicorn) refuses to start with one line naming them.
"""

from __future__ import annotations

import io
import logging
import os
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse

from otel_context import conf
from otel_context.conf import ConfigurationError
from otel_context.django import checks, middleware
from otel_context.django.instrumentation import instrument

ROOT = Path(__file__).resolve().parents[2]
BAD_OPTIONS = (
    "OTEL_CONTEXT: unknown option CORRELATION_ID_HEADER (did you mean CORRELATION_ID_HEADERS?)",
    "OTEL_CONTEXT['URL_KWARGS']: expected a mapping with string keys, got ['organisation_pk']",
    (
        "OTEL_CONTEXT['RESOLVERS']['tenant.id']: cannot import "
        "'tests.testapp.broken_on_import.resolve' (RuntimeError: this module is broken on purpose)"
    ),
    "OTEL_CONTEXT['INBOUND_BAGGAGE_MAX_ENTRIES']: must not be negative, got -3",
    "OTEL_CONTEXT['SPAN_ATTRIBUTES']: expected a boolean, got 1",
)


def run_django(settings_module: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m django <args>`` (what ``manage.py`` runs) on *settings_module*."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings_module, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "django", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class TestManagePyCheck:
    def test_lists_every_bad_option_with_djangos_own_problems(self) -> None:
        """Five bad options: five E002 messages and Django's caches.E001, exit 1, no traceback."""
        result = run_django("tests.bad_option_settings", "check")
        output = result.stdout + result.stderr
        assert result.returncode == 1, output
        assert "Traceback" not in output
        assert "SystemCheckError: System check identified some issues" in output
        for problem in BAD_OPTIONS:
            assert f"?: (otel_context.E002) {problem}\n" in output
        assert output.count("(otel_context.E002)") == len(BAD_OPTIONS)
        assert "(caches.E001)" in output
        assert f"System check identified {len(BAD_OPTIONS) + 1} issues (1 silenced)" in output


class TestStartUp:
    def test_ready_leaves_a_bad_option_to_the_checks(self, settings: Any) -> None:
        """ready() with a bad option raises nothing; the check reports it."""
        settings.OTEL_CONTEXT = {"CORRELATION_ID_HEADER": "X"}
        apps.get_app_config("otel_context").ready()
        assert [m.id for m in checks.check_settings()] == ["otel_context.E002"]

    def test_building_the_handler_refuses_with_one_line(self, settings: Any) -> None:
        """The middleware, built by every server, refuses with one message naming each problem."""
        settings.OTEL_CONTEXT = {"CORRELATION_ID_HEADER": "X", "SPAN_ATTRIBUTES": 1}
        with pytest.raises(ImproperlyConfigured) as info:
            middleware.IdentifiersMiddleware(lambda request: HttpResponse())
        assert str(info.value) == (
            "otel_context: unusable configuration: OTEL_CONTEXT: unknown option"
            " CORRELATION_ID_HEADER (did you mean CORRELATION_ID_HEADERS?);"
            " OTEL_CONTEXT['SPAN_ATTRIBUTES']: expected a boolean, got 1."
            " `manage.py check` lists each one."
        )
        assert info.value.__suppress_context__
        assert "\n" not in str(info.value)

    def test_instrument_raises_without_inner_frames(self) -> None:
        """otel_context.instrument(bad=...) in wsgi.py: the traceback ends in instrument()."""
        try:
            with pytest.raises(ConfigurationError) as info:
                instrument(span_attributes=2)
        finally:
            conf.configure()  # forget the bad keyword
        frames = [frame.name for frame in traceback.extract_tb(info.tb)]
        assert frames[-1] == "instrument"
        assert info.value.problems == (
            "span_attributes= (OTEL_CONTEXT['SPAN_ATTRIBUTES']): expected a boolean, got 2",
        )


def _start(command: list[str], tmp_path: Path) -> tuple[int, str]:
    """Start a server on the example project with bad options; its exit code and output."""
    from example.runner import ServiceFiles, start_server

    files = ServiceFiles.in_dir(tmp_path)
    env = {"DJANGO_SETTINGS_MODULE": "tests.bad_example_settings", "EXAMPLE_BIND": "fd://{fd}"}
    service = start_server(command, files, env)
    try:
        code = service.process.wait(timeout=60)
    finally:
        service.stop()
    return code, service.stderr()


@pytest.mark.parametrize("server", ["gunicorn", "uvicorn"])
def test_a_server_refuses_to_start_with_one_clear_line(server: str, tmp_path: Path) -> None:
    """gunicorn and uvicorn stop at start-up; the error names both problems; no conf frames."""
    from example.runner import GUNICORN_CONFIG

    command = {
        "gunicorn": [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONFIG)],
        "uvicorn": [sys.executable, "-m", "uvicorn", "example.asgi:application", "--fd", "{fd}"],
    }[server]
    code, output = _start(command, tmp_path)
    assert code != 0, output
    errors = {line for line in output.splitlines() if line.startswith("django.core.exceptions.")}
    assert errors == {  # once per worker that tried
        (
            "django.core.exceptions.ImproperlyConfigured: otel_context: unusable configuration:"
            " OTEL_CONTEXT: unknown option CORRELATION_ID_HEADER"
            " (did you mean CORRELATION_ID_HEADERS?);"
            " OTEL_CONTEXT['INBOUND_BAGGAGE_MAX_ENTRIES']: expected a whole number, got 'many'."
            " `manage.py check` lists each one."
        )
    }
    frames = [line for line in output.splitlines() if "otel_context/" in line and "File" in line]
    assert frames, output
    assert all("otel_context/django/" in frame for frame in frames), frames  # not conf internals


def _every_message(monkeypatch: pytest.MonkeyPatch, settings: Any) -> list[Any]:
    """Every otel_context check message, each provoked once, with its hint."""
    import structlog

    from otel_context import StructlogOTelProcessor, _private, compat
    from otel_context.django import placement

    monkeypatch.setattr(checks, "asgi_supported", lambda: False)
    monkeypatch.setattr(_private, "missing", lambda names: ["a private name is missing"])
    supported = compat.SUPPORTED["django"]
    monkeypatch.setattr(
        compat, "out_of_range", lambda: [(supported, "0.1", "older"), (supported, "99", "newer")]
    )
    settings.ASGI_APPLICATION = "example.asgi.application"
    settings.BASE_DIR = ROOT / "tests" / "data" / "baggage_readers"
    messages = [*checks.check_asgi(), *checks.check_baggage_reads()]
    messages += [*checks.check_versions(), *checks.check_private_names()]
    settings.OTEL_CONTEXT = {"CORRELATION_ID_HEADER": "X"}
    messages += checks.check_settings()
    listed = [*settings.MIDDLEWARE, middleware.PATH]
    listed.remove(checks.OTEL_MIDDLEWARE)
    listed.remove(checks.CORRELATION_MIDDLEWARE)
    settings.MIDDLEWARE = [listed[0], checks.OTEL_MIDDLEWARE, *listed[1:]]
    messages += checks.check_middleware()
    messages += _in_place_messages(monkeypatch) + _baggage_processor_messages(monkeypatch)
    try:
        structlog.configure(processors=[structlog.processors.JSONRenderer()])
        messages += checks.check_structlog()
        structlog.configure(
            processors=[structlog.processors.JSONRenderer(), StructlogOTelProcessor()]
        )
        messages += checks.check_structlog()
    finally:
        structlog.reset_defaults()
    settings.OTEL_CONTEXT = {"UNSAMPLED_LOG_RATIO": 0}
    messages += placement.check_log_sampling()
    return messages + _trace_keeping_messages(monkeypatch, settings)


def _trace_keeping_messages(monkeypatch: pytest.MonkeyPatch, settings: Any) -> list[Any]:
    """W011: KEEP_NOTABLE_TRACES with a provider set up elsewhere, which cannot be wrapped."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    settings.OTEL_CONTEXT = {"KEEP_NOTABLE_TRACES": True}
    provider = TracerProvider(shutdown_on_exit=False)
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    return checks.check_trace_keeping()


def _baggage_processor_messages(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """W005: a span processor copying every baggage key, behind a propagator not ours."""
    import importlib.util

    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    if importlib.util.find_spec("opentelemetry.processor.baggage") is None:
        return []  # the official package is omitted where its train has no release
    from opentelemetry import propagate
    from opentelemetry.baggage.propagation import W3CBaggagePropagator
    from opentelemetry.processor import baggage as processors

    provider = TracerProvider()
    provider.add_span_processor(processors.BaggageSpanProcessor(processors.ALLOW_ALL_BAGGAGE_KEYS))
    monkeypatch.setattr(trace, "get_tracer_provider", lambda: provider)
    monkeypatch.setattr(propagate, "get_global_textmap", W3CBaggagePropagator)  # set over ours
    try:
        return checks.check_baggage_span_processor()
    finally:
        provider.shutdown()


def _in_place_messages(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """W006 to W009: hooks gone, a middleware gone, a handler without the filter, no ids."""
    from opentelemetry.instrumentation.django.middleware.otel_middleware import _DjangoMiddleware

    from otel_context.django import placement

    monkeypatch.setattr(_DjangoMiddleware, "_otel_request_hook", None)
    messages = placement.check_in_place()
    handler = logging.StreamHandler(io.StringIO())
    handler.setFormatter(logging.Formatter("%(user_id)s %(message)s"))
    logger = logging.getLogger("tests.hints")
    monkeypatch.setattr(logger, "handlers", [handler])
    messages += placement.check_logging()
    monkeypatch.setattr(placement, "handler_problems", lambda fields: ([], False))
    return messages + placement.check_logging()


def _raised_ids() -> set[str]:
    import re

    from otel_context.django import placement

    source = "".join(Path(m.__file__).read_text(encoding="utf-8") for m in (checks, placement))
    return set(re.findall(r'id="(otel_context\.[EW]\d{3})"', source))


def _assert_runs_in_an_empty_settings_module(code: str) -> None:
    namespace: dict[str, object] = {}
    exec(compile(code, "settings.py", "exec"), namespace)  # noqa: S102 - our own hint text


def _assert_pip_command_works_today(command: str) -> None:
    """A ``pip install 'x'`` names a published distribution, never the unpublished otel-context."""
    import re

    from otel_context.compat import installed_version

    (target,) = re.findall(r"pip install '([^']+)'", command)
    name = re.split(r"[\[=<>!~,]", target, maxsplit=1)[0]
    assert name.lower().replace("_", "-") != "otel-context", command
    assert installed_version(name) is not None, f"{name} is not a distribution we know: {command}"


class TestHints:
    """Every hint works as printed (issue 21, points 1 and 5)."""

    def test_every_check_hint_works_as_printed(
        self, monkeypatch: pytest.MonkeyPatch, settings: Any
    ) -> None:
        """Python hints run in an empty settings module; pip commands install what exists."""
        messages = _every_message(monkeypatch, settings)
        raised = _raised_ids()
        if not any(message.id == "otel_context.W005" for message in messages):
            raised.discard("otel_context.W005")  # opentelemetry-processor-baggage not installed
        assert {message.id for message in messages} == raised  # every check provoked
        for message in messages:
            hint = message.hint or ""
            if "pip install" in hint:
                _assert_pip_command_works_today(hint)
            python = hint.split(": ", 1)[1] if "OTEL_CONTEXT = " in hint else ""
            if python:
                _assert_runs_in_an_empty_settings_module(python)
            assert "OTEL_CONTEXT[" not in hint  # a NameError where no OTEL_CONTEXT exists yet

    def test_readme_checks_table_code_runs_as_written(self) -> None:
        """Assignments in docs/checks.md's table run in an empty settings module."""
        import re

        docs = (ROOT / "docs" / "checks.md").read_text(encoding="utf-8")
        table = docs.split("# System checks", 1)[1].split("\n#", 1)[0]
        assignments = [c for c in re.findall(r"`([^`]+)`", table) if re.match(r"[A-Z_]+ = ", c)]
        assert assignments  # SILENCED_SYSTEM_CHECKS = [...] at least
        for code in assignments:
            _assert_runs_in_an_empty_settings_module(code)
        for command in re.findall(r"`(pip install [^`]+)`", table):
            _assert_pip_command_works_today(command)

    def test_install_hints_outside_the_checks(self) -> None:
        """The OTLP exporter hints (providers) work as printed too."""
        from otel_context.compat import install_hint

        for extra, package in (
            ("grpc", "opentelemetry-exporter-otlp-proto-grpc"),
            ("otlp", "opentelemetry-exporter-otlp-proto-http"),
        ):
            _assert_pip_command_works_today(install_hint(package, extra))
