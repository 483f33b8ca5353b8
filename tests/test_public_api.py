"""Every public import path still resolves, to the same object, after the modules moved (issue 23).

The log-record export moved from ``export.py`` to ``log_records/``, the SDK set-up from
``providers.py`` to ``sdk/``, the task carrier from ``tasks.py`` to ``task_carrier.py``, the
Flask and Celery adapters into packages, and the options table from ``conf.py`` to
``options.py``. The old paths are kept: each row is (old module, name, new module).
"""

from __future__ import annotations

import importlib
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

import otel_context
from tests._packages import require

#: (old module, name, new home): ``old.name`` must be ``new.name``.
MOVED = [
    *(
        ("otel_context.export", name, "otel_context.log_records")
        for name in (
            "StructlogOTelLogProcessor",
            "coerce_value",
            "event_attributes",
            "exception_attributes_of",
        )
    ),
    *(
        ("otel_context.providers", name, "otel_context.sdk")
        for name in (
            "DEFAULT_EXPORT_TIMEOUT_S",
            "GRPC",
            "HTTP_PROTOBUF",
            "Providers",
            "configure_providers",
            "shutdown_providers",
        )
    ),
    *(
        ("otel_context.tasks", name, "otel_context.task_carrier")
        for name in (
            "CARRIER_KEY",
            "MAX_CARRIER_SIZE",
            "MAX_IDENTIFIERS",
            "Carried",
            "capture",
            "read",
            "restore",
            "restored",
        )
    ),
    *(
        ("otel_context.conf", name, "otel_context.options")
        for name in ("DEFAULT_OUTBOUND_HOSTS", "ENV_PREFIX", "OPTIONS", "Option")
    ),
    ("otel_context", "StructlogOTelLogProcessor", "otel_context.log_records.processor"),
    ("otel_context", "configure_providers", "otel_context.sdk.providers"),
    ("otel_context", "shutdown_providers", "otel_context.sdk.providers"),
]

#: The adapters' public names, now in packages: (extra's distribution, module, name, new home).
ADAPTERS = [
    ("flask", "otel_context.flask", "instrument_app", "otel_context.flask.instrumentation"),
    ("flask", "otel_context.flask", "EXTENSION", "otel_context.flask.instrumentation"),
    ("flask", "otel_context.flask", "INSTRUMENTOR_OPTIONS", "otel_context.flask.instrumentation"),
    ("flask", "otel_context.flask", "STATE_KEY", "otel_context.flask.hooks"),
    ("flask", "otel_context.flask", "RequestState", "otel_context.flask.hooks"),
    ("flask", "otel_context.flask", "ContextGuard", "otel_context.flask.hooks"),
    ("celery", "otel_context.celery", "instrument", "otel_context.celery.instrumentation"),
    ("celery", "otel_context.celery", "uninstrument", "otel_context.celery.instrumentation"),
    ("celery", "otel_context.celery", "HEADER", "otel_context.celery.hooks"),
]

#: Names every old module offered in ``__all__``, which must still be there.
OLD_ALL = {
    "otel_context.export": {"StructlogOTelLogProcessor", "coerce_value", "event_attributes"},
    "otel_context.tasks": {"CARRIER_KEY", "Carried", "capture", "read", "restore", "restored"},
    "otel_context.conf": {"OPTIONS", "Option", "Config", "get_config", "configure", "reset"},
}


@pytest.mark.parametrize(("old", "name", "new"), MOVED)
def test_old_path_is_the_new_object(old: str, name: str, new: str) -> None:
    """``from <old> import <name>`` gives the very object of its new home."""
    assert getattr(importlib.import_module(old), name) is getattr(
        importlib.import_module(new), name
    )


#: What importing each adapter needs: (distribution, module), as its own tests require it.
_NEEDS = {
    "flask": ("opentelemetry-instrumentation-flask", "opentelemetry.instrumentation.flask"),
    "celery": ("opentelemetry-instrumentation-celery", "opentelemetry.instrumentation.celery"),
}


@pytest.mark.parametrize(("distribution", "module", "name", "new"), ADAPTERS)
def test_adapter_package_offers_what_the_module_did(
    distribution: str, module: str, name: str, new: str
) -> None:
    """``otel_context.flask`` / ``.celery`` (now packages) offer each name the module had."""
    require(*_NEEDS[distribution])
    assert getattr(importlib.import_module(module), name) is getattr(
        importlib.import_module(new), name
    )


@pytest.mark.parametrize("module", sorted(OLD_ALL))
def test_old_all_still_lists_its_names(module: str) -> None:
    """A star import of an old path brings what it brought before."""
    assert OLD_ALL[module] <= set(importlib.import_module(module).__all__)


def test_every_name_of_the_package_resolves() -> None:
    """Each name in ``otel_context.__all__`` is there (``instrument`` loads on first use)."""
    missing = [name for name in otel_context.__all__ if getattr(otel_context, name, None) is None]
    assert missing == []


def test_every_entry_point_resolves() -> None:
    """Each entry point pyproject.toml declares loads, wherever its code now lives."""
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    declared = pyproject["project"]["entry-points"]
    assert declared  # the scan below is no vacuous pass
    for group, points in declared.items():
        for name, target in points.items():
            point = metadata.EntryPoint(name=name, value=target, group=group)
            assert point.load() is not None, f"{group}: {name} = {target}"
