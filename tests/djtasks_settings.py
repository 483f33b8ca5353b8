"""Settings of the django.tasks integration test (Django 6.0+): PostgreSQL and django-tasks-db.

The unit-test settings, plus a PostgreSQL database named by ``OTEL_CONTEXT_TEST_PG_*``
variables (see ``tests/integration/_postgres.py``), the ``django_tasks_db`` app and its
``DatabaseBackend`` as the default task backend, and ``tests.djtasks_app`` as URLconf.
"""

import os

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": os.environ.get("OTEL_CONTEXT_TEST_PG_HOST", ""),
        "PORT": os.environ.get("OTEL_CONTEXT_TEST_PG_PORT", ""),
        "NAME": os.environ.get("OTEL_CONTEXT_TEST_PG_NAME", "otel_context_tests"),
        "USER": os.environ.get("OTEL_CONTEXT_TEST_PG_USER", "postgres"),
    }
}
INSTALLED_APPS = [*INSTALLED_APPS, "django_tasks_db"]
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
ROOT_URLCONF = "tests.djtasks_app"
