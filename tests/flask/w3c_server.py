"""The Flask test app under gunicorn, for the W3C Trace Context harness.

``gunicorn -c example/gunicorn.conf.py tests.flask.w3c_server:app``: the app of
``tests/flask/server.py`` with instrumented ``requests``.
"""

from __future__ import annotations

from tests._w3c_service import prepare_process
from tests.flask.server import app

__all__ = ["app"]

prepare_process()
