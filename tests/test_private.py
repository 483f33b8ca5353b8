"""The private OpenTelemetry names otel_context reads: all listed, all present, loss reported.

Every matrix cell runs this file, so each name is resolved on the oldest and the newest
supported OTel release train. The loss of each is simulated on the real module (the name is
deleted for one test) and must give a start-up error naming it, never silently missing ids.
"""

from __future__ import annotations

import ast
import importlib
import logging
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured

from otel_context import _private, compat
from otel_context._private import MissingPrivateNameError, PrivateName
from otel_context.django import checks
from otel_context.django.instrumentation import instrument, post_instrument

PACKAGE = Path(_private.__file__).parent
FLASK_HOOKS = "otel_context.flask.hooks"


def _installed(name: PrivateName) -> bool:
    return compat.installed_version(name.distribution) is not None


def _skip_unless_installed(name: PrivateName) -> None:
    # Flask's instrumentation is an extra; every other entry comes with otel_context itself.
    if not _installed(name):
        from tests._packages import require

        require(name.distribution, name.module)


def lose(name: PrivateName, monkeypatch: pytest.MonkeyPatch) -> None:
    """Delete *name* from its real module (or class) for the rest of the test."""
    module = importlib.import_module(name.module)
    *parents, last = name.attribute.split(".")
    if name.on_instance:  # e.g. TraceState._dict: a stand-in class whose instances lack it
        (cls,) = parents
        monkeypatch.setattr(module, cls, type(cls, (), {}))
        return
    owner: Any = module
    for part in parents:
        owner = getattr(owner, part)
    if isinstance(getattr(owner, last), ModuleType):  # e.g. opentelemetry._logs
        monkeypatch.setitem(sys.modules, name.path, None)  # None: "import" raises ImportError
    monkeypatch.delattr(owner, last)


