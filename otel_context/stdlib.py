"""Stdlib ``logging``: trace ids and identifiers on ``LogRecord`` s, and formats that never fail.

For projects without structlog. :class:`OTelContextFilter` puts every field on the record in
both spellings a format string can name: ``%(tenant_id)s`` and ``%(tenant.id)s``. Every
identifier the configuration names (the standard ones, ``URL_KWARGS`` targets, ``RESOLVERS``
keys) is on *every* record, set to *default* when the record has none, so a format string
naming them never fails. Attributes passed with ``extra=`` win. A default is a
:class:`Placeholder`: it renders as *default*, and is never exported as an identifier (an OTel
``LoggingHandler`` and ``StructlogOTelLogProcessor`` drop it).

A key bound only with :func:`otel_context.bind` in some requests cannot be known in advance:
:class:`OTelContextFormatter` gives every field its own format string names a default
(issue 22).

For structlog's ``ProcessorFormatter`` use :class:`otel_context.StructlogOTelProcessor` in
``foreign_pre_chain`` instead: it gives stdlib records the same dotted keys as events.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import functools
import logging
import re
import string
from typing import TYPE_CHECKING, Any, Final, Literal, Self

from otel_context import attributes
from otel_context.conf import get_config
from otel_context.processors import current_fields, field_mapper
from otel_context.scope import as_text

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from otel_context.trace_fields import Fields

#: The trace fields: one spelling each (they have no dot).
_TRACE_FIELDS: Final = (attributes.TRACE_ID, attributes.SPAN_ID, attributes.TRACE_SAMPLED)
STANDARD_RECORD_ATTRIBUTES: Final = tuple(
    key.replace(".", "_") for key in (*_TRACE_FIELDS, *sorted(attributes.SERVER_OWNED))
)


@functools.lru_cache(maxsize=512)
def spellings(key: str) -> tuple[str, ...]:
    """The record attributes of field *key*: ``("tenant.id", "tenant_id")``, ``("trace_id",)``.

    *key* may be dotted or use ``__`` for the dot (``order__id``).
    """
    dotted = key.replace("__", ".")
    underscored = dotted.replace(".", "_")
    return (dotted, underscored) if dotted != underscored else (dotted,)


@functools.lru_cache(maxsize=16)
def record_names(keys: frozenset[str]) -> tuple[tuple[str, ...], ...]:
    """The spellings of the trace fields and of every identifier in *keys* (cached)."""
    names = attributes.SERVER_OWNED | keys
    return tuple(spellings(key) for key in (*_TRACE_FIELDS, *sorted(names)))


def configured_names() -> tuple[tuple[str, ...], ...]:
    """:func:`record_names` of the configuration's identifiers; the standard ones if it fails."""
    try:
        keys = get_config().server_owned
    except Exception:  # a bad configuration is reported at start-up (E002), not per record
        keys = attributes.SERVER_OWNED
    return record_names(keys)


#: The texts of the placeholders made so far (``("-",)``): a record with none of them among its
#: values has no placeholder, found in C without a type check per value.
PLACEHOLDER_TEXTS: tuple[str, ...] = ()


class Placeholder(str):
    """The filter's *default* for a field a record has no value for: text that claims no id.

    Format strings render it as its text. What exports records as OTel log records drops it
    (:mod:`otel_context.log_records`), so no back end sees ``user.id="-"``. Pickled as a plain
    ``str``: a log server without otel_context reads it.
    """

    __slots__ = ()

    def __new__(cls, text: str) -> Self:
        """A placeholder rendering as *text*; its text is noted in :data:`PLACEHOLDER_TEXTS`."""
        global PLACEHOLDER_TEXTS  # noqa: PLW0603 - a few texts a process, swapped atomically
        if text not in PLACEHOLDER_TEXTS:
            PLACEHOLDER_TEXTS = (*PLACEHOLDER_TEXTS, text)
        return super().__new__(cls, text)

    def __reduce__(self) -> tuple[type[str], tuple[str]]:
        """Pickle as the plain string."""
        return str, (str(self),)


