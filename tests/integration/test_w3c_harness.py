"""The W3C Trace Context validation harness against the Django and Flask test apps.

The harness (w3c/trace-context ``test/``, a read-only copy beside the repository in
``../shared/w3c-trace-context``, or where ``OTEL_CONTEXT_W3C_HARNESS`` points) runs as its own
process: it sends hostile ``traceparent`` / ``tracestate`` headers to the app under real
gunicorn on 127.0.0.1 and checks what the app's instrumented ``requests`` sends back to it.
With otel_context every case passes. The control run switches otel_context's propagator
wrapper off (the SDK's own propagators): it must fail exactly the three ``tracestate`` cases
the SDK gets wrong, which shows that the harness really exercises the wrapper.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from opentelemetry.trace import TraceFlags

from example.ports import AddressInUseError, reserved_ports, says_address_in_use, start_retrying
from example.runner import REPO_DIR, start_gunicorn, start_ready_server
from tests._packages import skip_if_omitted
from tests._servers import ServiceFiles
from tests._upstream import without_known_upstream_tracebacks
from tests._w3c_service import CONTROL_ENV

if TYPE_CHECKING:
    from tests._servers import Service

pytestmark = pytest.mark.integration

HARNESS_ENV = "OTEL_CONTEXT_W3C_HARNESS"
DEFAULT_HARNESS = REPO_DIR.parent / "shared" / "w3c-trace-context"
#: The app and its harness endpoint, per adapter.
APPS = {
    "django": ("tests.testapp.wsgi:application", "/w3c/test/"),
    "flask": ("tests.flask.w3c_server:app", "/w3c/test"),
}
#: The Django app enabled by ``opentelemetry-instrument`` alone (not in INSTALLED_APPS).
ZERO_CODE = "django-zero-code"
BIN = Path(sys.executable).parent
#: What the SDK's own propagators fail (opentelemetry-python 1.45): all three pass an invalid
#: inbound tracestate on, or drop a valid one.
SDK_FAILURES = {
    "test_tracestate_duplicated_keys",
    "test_tracestate_key_illegal_vendor_format",
    "test_tracestate_key_length_limit",
}
#: What the API fails before it knows W3C Level 2's random flag (``TraceFlags.RANDOM_TRACE_ID``;
#: not in opentelemetry-api 1.40.0, the floor cell's): the flag of an inbound traceparent is
#: dropped, by the SDK's propagator and by otel_context's, which builds on it.
API_FAILURES = set() if hasattr(TraceFlags, "RANDOM_TRACE_ID") else {"test_propagates_random_flag"}
#: The harness has this many test cases (all run at STRICT_LEVEL 2, SPEC_LEVEL 2).
HARNESS_TESTS = 41


@dataclass(frozen=True)
class HarnessRun:
    """What one harness run reported."""

    ran: int
    skipped: int
    failed: set[str]
    errors: set[str]
    output: str


def _harness_script() -> Path:
    """The harness's ``test.py``; skip (fail under ``CI=true``) if it or aiohttp is missing."""
    folder = Path(os.environ.get(HARNESS_ENV) or DEFAULT_HARNESS)
    script = folder / "test" / "test.py"
    reason = None
    if not script.is_file():
        reason = f"no W3C Trace Context harness at {folder} (set {HARNESS_ENV})"
    elif importlib.util.find_spec("aiohttp") is None:
        reason = "the W3C harness needs aiohttp (in the [dev] extra)"
    if reason is not None:
        if os.environ.get("CI", "").strip().lower() == "true":
            pytest.fail(f"{reason}; under CI=true the harness must run")
        pytest.skip(reason)
    return script


def run_harness(script: Path, endpoint: str) -> HarnessRun:
    """Run the whole harness against *endpoint*, its own server on a free loopback port.

    The harness binds its port itself (aiohttp, with ``SO_REUSEADDR``): the port stays
    reserved for the run, and a run that finds it taken anyway is started again on another.
    """
    return start_retrying(lambda: _run_harness_once(script, endpoint))


