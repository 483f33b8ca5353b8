"""Identifiers derived from a routed request, for every framework adapter.

Once a request is routed, its URL kwargs and the configured resolvers give identifiers
(``URL_KWARGS``, ``RESOLVERS``). The rules are the same for every framework; only what a
resolver receives (a Django ``HttpRequest``, a Flask ``Request``) differs. A rule or resolver
that raises, or gives a value that is no id (see :func:`checked`), is logged and loses only
its own ids, never the request.

Precedence for one key (the scope enforces it, :mod:`otel_context.scope`): application code's
``otel_context.bind()``, then the URL, then a resolver (unless its ``over_url`` says it beats
the URL), then a trusted upstream hop's baggage.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING, Any

from otel_context.scope import RESOLVER, URL

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from otel_context.conf import UrlKwargRule
    from otel_context.scope import RequestScope

_logger = logging.getLogger(__name__)
#: What an id may be; bound as its ``str()``.
ID_TYPES = (str, int, uuid.UUID)


def checked(value: object, what: str) -> object:
    """*value* if it can be an id (``None``, a str, an int, a UUID), else ``None``, logged."""
    if value is None or (isinstance(value, ID_TYPES) and not isinstance(value, bool)):
        return value
    _logger.error(
        "otel_context: %s gave a %s, not an id (str, int or UUID); ignored",
        what,
        type(value).__name__,
    )
    return None


def found(values: Mapping[str, object]) -> dict[str, object]:
    """Only what was found: ``None`` means "not known here", never "unbind"."""
    return {key: value for key, value in values.items() if value is not None}


def from_url_kwargs(
    view_kwargs: Mapping[str, Any], rules: Mapping[str, UrlKwargRule]
) -> dict[str, object]:
    """The ids *rules* derive from a routed request's URL kwargs.

    Args:
        view_kwargs: The kwargs the URL router extracted for the view.
        rules: ``URL_KWARGS``: kwarg -> attribute name, or a lookup returning several ids.

    Returns:
        Attribute -> value for every kwarg present that a rule covers.
    """
    ids: dict[str, object] = {}
    for kwarg, value in view_kwargs.items():  # usually far fewer than the rules
        rule = rules.get(kwarg)
        if rule is None:
            continue
        if isinstance(rule, str):
            ids[rule] = value
            continue
        try:
            looked_up = rule(str(value))
            items = dict(looked_up or {}).items()
        except Exception:
            _logger.exception("otel_context: URL_KWARGS lookup for %r failed", kwarg)
            continue
        what = f"URL_KWARGS lookup for {kwarg!r}"
        ids.update({key: item for key, item in items if checked(item, what) is item})
    return ids


def run_resolvers(
    names: Iterable[str], resolvers: Mapping[str, Callable[[Any], object]], request: object
) -> dict[str, object]:
    """Run the resolvers called *names* on *request*; one that raises (or gives no id) ``None``.

    Args:
        names: Which of *resolvers* to run (attribute names).
        resolvers: ``RESOLVERS``: attribute -> callable taking the framework's request.
        request: What each resolver receives.

    Returns:
        Attribute -> what its resolver returned (``None``: nothing found, or it raised).
    """
    values: dict[str, object] = {}
    for name in names:
        try:
            values[name] = checked(resolvers[name](request), f"resolver for {name!r}")
        except Exception:
            _logger.exception("otel_context: resolver for %r failed", name)
            values[name] = None
    return values


def bind_derived(
    scope: RequestScope,
    url_ids: Mapping[str, object],
    resolved: Mapping[str, object],
    over_url: frozenset[str],
) -> None:
    """Bind URL ids above what resolvers found, unless a resolver is ``over_url``.

    Args:
        scope: The request's scope.
        url_ids: From :func:`from_url_kwargs` (empty on a resolver's late run).
        resolved: From :func:`run_resolvers`; ``None`` values are "not found".
        over_url: Attributes whose resolver beats the URL (``RESOLVERS`` ``over_url``).
    """
    if url_ids:
        scope.bind(url_ids, URL)
    ids = found(resolved)
    if over_url and not over_url.isdisjoint(ids):
        scope.bind({key: ids.pop(key) for key in over_url.intersection(ids)}, URL)
    if ids:
        scope.bind(ids, RESOLVER)
