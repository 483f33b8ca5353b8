"""The example project without "otel_context" in INSTALLED_APPS.

otel_context is then enabled by ``opentelemetry-instrument`` alone.
"""

from example.settings import *  # noqa: F403

INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "otel_context"]  # noqa: F405
