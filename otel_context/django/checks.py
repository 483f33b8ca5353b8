"""Django system checks: mistakes that would otherwise fail silently.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import importlib.util
from typing import Any

from django.conf import settings
from django.core import checks

ASGI_HINT = "pip install 'otel-context[asgi]' (it brings opentelemetry-instrumentation-asgi)."


def asgi_supported() -> bool:
    """Whether the Django instrumentation can trace ASGI requests in this environment."""
    return importlib.util.find_spec("opentelemetry.instrumentation.asgi") is not None


@checks.register(checks.Tags.compatibility)
def check_asgi(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """ASGI without opentelemetry-instrumentation-asgi traces nothing, silently."""
    if getattr(settings, "ASGI_APPLICATION", None) and not asgi_supported():
        return [
            checks.Error(
                "ASGI_APPLICATION is set but opentelemetry-instrumentation-asgi is not "
                "installed: DjangoInstrumentor skips every ASGI request, so there are no spans "
                "and no identifiers.",
                hint=ASGI_HINT,
                id="otel_context.E001",
            )
        ]
    return []
