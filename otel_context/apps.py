"""The Django app: listing ``"otel_context"`` in ``INSTALLED_APPS`` is the whole set-up."""

from __future__ import annotations

import contextlib
from typing import Any

from django.apps import AppConfig
from django.core.signals import setting_changed


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == "OTEL_CONTEXT":
        from otel_context import conf  # noqa: PLC0415

        conf.reset()


class OtelContextConfig(AppConfig):
    """Instruments Django with otel_context's hooks once the app registry is ready."""

    name = "otel_context"
    verbose_name = "OpenTelemetry request context"

    def ready(self) -> None:
        """Instrument Django (the handler builds its middleware chain after this)."""
        from otel_context.conf import ConfigurationError  # noqa: PLC0415
        from otel_context.django import (  # noqa: PLC0415 - importing registers the checks
            checks,
            placement,  # noqa: F401
        )
        from otel_context.django.instrumentation import instrument  # noqa: PLC0415
        from otel_context.sdk import _default_provider  # noqa: PLC0415

        setting_changed.connect(_on_setting_changed, dispatch_uid="otel_context.conf")
        checks.refuse_asgi_without_extra()
        # A bad option is not raised here, as a traceback: the system check lists each one
        # (E002) and stops `manage.py` commands and runserver; a server that runs no checks
        # fails with one line when it builds its handler (checks.require_usable_config).
        with contextlib.suppress(ConfigurationError):
            instrument()
        _default_provider.arm()  # a provider at the first request, if none is set by then
