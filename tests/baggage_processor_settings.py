"""The example project with opentelemetry-processor-baggage's BaggageSpanProcessor, allow-all.

Loaded in a gunicorn worker after ``example/gunicorn.conf.py``'s ``post_fork`` created the
worker's ``TracerProvider``; used by tests/integration/test_baggage_processors.py.
"""

from opentelemetry import trace
from opentelemetry.processor.baggage import ALLOW_ALL_BAGGAGE_KEYS, BaggageSpanProcessor

from example.settings import *  # noqa: F403

trace.get_tracer_provider().add_span_processor(  # type: ignore[attr-defined]
    BaggageSpanProcessor(ALLOW_ALL_BAGGAGE_KEYS)
)
