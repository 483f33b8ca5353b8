"""The test matrix: one nox session per supported cell, each pinned by ``constraints/<cell>.txt``.

The cells span the range ``otel_context/compat.py`` declares (issue 17)::

    nox -l                                    # list the cells
    nox                                       # make matrix: every cell's non-slow suite
    nox -s py313-django61-otel-newest         # one cell; arguments after -- go to pytest
    nox -t lock                               # make matrix-lock: constraints/<cell>.in -> .txt

The main cell (Python 3.11, Django 5.2, ``constraints.txt``) is ``make test``'s, in ``.venv``.
Interpreters are pyenv's builds, found by path; nothing is downloaded. Under ``CI=true`` a
missing interpreter fails the run instead of skipping the cell.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import nox
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent
CONSTRAINTS = ROOT / "constraints"
OMIT_ENV = "OTEL_CONTEXT_TEST_OMIT"
REQUIRED_ENV = "OTEL_CONTEXT_REQUIRED_PACKAGES"
CI = os.environ.get("CI", "").strip().lower() == "true"

# The main cell runs the linters and type checker (make lint), builds the docs (make docs) and
# the release (make dist); matrix cells only run the tests, so they leave these out of dev.
NOT_FOR_TESTS = frozenset(
    {
        *("ruff", "mypy", "django-stubs", "types-requests", "types-pyyaml"),
        *("nox", "build", "twine", "sphinx", "myst-parser"),
    }
)


@dataclass(frozen=True)
class Cell:
    """One matrix cell: an interpreter, the project's extras and what this cell leaves out."""

    name: str
    python: str
    extras: tuple[str, ...]
    # distribution -> why it cannot be installed in this cell; tests needing it skip here only
    omit: dict[str, str] = field(default_factory=dict)
    requirements: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)


CELLS = (
    Cell(
        "py313-django61-otel-newest",
        python="3.13",
        extras=("asgi", "requests", "httpx", "django-tasks"),
        omit={
            # The newest contrib train is 0.66b2; these two stop at 0.66b1, which pins
            # opentelemetry-instrumentation==0.66b1, so they cannot join the newest train.
            "opentelemetry-instrumentation-flask": "no release on the 0.66b2 contrib train",
            "opentelemetry-instrumentation-urllib3": "no release on the 0.66b2 contrib train",
            "opentelemetry-instrumentation-structlog": "no release on the 0.66b2 contrib train",
        },
    ),
    Cell(
        "py312-django60",
        python="3.12",
        extras=("asgi", "requests", "httpx", "django-tasks"),
        omit={
            # django-guid 3.6.1 declares django<6.0 on Python 3.10-3.12 (<7.0 only on 3.13+)
            "django-guid": "declares Django <6.0 on Python 3.12",
            # first released on the 0.65b0 contrib train
            "opentelemetry-instrumentation-structlog": "no release on the 0.63b1 contrib train",
        },
    ),
    Cell(
        "py311-django52-otel-floor",
        python="3.11",
        extras=("asgi", "requests", "httpx"),
        omit={
            # first released on the 0.65b0 contrib train
            "opentelemetry-instrumentation-structlog": "no release on the 0.61b0 contrib train",
        },
        # the floors are Flagsmith's pins (issue 17): its logging/OTel setup runs next to ours
        requirements=("flagsmith-common[otel]==3.16.0",),
        env={REQUIRED_ENV: "flagsmith-common"},
    ),
)


def interpreter(version: str) -> str:
    """The newest pyenv build of Python *version* (``X.Y``), by path; else ``pythonX.Y``."""
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    builds = []
    for binary in root.glob(f"{version}.*/bin/python{version}"):
        patch = re.fullmatch(rf"{re.escape(version)}\.(\d+)", binary.parent.parent.name)
        if patch:
            builds.append((int(patch.group(1)), binary))
    return str(max(builds)[1]) if builds else f"python{version}"


def requirements(cell: Cell) -> list[str]:
    """What a cell installs: the project (editable) with its extras, the dev extra's test tools."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    dev = project["optional-dependencies"]["dev"]
    left_out = NOT_FOR_TESTS | {canonicalize_name(name) for name in cell.omit}
    keep = [spec for spec in dev if canonicalize_name(Requirement(spec).name) not in left_out]
    return ["-e", f".[{','.join(cell.extras)}]", *keep, *cell.requirements]


nox.options.default_venv_backend = "venv"
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = CI
nox.options.sessions = [cell.name for cell in CELLS]


def _test_session(cell: Cell) -> None:
    @nox.session(name=cell.name, python=interpreter(cell.python), tags=["matrix"])
    def test(session: nox.Session) -> None:
        session.install("-c", str(CONSTRAINTS / f"{cell.name}.txt"), *requirements(cell))
        env = {OMIT_ENV: ",".join(sorted(cell.omit)), **cell.env}
        # the rest of the environment (CI, OTEL_CONTEXT_W3C_HARNESS, ...) passes through
        pytest = ("python", "-m", "pytest", "-m", "not slow", "-q")
        session.run(*pytest, *session.posargs, env=env)


def _lock_session(cell: Cell) -> None:
    @nox.session(name=f"lock-{cell.name}", python=interpreter(cell.python), tags=["lock"])
    def lock(session: nox.Session) -> None:
        source = CONSTRAINTS / f"{cell.name}.in"
        with tempfile.TemporaryDirectory() as tmp:
            report = Path(tmp) / "report.json"
            session.run(
                "python", "-m", "pip", "install", "--quiet", "--dry-run", "--ignore-installed",
                "--report", str(report), "-c", str(source), *requirements(cell),
            )  # fmt: skip
            resolved = json.loads(report.read_text(encoding="utf-8"))["install"]
        pins = sorted(
            f"{canonicalize_name(item['metadata']['name'])}=={item['metadata']['version']}"
            for item in resolved
            if canonicalize_name(item["metadata"]["name"]) != "otel-context"
        )
        header = (
            f"# Generated by `make matrix-lock` from constraints/{cell.name}.in "
            f"(Python {cell.python}); do not edit.\n"
        )
        (CONSTRAINTS / f"{cell.name}.txt").write_text(header + "\n".join(pins) + "\n")
        session.log(f"constraints/{cell.name}.txt: {len(pins)} pins")


for _cell in CELLS:
    _test_session(_cell)
    _lock_session(_cell)