class OTelContextFilter(logging.Filter):
    """Add ``trace_id``, ``span_id`` and each identifier (``user_id``, ...) to every record.

    Put it on the *handler*: a filter on a logger does not see the records that propagate to
    it from other loggers (``django.request`` ...).

    Args:
        name: As for :class:`logging.Filter`.
        default: Value of every configured field the record has no value for (a
            :class:`Placeholder`: never exported as an identifier).
        field_names: ``"default"``: the fields in both spellings, ``user_id`` and ``user.id``,
            for format strings. ``"ecs"``: Elastic Common Schema names (``trace.id``,
            ``http.request.id``, ``labels.*``) as record attributes, for JSON formatters that
            emit a record's extra attributes; no defaults.
    """

    def __init__(self, name: str = "", *, default: str = "-", field_names: str = "default") -> None:
        super().__init__(name)
        self.default = default
        self._placeholder = Placeholder(default) if isinstance(default, str) else default
        # An OTel LoggingHandler behind this filter exports the ids and drops the placeholders.
        from otel_context.log_records import _handler_ids  # noqa: PLC0415 - it imports this

        _handler_ids.install()
        self.mapper = field_mapper(field_names)
        # The attributes of the last fields seen (a scope's cached fields) and with none.
        self._last: tuple[object, object, _Line] = (None, None, ({}, ()))
        self._empty: tuple[object, _Line] = (None, ({}, ()))

    def filter(self, record: logging.LogRecord) -> bool:
        """Annotate *record*; always keeps it."""
        values = record.__dict__
        fields: Fields = {}
        try:
            fields, _ = current_fields(record)
            if self.mapper is not None:
                for key, value in self.mapper(fields).items():
                    _put(values, (key,), value)
                return True
        except Exception:  # a filter that raises would lose the record
            logging.getLogger(__name__).debug("otel_context filter failed", exc_info=True)
            if self.mapper is not None:
                return True
        attrs, groups = self._line(fields, configured_names())
        if values.keys().isdisjoint(attrs):
            values.update(attrs)  # the common record: no extra= of ours to reconcile
        else:
            for group in groups:
                _put(values, group, attrs[group[0]])
        return True

    def _line(self, fields: Fields, names: tuple[tuple[str, ...], ...]) -> _Line:
        """Every attribute to set (values, then defaults) and its spelling groups (cached)."""
        last_fields, last_names, line = self._last if fields else (None, *self._empty)
        if (last_fields is fields or not fields) and last_names is names:
            return line
        attrs: dict[str, object] = {}
        groups = [spellings(key) for key in fields]
        for group, value in zip(groups, fields.values(), strict=True):
            attrs.update(dict.fromkeys(group, value))
        for group in names:
            if group[0] not in attrs:
                attrs.update(dict.fromkeys(group, self._placeholder))
                groups.append(group)
        line = (attrs, tuple(groups))
        if fields:
            self._last = (fields, names, line)
        else:
            self._empty = (names, line)
        return line


#: A record's attributes to set, and their groups: the spellings of one field.
_Line = tuple[dict[str, object], tuple[tuple[str, ...], ...]]


def _put(values: dict[str, Any], names: tuple[str, ...], value: object) -> None:
    """Set every spelling in *names*; a value already in one of them (``extra=``) wins.

    The winner is a string, in every spelling: one type per identifier on every record
    (issue 14). ``trace_sampled`` is the one boolean field: a boolean is kept as it is. Another
    filter's :class:`Placeholder` counts as no value.
    """
    given = None
    for name in names:
        given = values.get(name)
        if given is not None and type(given) is not Placeholder:
            break
    if given is None or type(given) is Placeholder:
        given = value
    elif type(given) is not str and type(given) is not bool:
        given = as_text(given)
    for name in names:
        values[name] = given


Style = Literal["%", "{", "$"]
_PERCENT_FIELD: Final = re.compile(r"%\(([^)]+)\)")
#: What every record has, or what ``Formatter.format`` sets itself: no default needed.
_RECORD_OWN: Final = frozenset(
    logging.LogRecord("", 0, "", 0, "", (), None).__dict__.keys() | {"message", "asctime"}
)


