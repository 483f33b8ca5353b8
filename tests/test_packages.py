"""tests/_packages.require(): skip without an optional package, fail where the cell needs it."""

from __future__ import annotations

import pytest

from tests._packages import REQUIRED_ENV, require, required_packages

MISSING = "otel-context-no-such-package"


class TestRequire:
    def test_installed_module_is_returned(self) -> None:
        """An importable module comes back as the module object."""
        assert require("structlog", "structlog.contextvars").__name__ == "structlog.contextvars"

    def test_missing_package_skips_with_the_install_hint(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Not required by the cell: the test module is skipped, saying what to install."""
        monkeypatch.delenv(REQUIRED_ENV, raising=False)
        with pytest.raises(pytest.skip.Exception, match=f"pip install {MISSING}"):
            require(MISSING, "otel_context_no_such_module")

    def test_missing_required_package_fails(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Named in OTEL_CONTEXT_REQUIRED_PACKAGES (any spelling): a failure, not a skip."""
        monkeypatch.setenv(REQUIRED_ENV, f"django-guid, {MISSING.upper().replace('-', '_')}")
        assert required_packages() == frozenset({"django-guid", MISSING})
        with pytest.raises(pytest.fail.Exception, match=REQUIRED_ENV):
            require(MISSING, "otel_context_no_such_module")
