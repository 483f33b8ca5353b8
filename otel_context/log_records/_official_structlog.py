"""One exporter per structlog event, beside ``opentelemetry-instrumentation-structlog``.

The official structlog instrumentation (contrib, 0.65b0+; ``opentelemetry-bootstrap -a install``
installs it wherever structlog is) patches ``structlog.configure`` under
``opentelemetry-instrument`` and inserts its ``StructlogProcessor`` before the last processor
of every chain. That processor exports each event as a log record too, so with
:class:`~otel_context.StructlogOTelLogProcessor` in the chain every event would reach the
backend twice.

The choice: where the application put ``StructlogOTelLogProcessor`` in its chain (on purpose),
that processor is the exporter, and the official one is taken out (once, at start-up, with one
log line). Ours is the one that writes ``event_name``, keeps one type per identifier and
defers to a logging handler that exports the same event; the official one exports the event
dict as it is. Where ours is not in the chain, the official processor is left alone: it is
then the only exporter. ``OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=structlog`` avoids the
question (and the log line) altogether.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Final

import structlog

_logger = logging.getLogger(__name__)
_MODULE = "opentelemetry.instrumentation.structlog"


def _is_official(processor: object) -> bool:
    """Whether *processor* is the official instrumentation's (matched without importing it)."""
    kind = type(processor)
    return kind.__name__ == "StructlogProcessor" and kind.__module__.startswith(_MODULE)


def _is_ours(processor: object) -> bool:
    from otel_context.log_records.processor import StructlogOTelLogProcessor  # noqa: PLC0415 - import cycle

    return isinstance(processor, StructlogOTelLogProcessor)


def _uninstrument() -> None:
    """Undo the official instrumentation (its patched ``configure``) if it is active."""
    module: Any = sys.modules.get(_MODULE)
    instrumentor = getattr(module, "StructlogInstrumentor", None)
    if instrumentor is not None and instrumentor().is_instrumented_by_opentelemetry:
        instrumentor().uninstrument()


#: The one line logged when the official processor was taken out.
TAKEN_OUT: Final = (
    "otel_context: StructlogOTelLogProcessor exports structlog events, so the processor of "
    "opentelemetry-instrumentation-structlog was taken out of the chain (each event is "
    "exported once); set OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=structlog to skip this step"
)


def export_once() -> bool:
    """Take the official structlog processor out of a chain that exports with ours.

    Runs where otel_context is set up (``instrument()``, and after every instrumentor under
    ``opentelemetry-instrument``), once the settings, which usually configure structlog, are
    loaded. Idempotent; never raises.

    Returns:
        Whether the official processor was taken out; the caller logs :data:`TAKEN_OUT`.
    """
    try:
        processors = list(structlog.get_config()["processors"])
        if not any(map(_is_ours, processors)) or not any(map(_is_official, processors)):
            return False
        _uninstrument()  # restores configure and takes its processor out of the chain
        processors = list(structlog.get_config()["processors"])
        if any(map(_is_official, processors)):  # put there by hand, not by the instrumentor
            structlog.configure(processors=[p for p in processors if not _is_official(p)])
    except Exception:
        _logger.exception(
            "otel_context: checking for opentelemetry-instrumentation-structlog failed"
        )
        return False
    return True
