"""Optional packages a test needs: skip when missing, unless the matrix cell requires them.

``OTEL_CONTEXT_REQUIRED_PACKAGES`` (comma-separated distribution names, set per matrix cell)
names the packages a cell installs: there, a missing one FAILS the test instead of skipping it.
``OTEL_CONTEXT_TEST_OMIT`` (comma-separated, set by ``noxfile.py``) names the packages a cell
cannot install (``noxfile.py`` says why, per cell): tests needing one skip there, whatever ``CI``.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from types import ModuleType

REQUIRED_ENV = "OTEL_CONTEXT_REQUIRED_PACKAGES"
OMIT_ENV = "OTEL_CONTEXT_TEST_OMIT"


def required_packages() -> frozenset[str]:
    """The distribution names the environment says must be installed, normalised."""
    raw = os.environ.get(REQUIRED_ENV, "")
    return frozenset(_normalise(name) for name in raw.split(",") if name.strip())


def omitted_packages() -> frozenset[str]:
    """The distribution names this matrix cell leaves out, normalised."""
    raw = os.environ.get(OMIT_ENV, "")
    return frozenset(_normalise(name) for name in raw.split(",") if name.strip())


def skip_if_omitted(distribution: str) -> None:
    """Skip the calling test (or module, at module level) if this cell leaves *distribution* out."""
    if _normalise(distribution) in omitted_packages():
        reason = f"{distribution} is left out of this matrix cell ({OMIT_ENV}; see noxfile.py)"
        pytest.skip(reason, allow_module_level=True)


def _normalise(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace(".", "-")


def require(distribution: str, module: str) -> ModuleType:
    """Import *module* of *distribution*; skip the calling test module if it is missing.

    Call at module level. When *distribution* is named in ``OTEL_CONTEXT_REQUIRED_PACKAGES``
    the missing package fails collection instead; when it is named in ``OTEL_CONTEXT_TEST_OMIT``
    the test module skips even if the package happens to import.
    """
    skip_if_omitted(distribution)
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        reason = f"{distribution} is not installed ({exc}); pip install {distribution}"
        if _normalise(distribution) in required_packages():
            pytest.fail(f"{reason}, and {REQUIRED_ENV} requires it", pytrace=False)
        pytest.skip(reason, allow_module_level=True)
