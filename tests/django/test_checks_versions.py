"""Start-up checks of the installed versions (W004, E005) and of the zero-code settings trap."""

from __future__ import annotations

import io
import logging

import pytest
from django.conf import UserSettingsHolder, global_settings, settings
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from otel_context import compat
from otel_context.django import checks, instrumentation


@pytest.fixture
def versions(monkeypatch: pytest.MonkeyPatch) -> dict[str, str | None]:
    """Play these versions to the checks; distributions not named keep their real version."""
    played: dict[str, str | None] = {}
    real = compat.installed_version

    def installed_version(distribution: str) -> str | None:
        return played[distribution] if distribution in played else real(distribution)

    monkeypatch.setattr(compat, "installed_version", installed_version)
    return played


class TestVersions:
    def test_the_installed_versions_are_supported(self) -> None:
        """Every matrix cell is inside the declared range: no message."""
        assert compat.out_of_range() == []
        assert checks.check_versions() == []

    @pytest.mark.parametrize(
        ("distribution", "version"),
        [
            ("django", "6.2"),
            ("django", "6.2a1"),
            ("structlog", "27.1.0"),
            ("opentelemetry-api", "2.0.0"),
            ("opentelemetry-instrumentation-django", "1.0.0"),
            ("python", "3.14.0"),
        ],
    )
    def test_newer_than_tested_is_a_warning(
        self, versions: dict[str, str | None], distribution: str, version: str
    ) -> None:
        """W004 names the release and the supported range; manage.py still runs."""
        versions[distribution] = version
        (warning,) = checks.check_versions()
        assert warning.id == "otel_context.W004"
        supported = compat.SUPPORTED[distribution]
        assert f"{distribution} {version} is newer" in warning.msg
        assert f"({distribution}{supported.specifier})" in warning.msg
        call_command("check")  # a warning does not stop it

    @pytest.mark.parametrize(
        ("distribution", "version"),
        [
            ("django", "5.1.4"),
            ("structlog", "24.3.0"),
            ("opentelemetry-sdk", "1.39.1"),
            ("opentelemetry-instrumentation-django", "0.60b0"),
            ("opentelemetry-instrumentation-django", "0.61b0.dev1"),
        ],
    )
    def test_older_than_the_floor_is_an_error(
        self, versions: dict[str, str | None], distribution: str, version: str
    ) -> None:
        """E005 says what is supported and how to get it; manage.py check stops."""
        versions[distribution] = version
        (error,) = checks.check_versions()
        specifier = compat.SUPPORTED[distribution].specifier
        assert error.id == "otel_context.E005"
        assert f"{distribution} {version} is older" in error.msg
        assert error.hint == f"pip install '{distribution}{specifier}'"
        with pytest.raises(SystemCheckError, match=r"otel_context\.E005"):
            call_command("check")

    @pytest.mark.parametrize("version", [None, "not-a-version", "5.2.19", "6.1.3", "6.2.dev0"])
    def test_in_range_unknown_or_missing_says_nothing(
        self, versions: dict[str, str | None], version: str | None
    ) -> None:
        """Inside the range, not installed, or unparsable: no guess, no message."""
        versions["django"] = version
        messages = checks.check_versions()
        if version == "6.2.dev0":  # the next line's first development release: untested
            assert [message.id for message in messages] == ["otel_context.W004"]
        else:
            assert messages == []

    def test_each_out_of_range_distribution_is_reported(
        self, versions: dict[str, str | None]
    ) -> None:
        """Several at once: one message each, in the order of compat.SUPPORTED."""
        versions.update({"django": "7.0", "structlog": "23.1.0"})
        assert [m.id for m in checks.check_versions()] == ["otel_context.W004", "otel_context.E005"]

    def test_contrib_instrumentations_share_the_django_instrumentation_range(self) -> None:
        """The Flask instrumentation's supported range is the Django one's, under its name."""
        flask = compat.supported_range("opentelemetry-instrumentation-flask")
        django = compat.SUPPORTED["opentelemetry-instrumentation-django"]
        assert flask is not None
        assert (flask.floor, flask.ceiling) == (django.floor, django.ceiling)
        assert compat.supported_range("requests") is None

    def test_python_is_the_interpreter(self) -> None:
        """The "python" entry is the running interpreter, not a distribution."""
        import platform

        assert compat.installed_version("python") == platform.python_version()
        assert compat.installed_version("no-such-distribution-otel-context") is None


@pytest.fixture
def default_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Django's settings as ``settings.configure()`` with no arguments leaves them."""
    monkeypatch.setattr(settings, "_wrapped", UserSettingsHolder(global_settings))