def format_fields(fmt: str | None, style: Style = "%") -> tuple[str, ...]:
    """The record attributes format string *fmt* names, in order, without duplicates.

    ``%(tenant.id)s`` names ``tenant.id``; ``{tenant_id}`` and ``${tenant_id}`` name
    ``tenant_id`` (``{a.b}`` is attribute access in ``str.format``: only ``%`` has dotted names).
    """
    if not fmt:
        return ()
    names: Iterable[str]
    if style == "%":
        names = _PERCENT_FIELD.findall(fmt)
    elif style == "{":
        parsed = (field for _, field, _, _ in string.Formatter().parse(fmt) if field)
        names = (re.split(r"[.\[]", field, maxsplit=1)[0] for field in parsed)
    else:
        matches = string.Template.pattern.finditer(fmt)
        names = (m.group("named") or m.group("braced") or "" for m in matches)
    return tuple(dict.fromkeys(name for name in names if name and not name.isdigit()))


class OTelContextFormatter(logging.Formatter):
    """A :class:`logging.Formatter` whose format string never fails for a missing field.

    Every field *fmt* names that a record lacks is rendered as *default*: an identifier bound
    with :func:`otel_context.bind` only in some requests (``%(order_id)s``), on records from
    other requests, from outside any request, and from Django's and other libraries'
    loggers. Fields are read from the format string once; the record is not changed (the
    defaults are :class:`logging.Formatter`'s own ``defaults=``). Use it with
    :class:`OTelContextFilter`, which adds the values.

    Args:
        fmt: The format string, as for :class:`logging.Formatter`.
        datefmt: As for :class:`logging.Formatter`.
        style: ``"%"``, ``"{"`` or ``"$"``.
        validate: As for :class:`logging.Formatter`.
        defaults: Per-field defaults; they win over *default*.
        default: What a missing field renders as.

    .. versionadded:: 0.1.0
    """

    def __init__(  # noqa: PLR0913 - logging.Formatter's own parameters, plus default
        self,
        fmt: str | None = None,
        datefmt: str | None = None,
        style: Style = "%",
        validate: bool = True,  # noqa: FBT001, FBT002 - positional in logging.Formatter
        *,
        defaults: Mapping[str, Any] | None = None,
        default: str = "-",
    ) -> None:
        names = [name for name in format_fields(fmt, style) if name not in _RECORD_OWN]
        merged = {**dict.fromkeys(names, default), **(defaults or {})}
        super().__init__(fmt, datefmt, style, validate, defaults=merged or None)
        self._render = _renderer(fmt, style) if merged else None
        self._field_defaults = merged
        self._fields = frozenset(merged)

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        """The formatted line: the record's fields, the defaults for those it lacks.

        As ``logging.Formatter(defaults=...)`` does, without copying the record's attributes
        into a new dict for every record (measured: 13 % of a record's cost); a record that
        has every field is formatted as it is.
        """
        render = self._render
        if render is None:
            return super().formatMessage(record)
        values = record.__dict__
        if values.keys() >= self._fields:
            return render(values)
        return render(_WithDefaults(values, self._field_defaults))


class _WithDefaults:
    """A record's attributes, falling back to the formatter's defaults (read, never copied)."""

    __slots__ = ("defaults", "values")

    def __init__(self, values: dict[str, Any], defaults: dict[str, Any]) -> None:
        self.values = values
        self.defaults = defaults

    def __getitem__(self, key: str) -> object:
        values = self.values
        return values[key] if key in values else self.defaults[key]


def _renderer(fmt: str | None, style: Style) -> Callable[[Any], str]:
    """Renders *fmt* from a mapping, as ``logging``'s style classes render a record's dict."""
    if fmt is None:  # no fields, so no defaults: never called
        return str
    if style == "{":
        return fmt.format_map
    if style == "$":
        return string.Template(fmt).substitute
    return fmt.__mod__
