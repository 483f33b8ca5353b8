"""pyproject.toml and the matrix's pins state exactly the range ``otel_context.compat`` declares."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

import otel_context
from otel_context import compat
from otel_context.compat import SUPPORTED, Range, install_hint, installed_version

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT: dict[str, Any] = PYPROJECT["project"]
CONTRIB = SUPPORTED["opentelemetry-instrumentation-django"]
SDK = SUPPORTED["opentelemetry-sdk"]


def _requirements(specs: list[str]) -> dict[str, Requirement]:
    return {canonicalize_name(req.name): req for req in map(Requirement, specs)}


def _in_range(version: Version, supported: Range) -> bool:
    return Version(supported.floor) <= version < Version(supported.ceiling)


def _feature_releases(supported: Range, minors: range) -> list[str]:
    """``X.Y`` releases inside *supported*, for the ``minors`` each major has."""
    floor, ceiling = Version(supported.floor), Version(supported.ceiling)
    candidates = (
        Version(f"{major}.{minor}")
        for major in range(floor.major, ceiling.major + 1)
        for minor in minors
    )
    return [str(v) for v in candidates if floor <= v < ceiling]


def _classified(prefix: str) -> set[str]:
    pattern = re.compile(rf"{re.escape(prefix)} :: (\d+\.\d+)$")
    return {m.group(1) for c in PROJECT["classifiers"] if (m := pattern.match(c))}


def _cell_pins() -> dict[str, dict[str, Version]]:
    """Every matrix cell's pins, and the main cell's (``constraints.txt``), by file name."""
    files = [ROOT / "constraints.txt", *sorted((ROOT / "constraints").glob("*.txt"))]
    cells = {}
    for path in files:
        pins = {}
        for line in path.read_text(encoding="utf-8").splitlines():
            if "==" in line and not line.lstrip().startswith("#"):
                name, _, version = line.partition("==")
                pins[canonicalize_name(name.strip())] = Version(version.strip())
        cells[path.name] = pins
    return cells


class TestPyproject:
    def test_requires_python_is_the_supported_range(self) -> None:
        """requires-python is compat's Python range, nothing wider or narrower."""
        assert SpecifierSet(PROJECT["requires-python"]) == SpecifierSet(
            SUPPORTED["python"].specifier
        )

    @pytest.mark.parametrize("name", sorted(set(SUPPORTED) - {"python"}))
    def test_each_dependency_is_its_supported_range(self, name: str) -> None:
        """Django, structlog, the OTel API/SDK and the Django instrumentation: compat's ranges."""
        dependency = _requirements(PROJECT["dependencies"])[name]
        assert dependency.specifier == SpecifierSet(SUPPORTED[name].specifier)

    def test_no_dependency_outside_compat(self) -> None:
        """Every run-time dependency has a declared (and tested) range."""
        assert set(_requirements(PROJECT["dependencies"])) == set(SUPPORTED) - {"python"}

    @pytest.mark.parametrize("extra", sorted(set(PROJECT["optional-dependencies"]) - {"dev"}))
    def test_otel_packages_in_extras_share_the_floors(self, extra: str) -> None:
        """Contrib packages start at the contrib floor, exporters at the SDK's range."""
        for name, req in _requirements(PROJECT["optional-dependencies"][extra]).items():
            if name.startswith("opentelemetry-exporter-"):
                assert req.specifier == SpecifierSet(SDK.specifier), name
            elif name.startswith("opentelemetry-"):
                assert req.specifier == SpecifierSet(f">={CONTRIB.floor}"), name

    def test_python_classifiers_are_the_supported_minors(self) -> None:
        """One classifier per supported Python 3.x: 3.11, 3.12, 3.13."""
        expected = _feature_releases(SUPPORTED["python"], range(20))
        assert _classified("Programming Language :: Python") == set(expected)
        assert expected == ["3.11", "3.12", "3.13"]

    def test_django_classifiers_are_the_supported_feature_releases(self) -> None:
        """One classifier per Django feature release in range (X.0, X.1, X.2): 5.2, 6.0, 6.1."""
        expected = _feature_releases(SUPPORTED["django"], range(3))
        assert _classified("Framework :: Django") == set(expected)
        assert expected == ["5.2", "6.0", "6.1"]

    def test_version_comes_from_the_package(self) -> None:
        """The version is otel_context.__version__, read by setuptools: one place."""
        assert PROJECT["dynamic"] == ["version"]
        assert "version" not in PROJECT
        dynamic = PYPROJECT["tool"]["setuptools"]["dynamic"]["version"]
        assert dynamic == {"attr": "otel_context.__version__"}
        assert str(Version(otel_context.__version__)) == otel_context.__version__


