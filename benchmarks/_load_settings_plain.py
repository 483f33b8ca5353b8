"""Example settings without otel_context: the load benchmark's "no tracing" configuration.

Everything of ``example.settings`` (database, middleware, views, JSON log lines to the same
file) except otel_context: its app is not installed (so no ``DjangoInstrumentor``, no
``IdentifiersMiddleware``, no hooks) and its ``StructlogOTelProcessor`` is taken out of the
structlog pipeline and out of the stdlib formatter's ``foreign_pre_chain``. The gunicorn
config still creates a ``TracerProvider`` per worker; nothing starts a span on it.
"""

from __future__ import annotations

from typing import Any

import structlog

from example.settings import *  # noqa: F403
from example.settings import INSTALLED_APPS, LOGGING
from otel_context import StructlogOTelProcessor

INSTALLED_APPS = [app for app in INSTALLED_APPS if not app.startswith("otel_context")]


def _without_otel_context(processors: list[Any]) -> list[Any]:
    return [p for p in processors if not isinstance(p, StructlogOTelProcessor)]


def _strip_logging(config: dict[str, Any]) -> dict[str, Any]:
    """*config* (a ``dictConfig``) with ``StructlogOTelProcessor`` out of every pre-chain."""
    for formatter in config.get("formatters", {}).values():
        if "foreign_pre_chain" in formatter:
            formatter["foreign_pre_chain"] = _without_otel_context(formatter["foreign_pre_chain"])
    return config


structlog.configure(processors=_without_otel_context(structlog.get_config()["processors"]))
LOGGING = _strip_logging(LOGGING)
