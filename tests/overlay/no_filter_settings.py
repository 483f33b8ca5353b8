"""An overlay that adds otel_context to INSTALLED_APPS but forgets the logging filter."""

from tests.overlay.app_settings import *  # noqa: F403
from tests.overlay.app_settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "otel_context"]
