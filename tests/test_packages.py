"""tests/_packages: skip without an optional package, fail where needed, skip where omitted."""

from __future__ import annotations

import pytest

from tests._packages import (
    OMIT_ENV,
    REQUIRED_ENV,
    omitted_packages,
    require,
    required_packages,
    skip_if_omitted,
)

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


class TestOmitted:
    def test_omitted_package_skips_even_when_it_imports(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Left out of the cell (any spelling): require() skips, naming the variable and noxfile."""
        monkeypatch.setenv(OMIT_ENV, "Django_GUID, structlog")
        assert omitted_packages() == frozenset({"django-guid", "structlog"})
        with pytest.raises(
            pytest.skip.Exception, match=f"left out of this matrix cell.*{OMIT_ENV}"
        ):
            require("structlog", "structlog.contextvars")

    def test_a_package_not_omitted_does_not_skip(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Another package omitted, or the variable empty: skip_if_omitted() returns quietly."""
        monkeypatch.setenv(OMIT_ENV, "opentelemetry-instrumentation-flask")
        assert skip_if_omitted("structlog") is None
        monkeypatch.setenv(OMIT_ENV, " , ")
        assert omitted_packages() == frozenset()
