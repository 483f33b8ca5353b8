"""A ``logging.Filter`` that puts trace ids and identifiers on stdlib ``LogRecord`` s.

For projects without structlog. Record attributes use underscores, so format strings can name
them: ``%(trace_id)s %(correlation_id)s %(user_id)s``. Outside a request every standard
attribute is set to *default*, so a format string never fails. Attributes passed with
``extra=`` win.

For structlog's ``ProcessorFormatter`` use :class:`otel_context.StructlogOTelProcessor` in
``foreign_pre_chain`` instead: it gives stdlib records the same dotted keys as events.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import logging
from typing import Final

from otel_context import attributes
from otel_context.processors import current_fields, field_mapper

STANDARD_RECORD_ATTRIBUTES: Final = tuple(
    key.replace(".", "_")
    for key in (
        attributes.TRACE_ID,
        attributes.SPAN_ID,
        attributes.TRACE_SAMPLED,
        *sorted(attributes.SERVER_OWNED),
    )
)


class OTelContextFilter(logging.Filter):
    """Add ``trace_id``, ``span_id`` and each identifier (``user_id``, ...) to every record.

    Args:
        name: As for :class:`logging.Filter`.
        default: Value of the standard attributes when there is nothing to add.
        field_names: ``"default"``: underscored attributes for format strings. ``"ecs"``:
            Elastic Common Schema names (``trace.id``, ``http.request.id``, ``labels.*``) as
            record attributes, for JSON formatters that emit a record's extra attributes.
    """

    def __init__(self, name: str = "", *, default: str = "-", field_names: str = "default") -> None:
        super().__init__(name)
        self.default = default
        self.mapper = field_mapper(field_names)

    def filter(self, record: logging.LogRecord) -> bool:
        """Annotate *record*; always keeps it."""
        values = record.__dict__
        try:
            fields, _ = current_fields(record)
            if self.mapper is not None:
                for key, value in self.mapper(fields).items():
                    values.setdefault(key, value)
                return True
            for key, value in fields.items():
                values.setdefault(key.replace(".", "_"), value)
        except Exception:  # a filter that raises would lose the record
            logging.getLogger(__name__).debug("otel_context filter failed", exc_info=True)
        if self.mapper is None:
            for name in STANDARD_RECORD_ATTRIBUTES:
                values.setdefault(name, self.default)
        return True
