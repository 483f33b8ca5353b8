"""Example settings with contrib's ``DjangoInstrumentor`` alone (no otel_context).

The "no tracing" settings (:mod:`benchmarks._load_settings_plain`) plus an app whose
``ready()`` calls ``DjangoInstrumentor().instrument()``: one server span per request, exported
by the gunicorn config's per-worker ``TracerProvider`` like the full configuration's spans.
"""

from __future__ import annotations

from benchmarks._load_settings_plain import *  # noqa: F403
from benchmarks._load_settings_plain import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "benchmarks._load_apps.InstrumentorOnlyConfig"]