class TestSettingsTrap:
    """DjangoInstrumentor fell back to ``settings.configure()``: say so once, with the fix."""

    @pytest.mark.usefixtures("default_settings")
    def test_variable_missing(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Not exported: the line names the variable, the symptom and the export fix."""
        monkeypatch.delenv("DJANGO_SETTINGS_MODULE")
        problem = instrumentation.settings_trap()
        assert problem is not None
        assert "DJANGO_SETTINGS_MODULE is not in the environment" in problem
        assert "ROOT_URLCONF" in problem
        assert "export DJANGO_SETTINGS_MODULE=" in problem
        assert "\n" not in problem

    @pytest.mark.usefixtures("default_settings")
    def test_variable_names_a_module_that_does_not_import(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Exported, but not importable at start-up: the line says so and names PYTHONPATH."""
        monkeypatch.setenv("DJANGO_SETTINGS_MODULE", "mysite.settings")
        problem = instrumentation.settings_trap()
        assert problem is not None
        assert "DJANGO_SETTINGS_MODULE=mysite.settings did not import" in problem
        assert "PYTHONPATH" in problem

    def test_project_settings_are_no_trap(self) -> None:
        """Settings loaded from the module: nothing to say."""
        assert instrumentation.settings_trap() is None

    def test_settings_configured_in_code_are_no_trap(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """settings.configure(ROOT_URLCONF=...) on purpose: nothing to say."""
        holder = UserSettingsHolder(global_settings)
        holder.ROOT_URLCONF = "mysite.urls"
        monkeypatch.setattr(settings, "_wrapped", holder)
        assert instrumentation.settings_trap() is None

    @pytest.mark.usefixtures("default_settings")
    def test_post_instrument_logs_one_line_and_installs_nothing(
        self, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        """The zero-code hook logs exactly one error, no traceback, and raises nothing."""
        monkeypatch.delenv("DJANGO_SETTINGS_MODULE")
        installed: list[str] = []
        monkeypatch.setattr(instrumentation, "_install_hooks", lambda: installed.append("hooks"))
        with caplog.at_level(logging.DEBUG, "otel_context"):
            instrumentation.post_instrument()
        (record,) = caplog.records
        assert record.levelno == logging.ERROR
        assert "export DJANGO_SETTINGS_MODULE=" in record.getMessage()
        assert record.exc_info is None
        assert installed == []


def test_every_check_id_is_documented_in_the_readme_and_the_module() -> None:
    """The "System checks" table (docs/checks.md) and checks.py's docstring list the same ids."""
    import re
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[2] / "docs" / "checks.md").read_text(encoding="utf-8")
    table = docs.split("# System checks", 1)[1].split("\n#", 1)[0]
    from otel_context.django import placement  # W006 to W009 live next to what they inspect

    source = "".join(Path(m.__file__).read_text(encoding="utf-8") for m in (checks, placement))
    raised = set(re.findall(r'id="(otel_context\.[EW]\d{3})"', source))
    assert set(re.findall(r"`(otel_context\.[EW]\d{3})`", table)) == raised
    assert set(re.findall(r"``(otel_context\.[EW]\d{3})``", checks.__doc__ or "")) == raised
    assert {"otel_context.W004", "otel_context.E005", "otel_context.E006"} <= raised


class TestReport:
    """Start-up problems reach a person even before the application configures logging."""

    def report(self, monkeypatch: pytest.MonkeyPatch, handlers: list[logging.Handler]) -> None:
        """``_report()`` through a logger with only *handlers*, none of its parents'."""
        logger = logging.getLogger("tests.report")
        # set here, in the test's call phase: pytest adds its capture handlers before it
        monkeypatch.setattr(logger, "propagate", False)
        monkeypatch.setattr(logger, "handlers", handlers)
        monkeypatch.setattr(instrumentation, "_logger", logger)
        instrumentation._report("otel_context: the problem")

    def test_only_a_non_stream_handler_means_stderr_too(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """E.g. only the OTel distro's exporting LoggingHandler on the root logger."""
        self.report(monkeypatch, [logging.NullHandler()])
        assert capsys.readouterr().err == "otel_context: the problem\n"

    def test_a_stream_handler_shows_it_once(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A handler that prints: not written a second time."""
        stream = io.StringIO()
        self.report(monkeypatch, [logging.StreamHandler(stream)])
        assert stream.getvalue() == "otel_context: the problem\n"
        assert capsys.readouterr().err == ""

    def test_no_handler_at_all_is_pythons_last_resort(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """No handler anywhere: Python's last-resort handler prints it, once."""
        self.report(monkeypatch, [])
        assert capsys.readouterr().err.count("otel_context: the problem") == 1
