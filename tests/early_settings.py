"""The example service with small request limits, for requests rejected before the view."""

from example.settings import *  # noqa: F403

ROOT_URLCONF = "tests.early_urls"
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
