"""A configuration read before Django's settings exist is provisional, never fixed (issue 22).

Each test runs a fresh interpreter: whether Django's settings are configured yet is process
state, and so is what the process read before they were.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from otel_context import conf

REPO = Path(__file__).resolve().parent.parent

SETTINGS = """
import django
from django.conf import settings

settings.configure(
    INSTALLED_APPS=["otel_context"],
    OTEL_CONTEXT={
        "TRACE_RESPONSE_HEADER": "traceresponse",
        "RESOLVERS": {"tenant.id": "tests.testapp.identifiers.tenant_from_header"},
        {span_file}
    },
)
django.setup()
"""


def _run(before: str, *, span_file: str = "", check: str = "") -> subprocess.CompletedProcess[str]:
    """*before* runs before Django's settings are configured, then they are and setup runs."""
    code = "\n".join(
        [
            "from otel_context.conf import get_config",
            textwrap.dedent(before),
            SETTINGS.replace("{span_file}", span_file),
            "config = get_config()",
            "print(config.trace_response_header, sorted(config.resolvers))",
            textwrap.dedent(check),
        ]
    )
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


EXPECTED = "traceresponse ['tenant.id']"


class TestReadBeforeSettings:
    def test_configure_providers_in_post_fork_then_setup(self) -> None:
        """The README's gunicorn recipe order: the settings' options still take effect."""
        result = _run("import otel_context\notel_context.configure_providers()")
        assert result.stdout.splitlines()[-1] == EXPECTED
        assert "otel_context:" not in result.stderr, "nothing read early differs"

    def test_celery_worker_start_up(self) -> None:
        """``otel_context.celery.instrument()`` in a worker module, before Django is set up."""
        result = _run("import otel_context.celery\notel_context.celery.instrument()")
        assert result.stdout.splitlines()[-1] == EXPECTED

    def test_the_provisional_configuration_is_the_environment_one(self) -> None:
        """Before the settings, what the environment and keywords say; nothing is cached."""
        result = _run(
            "assert get_config().trace_response_header is None\nassert get_config() is get_config()"
        )
        assert result.stdout.splitlines()[-1] == EXPECTED

    def test_an_early_read_that_matters_is_named_once(self) -> None:
        """SPAN_FILE only in settings, read by configure_providers() before them: one line."""
        result = _run(
            "import otel_context\notel_context.configure_providers()",
            span_file='"SPAN_FILE": "/tmp/never-opened.jsonl",',
            check="get_config(); get_config()",
        )
        lines = [line for line in result.stderr.splitlines() if line.startswith("otel_context:")]
        assert len(lines) == 1, result.stderr
        assert "SPAN_FILE was read before Django's settings were configured" in lines[0]
        assert "Set OTEL_CONTEXT_SPAN_FILE in the environment" in lines[0]

    def test_trace_keeping_only_in_settings_read_early_is_named(self) -> None:
        """KEEP_NOTABLE_TRACES only in settings, and configure_providers() before them: said."""
        result = _run(
            "import otel_context\notel_context.configure_providers()",
            span_file='"KEEP_NOTABLE_TRACES": True,',
            check="get_config(); get_config()",
        )
        lines = [line for line in result.stderr.splitlines() if line.startswith("otel_context:")]
        assert len(lines) == 1, result.stderr
        assert "KEEP_NOTABLE_TRACES was read before Django's settings" in lines[0]
        assert "Set OTEL_CONTEXT_KEEP_NOTABLE_TRACES in the environment" in lines[0]


class TestFastPath:
    def test_the_cached_configuration_is_returned_as_is(self) -> None:
        """Settings configured (the test project): one object, no rebuilding per call."""
        first = conf.get_config()
        assert conf.get_config() is first
        assert conf._provisional is None


def test_settings_configured_before_the_app_registry_is_provisional_then_full() -> None:
    """An ``asgi.py`` that sets up tracing before ``get_asgi_application()`` (the example's,
    under ``opentelemetry-instrument``): the settings are configured, the app registry is not,
    and the setting's resolvers import models. Reading a start-up option then must not raise;
    once ``django.setup()`` ran, the full configuration applies."""
    code = textwrap.dedent(
        """
        import os
        os.environ["DJANGO_SETTINGS_MODULE"] = "example.settings"
        from django.conf import settings
        settings.INSTALLED_APPS  # configured now; django.setup() has not run
        from otel_context.conf import get_config, startup_option
        print("early", startup_option("keep_notable_traces"), sorted(get_config().resolvers))
        import django
        django.setup()
        print("late", sorted(get_config().resolvers))
        """
    )
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "early False []",
        "late ['environment.id', 'organisation.id', 'project.id']",
    ]