class TestMatrixPins:
    def test_every_pin_of_a_supported_package_is_in_range(self) -> None:
        """No cell (the main one included) tests a release outside what is declared."""
        for cell, pins in _cell_pins().items():
            for name, supported in SUPPORTED.items():
                if name in pins:
                    assert _in_range(pins[name], supported), (cell, name, pins[name])

    def test_every_classified_django_release_is_tested(self) -> None:
        """Each Django feature release in the classifiers is some cell's pin."""
        tested = {f"{v.major}.{v.minor}" for v in (p["django"] for p in _cell_pins().values())}
        assert tested == _classified("Framework :: Django")

    def test_every_classified_python_has_a_cell(self) -> None:
        """Each Python in the classifiers is some matrix cell's interpreter."""
        cells = {path.stem for path in (ROOT / "constraints").glob("*.txt")}
        tested = {f"3.{m.group(1)}" for c in cells if (m := re.match(r"py3(\d+)-", c))}
        assert tested == _classified("Programming Language :: Python")

    def test_a_cell_tests_every_floor(self) -> None:
        """The floor cell pins the floors themselves: OTel 1.40.0/0.61b0 and structlog 24.4.0."""
        floor = _cell_pins()["py311-django52-otel-floor.txt"]
        for name in ("structlog", "opentelemetry-api", "opentelemetry-sdk", CONTRIB.distribution):
            assert floor[name] == Version(SUPPORTED[name].floor), name


def _readme_table(marker: str) -> list[list[str]]:
    text = (ROOT / "docs" / "versions.md").read_text(encoding="utf-8")
    table = text.split(f"<!-- {marker}", 1)[1].split("\n\n", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("|")][2:]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows]


class TestReadmeSupportTable:
    def test_each_range_is_stated_as_declared(self) -> None:
        """The support table's specifiers are compat's, in its order."""
        specifiers = [row[-1].strip("`") for row in _readme_table("support-table")]
        expected = [SUPPORTED[name].specifier for name in SUPPORTED if name != "opentelemetry-sdk"]
        assert specifiers == expected

    def test_each_matrix_cell_row_states_its_pins(self) -> None:
        """Each cell's row shows the Django, structlog, API and contrib its constraints pin."""
        rows = {row[0].split("`")[1]: row for row in _readme_table("matrix-table")}
        pins = _cell_pins()
        assert set(rows) == {name.removesuffix(".txt") for name in pins} - {"constraints"} | {
            "make test"
        }
        for name, row in rows.items():
            cell = pins["constraints.txt" if name == "make test" else f"{name}.txt"]
            for column, dist in enumerate(
                ("django", "structlog", "opentelemetry-api", CONTRIB.distribution), start=2
            ):
                assert row[column] == str(cell[dist]), (name, dist)


class TestInstallHint:
    """Hints name a command that works today: otel-context is not on an index yet (issue 21)."""

    def test_an_instrumentation_is_pinned_to_the_django_instrumentations_train(self) -> None:
        """The ASGI hint installs the instrumentation at the Django instrumentation's version."""
        train = installed_version("opentelemetry-instrumentation-django")
        assert install_hint("opentelemetry-instrumentation-asgi", "asgi") == (
            f"pip install 'opentelemetry-instrumentation-asgi=={train}'"
            " (otel-context's [asgi] extra)"
        )
        # that release exists: it is the one installed here, next to the Django instrumentation
        assert installed_version("opentelemetry-instrumentation-asgi") == train

    def test_an_exporter_is_pinned_to_the_sdk(self) -> None:
        """An exporter goes with the SDK's version, not the contrib train's."""
        sdk = installed_version("opentelemetry-sdk")
        hint = install_hint("opentelemetry-exporter-otlp-proto-http", "otlp")
        assert hint.startswith(f"pip install 'opentelemetry-exporter-otlp-proto-http=={sdk}'")
        assert installed_version("opentelemetry-exporter-otlp-proto-http") == sdk

    def test_without_the_train_installed_the_hint_is_unpinned(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """No version to pin to: the bare package, still a command that works."""
        monkeypatch.setattr(compat, "installed_version", lambda distribution: None)
        assert install_hint("opentelemetry-instrumentation-asgi", "asgi").startswith(
            "pip install 'opentelemetry-instrumentation-asgi' "
        )

    def test_no_message_installs_otel_context_from_an_index(self) -> None:
        """No string in otel_context/ tells a user to ``pip install`` otel-context itself."""
        pattern = re.compile(r"pip install ['\"]?otel[-_]context")
        for path in sorted((ROOT / "otel_context").rglob("*.py")):
            assert not pattern.search(path.read_text(encoding="utf-8")), path
