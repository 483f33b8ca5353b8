"""The Flask test app as gunicorn serves it: JSON log lines to ``EXAMPLE_LOG_FILE``.

Run with ``example/gunicorn.conf.py`` (gthread; each worker writes its spans to
``EXAMPLE_SPAN_FILE``): ``gunicorn -c example/gunicorn.conf.py tests.flask.server:app``.
"""

from __future__ import annotations

import logging
import os

import structlog

from example.linefiles import open_line_file
from otel_context import StructlogOTelProcessor
from tests.flask.app import create_app


def configure_logging(path: str | None) -> None:
    """structlog events and stdlib records as one JSON line each, with the request's ids."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_log_level,
            StructlogOTelProcessor(),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.WriteLoggerFactory(file=open_line_file(path)),  # type: ignore[arg-type]
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(open_line_file(path))
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.JSONRenderer(),
            ],
            foreign_pre_chain=[
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                StructlogOTelProcessor(),
                structlog.processors.format_exc_info,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


configure_logging(os.environ.get("EXAMPLE_LOG_FILE"))
app = create_app()