def _run_harness_once(script: Path, endpoint: str) -> HarnessRun:
    with reserved_ports(1) as (port,):
        run = _run_harness_on(script, endpoint, str(port))
    if run.ran == 0 and says_address_in_use(run.output):
        raise AddressInUseError(port, run.output[-2000:])
    return run


def _run_harness_on(script: Path, endpoint: str, port: str) -> HarnessRun:
    env = {
        **os.environ,
        "HARNESS_HOST": "127.0.0.1",
        "HARNESS_PORT": port,
        "HARNESS_BIND_PORT": port,
        "STRICT_LEVEL": "2",
        "SPEC_LEVEL": "2",  # Level 2 too: the random flag of traceparent is propagated
    }
    env.pop("HARNESS_DEBUG", None)
    result = subprocess.run(
        [sys.executable, str(script), endpoint],
        cwd=script.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = result.stdout + result.stderr
    ran = re.search(r"^Ran (\d+) tests? in", output, re.MULTILINE)
    skipped = re.search(r"skipped=(\d+)\)$", output, re.MULTILINE)
    return HarnessRun(
        ran=int(ran.group(1)) if ran else 0,
        skipped=int(skipped.group(1)) if skipped else 0,
        failed=set(re.findall(r"^FAIL: (test_\w+) ", output, re.MULTILINE)),
        errors=set(re.findall(r"^ERROR: (\w+)", output, re.MULTILINE)),
        output=output,
    )


def _start_zero_code(files: ServiceFiles) -> Service:
    """``opentelemetry-instrument gunicorn`` on the Django app, otel_context not installed."""
    command = [
        str(BIN / "opentelemetry-instrument"),
        str(BIN / "gunicorn"),
        APPS["django"][0],
        "--worker-class=gthread",
        "--workers=1",
        "--threads=4",
        "--bind=fd://{fd}",
        "--no-control-socket",
    ]
    settings = "tests.testapp.zerocode_settings"
    env = {
        # DjangoInstrumentor reads the settings before the app module is imported
        "DJANGO_SETTINGS_MODULE": settings,
        "TESTAPP_SETTINGS": settings,
        "OTEL_SERVICE_NAME": "w3c-zero-code",
        "OTEL_TRACES_EXPORTER": "none",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
    }
    return start_ready_server(command, files, env, ready_timeout=30)


def _run_against(app: str, tmp_path: Path, *, control: bool) -> HarnessRun:
    if app == "flask":
        skip_if_omitted("opentelemetry-instrumentation-flask")
    script = _harness_script()
    files = ServiceFiles.in_dir(tmp_path / "service")
    if app == ZERO_CODE:
        service, path = _start_zero_code(files), APPS["django"][1]
    else:
        wsgi_app, path = APPS[app]
        env = {CONTROL_ENV: "true" if control else "false"}
        service = start_gunicorn(files, workers=1, threads=4, app=wsgi_app, env=env)
    try:
        run = run_harness(script, service.url(path))
    finally:
        returncode = service.stop()
    assert returncode == 0, service.stderr()
    assert "Traceback" not in without_known_upstream_tracebacks(service.stderr())
    return run


class TestW3CHarness:
    @pytest.mark.parametrize("app", [*sorted(APPS), ZERO_CODE])
    def test_every_case_passes(self, app: str, tmp_path: Path) -> None:
        """With otel_context the whole harness passes: 0 failures, 0 errors, every case run.

        Also when ``opentelemetry-instrument`` alone enables otel_context.
        """
        run = _run_against(app, tmp_path, control=False)
        assert (run.ran, run.skipped) == (HARNESS_TESTS, 0), run.output
        assert run.failed == API_FAILURES, run.output
        assert run.errors == set(), run.output

    @pytest.mark.parametrize("app", sorted(APPS))
    def test_control_without_the_wrapper_fails_the_tracestate_cases(
        self, app: str, tmp_path: Path
    ) -> None:
        """With the SDK's propagators the harness fails exactly the three tracestate cases."""
        run = _run_against(app, tmp_path, control=True)
        assert (run.ran, run.skipped) == (HARNESS_TESTS, 0), run.output
        assert run.failed == SDK_FAILURES | API_FAILURES, run.output
        assert run.errors == set(), run.output