def _private_imports(path: Path) -> set[str]:
    """``module.name`` of each ``from opentelemetry... import name`` with a private part."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("opentelemetry"):
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                if any(part.startswith("_") for part in full.split(".")):
                    found.add(full)
    return found


class TestTable:
    @pytest.mark.parametrize("name", _private.ALL, ids=lambda name: name.path)
    def test_each_name_resolves_on_this_release(self, name: PrivateName) -> None:
        """The installed release train has every name otel_context reads."""
        _skip_unless_installed(name)
        assert _private.resolve(name) is not None or name.attribute.endswith("_hook")
        assert _private.missing((name,)) == []

    def test_every_private_import_in_otel_context_is_listed(self) -> None:
        """A new ``from opentelemetry._x import y`` (or ``import _y``) must join the table."""
        listed = {name.path for name in _private.ALL}
        for path in PACKAGE.rglob("*.py"):
            unlisted = _private_imports(path) - listed
            assert not unlisted, f"{path.relative_to(PACKAGE)}: add {sorted(unlisted)} to _private"

    def test_the_scan_sees_private_imports(self, tmp_path: Path) -> None:
        """The guard above would notice one (it is no vacuous pass)."""
        module = tmp_path / "m.py"
        module.write_text("from opentelemetry.sdk._logs import LoggerProvider, _x\n")
        assert _private_imports(module) == {
            "opentelemetry.sdk._logs.LoggerProvider",
            "opentelemetry.sdk._logs._x",
        }


class TestLoss:
    @pytest.mark.parametrize("name", _private.ALL, ids=lambda name: name.path)
    def test_the_message_names_it_the_version_and_the_range(
        self, name: PrivateName, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """resolve() raises one error: the name, the installed release, the supported range."""
        _skip_unless_installed(name)
        lose(name, monkeypatch)
        supported = compat.supported_range(name.distribution)
        assert supported is not None
        with pytest.raises(MissingPrivateNameError) as raised:
            _private.resolve(name)
        text = str(raised.value)
        assert name.path in text
        assert f"{name.distribution} {compat.installed_version(name.distribution)}" in text
        assert f"{name.distribution}{supported.specifier}" in text
        assert text in _private.missing(tuple(filter(_installed, _private.ALL)))

    @pytest.mark.parametrize("name", _private.CORE, ids=lambda name: name.path)
    def test_importing_otel_context_fails_with_that_message(
        self, name: PrivateName, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A core name gone: ``import otel_context`` stops at once, with the message."""
        lose(name, monkeypatch)
        monkeypatch.delitem(sys.modules, "otel_context._private")  # restored after the test
        # an ImportError: the module imported afresh has its own MissingPrivateNameError class
        with pytest.raises(ImportError, match=name.path.replace(".", r"\.")):
            importlib.import_module("otel_context._private")

    @pytest.mark.parametrize("name", _private.FLASK_NAMES, ids=lambda name: name.path)
    def test_importing_the_flask_adapter_fails_with_that_message(
        self, name: PrivateName, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A Flask instrumentation name gone: ``otel_context.flask`` refuses to import."""
        _skip_unless_installed(name)
        importlib.import_module("otel_context.flask")
        lose(name, monkeypatch)
        for module in ("otel_context.flask", "otel_context.flask.instrumentation", FLASK_HOOKS):
            monkeypatch.delitem(sys.modules, module)  # restored after the test
        # an ImportError: the module imported afresh has its own MissingPrivateNameError class
        with pytest.raises(ImportError, match=name.path.replace(".", r"\.")):
            importlib.import_module("otel_context.flask")


@pytest.mark.parametrize(
    ("name", "prefix"),
    [
        (_private.FLASK_BEFORE_REQUEST, "_BEFORE_PREFIX"),
        (_private.FLASK_TEARDOWN, "_TEARDOWN_PREFIX"),
    ],
)
def test_flask_app_refuses_when_the_instrumentation_function_is_not_found(
    name: PrivateName, prefix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The name kept but its request function renamed: instrument_app() stops, adds nothing."""
    _skip_unless_installed(name)
    import flask

    adapter = importlib.import_module("otel_context.flask.instrumentation")
    monkeypatch.setattr(adapter, prefix, "_renamed_in_a_future_release.")
    app = flask.Flask("renamed")
    with pytest.raises(MissingPrivateNameError) as raised:
        adapter.instrument_app(app)
    assert str(raised.value) == _private.message(name)
    assert adapter.EXTENSION not in app.extensions
    assert importlib.import_module(FLASK_HOOKS).before_request not in app.before_request_funcs[None]


@pytest.mark.parametrize("name", _private.DJANGO_NAMES, ids=lambda name: name.path)
class TestDjangoLoss:
    def test_instrument_refuses_to_start(
        self, name: PrivateName, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """instrument() (AppConfig.ready) raises ImproperlyConfigured naming the name."""
        lose(name, monkeypatch)
        with pytest.raises(ImproperlyConfigured) as raised:
            instrument()
        assert _private.message(name) in str(raised.value)

    def test_system_check_error(self, name: PrivateName, monkeypatch: pytest.MonkeyPatch) -> None:
        """manage.py check reports it as otel_context.E006."""
        lose(name, monkeypatch)
        errors = checks.check_private_names()  # losing _DjangoMiddleware loses all four
        assert {error.id for error in errors} == {"otel_context.E006"}
        assert _private.message(name) in [error.msg for error in errors]

    def test_zero_code_logs_one_line(
        self, name: PrivateName, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
    ) -> None:
        """opentelemetry-instrument: one error line naming it, no traceback, no exception."""
        lose(name, monkeypatch)
        with caplog.at_level(logging.ERROR, "otel_context"):
            post_instrument()
        (record,) = caplog.records
        assert _private.message(name) in record.getMessage()
        assert record.exc_info is None


def test_nothing_is_missing_by_default() -> None:
    """The check is silent on a supported release (no false alarm)."""
    assert checks.check_private_names() == []
