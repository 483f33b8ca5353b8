"""The test app's settings without "otel_context" in INSTALLED_APPS.

otel_context is then enabled by ``opentelemetry-instrument`` alone (its post-instrument hook).
"""

from tests.settings import *  # noqa: F403

INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "otel_context"]  # noqa: F405
