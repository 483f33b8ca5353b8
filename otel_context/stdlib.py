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

import functools
import logging
from typing import Any, Final

from otel_context import attributes
from otel_context.processors import current_fields, field_mapper
from otel_context.scope import STANDARD_ALIASES, as_text

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
            fields, aliases = current_fields(record)
            if self.mapper is not None:
                for key, value in self.mapper(fields).items():
                    _set_text(values, key, value)
                return True
            for key, value in fields.items():
                _set_text(values, key.replace(".", "_"), value)
            for name in _configured_names(aliases):  # empty unless URL_KWARGS/RESOLVERS add keys
                given = values.get(name)
                if given is not None and type(given) is not str:
                    values[name] = as_text(given)
        except Exception:  # a filter that raises would lose the record
            logging.getLogger(__name__).debug("otel_context filter failed", exc_info=True)
        if self.mapper is None:
            for name in STANDARD_RECORD_ATTRIBUTES:
                _set_text(values, name, self.default)
        return True


@functools.lru_cache(maxsize=64)
def _configured_names(aliases: frozenset[str]) -> tuple[str, ...]:
    """Record attribute names of the identifier keys beyond the standard ones (cached)."""
    return tuple(sorted(alias.replace("__", "_") for alias in aliases - STANDARD_ALIASES))


def _set_text(values: dict[str, Any], name: str, value: object) -> None:
    """``extra=`` wins, as a string: one type per identifier on every record (issue 14).

    ``trace_sampled`` is the one boolean field: a boolean already there is kept as it is.
    """
    given = values.setdefault(name, value)
    if given is None:
        values[name] = value
    elif type(given) is not str and type(given) is not bool:
        values[name] = as_text(given)
