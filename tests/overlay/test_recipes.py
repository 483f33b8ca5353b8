"""The README's "Apps that own their settings" recipes, taken from README.md and run.

An application builds INSTALLED_APPS and LOGGING itself (``tests.overlay.app_settings``,
standing in for ``myproject.settings``). The overlay settings module and the ``wsgi.py`` of
the README are written out as ``myproject.settings_otel`` and ``myproject.wsgi``, checked by
real ``manage.py check`` runs, and served by gunicorn.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests._markdown import README, marked_block
from tests._servers import migrated_example_db, read_json_lines, running_gunicorn, service_files

ROOT = Path(__file__).resolve().parents[2]
HEX_ID = re.compile(r"[0-9a-f]{32}")
#: The application's own settings, as the recipes import them.
APP_SETTINGS = "from tests.overlay.app_settings import *  # noqa: F403\n"


def readme_recipe(marker: str) -> str:
    """The README's Python block under ``<!-- {marker}: ... -->``, as written."""
    return marked_block(README, marker).code


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding ``myproject``: the app's settings and the README's two files."""
    root = tmp_path_factory.mktemp("recipes")
    package = root / "myproject"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "settings.py").write_text(APP_SETTINGS)
    (package / "settings_otel.py").write_text(readme_recipe("overlay-settings"))
    (package / "wsgi.py").write_text(readme_recipe("overlay-wsgi"))
    nologging = root / "nologging"  # an application that leaves LOGGING to Django
    nologging.mkdir()
    (nologging / "__init__.py").write_text("")
    (nologging / "settings.py").write_text(APP_SETTINGS + "del LOGGING  # noqa: F821\n")
    recipe = readme_recipe("overlay-settings").replace("myproject", "nologging")
    (nologging / "settings_otel.py").write_text(recipe)
    return root


@pytest.fixture(scope="module")
def example_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated example database, copied for each server run."""
    return migrated_example_db(tmp_path_factory.mktemp("recipes-db"))


def check(project: Path, settings_module: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``manage.py check`` (``python -m django check``) with *settings_module*."""
    return subprocess.run(
        [sys.executable, "-m", "django", "check"],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": settings_module,
            "PYTHONPATH": os.pathsep.join([str(project), str(ROOT)]),
            "EXAMPLE_DB": os.devnull,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _ids(result: subprocess.CompletedProcess[str]) -> list[str]:
    return re.findall(r"\((otel_context\.[EW]\d{3})\)", result.stdout + result.stderr)


class TestManagePyCheck:
    def test_the_overlay_recipe_is_in_place(self, project: Path) -> None:
        """The README's overlay: hooks, middleware and filter in place, nothing reported."""
        result = check(project, "myproject.settings_otel")
        assert result.returncode == 0, result.stderr
        assert _ids(result) == []

    def test_the_overlay_recipe_without_logging(self, project: Path) -> None:
        """An application with no LOGGING: the recipe adds none, and check is quiet."""
        result = check(project, "nologging.settings_otel")
        assert result.returncode == 0, result.stderr
        assert _ids(result) == []

    def test_an_overlay_without_the_filter(self, project: Path) -> None:
        """otel_context added, LOGGING left as is: W008 names the handler and the fields."""
        result = check(project, "tests.overlay.no_filter_settings")
        output = result.stdout + result.stderr
        assert result.returncode == 0, output  # a warning, not an error
        assert _ids(result) == ["otel_context.W008"]
        assert (
            "The logging handler 'lines' (FileHandler on logger 'root') formats"
            " %(correlation_id)s, %(trace_id)s but has no OTelContextFilter" in output
        )

    def test_hooks_and_middleware_missing(self, project: Path) -> None:
        """OTEL_PYTHON_DJANGO_INSTRUMENT=False: no hooks (W006), no OTel middleware (W007)."""
        result = check(project, "myproject.settings_otel", OTEL_PYTHON_DJANGO_INSTRUMENT="False")
        output = result.stdout + result.stderr
        assert sorted(_ids(result)) == ["otel_context.W006", "otel_context.W007"], output
        assert "request_hook and response_hook are not on the Django instrumentation" in output
        assert "The OpenTelemetry middleware is not in MIDDLEWARE" in output

    def test_the_application_alone_reports_nothing_of_ours(self, project: Path) -> None:
        """Without the overlay otel_context is not installed: its checks cannot run (README)."""
        result = check(project, "myproject.settings")
        assert result.returncode == 0, result.stderr
        assert _ids(result) == []


@pytest.mark.integration
@pytest.mark.parametrize(
    ("settings_module", "app"),
    [
        ("myproject.settings_otel", "example.wsgi:application"),
        ("myproject.settings", "myproject.wsgi:application"),
    ],
)
def test_the_recipe_serves_ids(
    project: Path, tmp_path: Path, example_db: Path, settings_module: str, app: str
) -> None:
    """Under gunicorn: the response echoes the id and the server span has it."""
    files = service_files(tmp_path / "service", example_db)
    stdlib_log = tmp_path / "stdlib.log"
    env = {
        "DJANGO_SETTINGS_MODULE": settings_module,
        "PYTHONPATH": os.pathsep.join([str(project), str(ROOT)]),
        "EXAMPLE_STDLIB_LOG_FILE": str(stdlib_log),
    }
    with running_gunicorn(files, workers=1, threads=2, env=env, app=app) as service:
        response = requests.get(service.url("/healthz"), headers={"Correlation-Id": "recipe-1"})
        missing = requests.get(service.url("/nope"), headers={"Correlation-Id": "recipe-2"})
    assert service.process.returncode == 0, service.stderr()
    assert response.headers["Correlation-Id"] == "recipe-1"
    assert missing.status_code == 404
    assert missing.headers["Correlation-Id"] == "recipe-2"
    spans = read_json_lines(files.span_file)
    ids = {span["attributes"].get("correlation.id") for span in spans if "attributes" in span}
    assert {"recipe-1", "recipe-2"} <= ids
    if settings_module == "myproject.settings_otel":  # the overlay's filter: ids on the line
        (line,) = [line for line in stdlib_log.read_text().splitlines() if "Not Found" in line]
        assert "correlation_id=recipe-2" in line
        assert HEX_ID.search(line.split("trace_id=", 1)[1].split(" ", 1)[0])
