"""``URL_KWARGS``: which URL kwarg binds which identifier, and on which routes.

A key is a URL kwarg (``"organisation_pk"``: on every route), or a kwarg scoped to routes with
``@`` (``"pk@tenant-*"``: only on the routes the selector names). DRF routers call every
detail route's id ``pk``; a scoped key tells the tenant's ``pk`` from a site's. Selectors:

- ``tenant-*`` or ``api:tenant-detail``: URL names; with a namespace only in that namespace,
  without one in any (``name:`` spells it out, for a namespace called ``view`` or ``route``);
- ``view:myapp.views.TenantViewSet``: the view's dotted path (a DRF viewset's class);
- ``route:api/tenants/*``: the route pattern, as Django reports it (``resolver_match.route``).

Under Flask a route's name is its endpoint (``api.tenant_detail``: no namespace) and its
pattern the rule (``/tenants/<int:pk>``).

``*`` matches any run of characters; nothing else is special. On one route a scoped rule beats
the kwarg's unscoped rule, and among scoped rules the first in the mapping wins. Which rules
apply to a route is worked out once per route and cached: a request pays a dict lookup.
Kwarg names are Python identifiers, so ``@`` never belongs to one: the forms cannot clash.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from otel_context import attributes
from otel_context._parsers import (
    ConfigurationError,
    UrlKwargRule,
    as_callable,
    as_mapping,
    import_callable,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable

#: Separates a kwarg from the routes it is scoped to: ``"pk@tenant-*"``.
SCOPE_SEPARATOR: Final = "@"
#: Selector kinds, by prefix; a selector without one names URLs.
KINDS: Final = ("name", "view", "route")
#: Routes whose rules are remembered; beyond this (an unbounded URLconf) they are recomputed.
CACHE_SIZE: Final = 4096
_DOTTED_GLOB: Final = re.compile(r"[\w.*]+")


@dataclass(frozen=True, slots=True)
class Route:
    """What a selector can name of a routed request: built by the framework adapter.

    Attributes:
        url_name: The URL's name without namespace (``"tenant-detail"``); ``None`` if unnamed.
        namespace: Its namespaces joined with ``:`` (``"api"``); empty if none.
        pattern: The route pattern (``resolver_match.route``).
        view: Dotted path of the view: a class-based view's or DRF viewset's class.
    """

    url_name: str | None
    namespace: str
    pattern: str
    view: str


@dataclass(frozen=True, slots=True)
class Selector:
    """One route selector: its kind and a ``*`` glob over that part of the route."""

    kind: str
    glob: str
    regex: re.Pattern[str]

    def matches(self, route: Route) -> bool:
        """Whether *route* is one this selector names."""
        if self.kind == "view":
            subject: str | None = route.view
        elif self.kind == "route":
            subject = route.pattern
        elif ":" in self.glob:  # namespaced: the whole name
            subject = f"{route.namespace}:{route.url_name}" if route.namespace else route.url_name
        else:  # in any namespace
            subject = route.url_name
        return subject is not None and self.regex.fullmatch(subject) is not None

    def __str__(self) -> str:
        return self.glob if self.kind == "name" else f"{self.kind}:{self.glob}"


@dataclass(frozen=True, slots=True)
class ScopedRule:
    """A rule for *kwarg* on the routes *selector* names."""

    kwarg: str
    selector: Selector
    rule: UrlKwargRule


class UrlKwargs(dict[str, UrlKwargRule]):
    """Every ``URL_KWARGS`` entry as configured (key -> rule), and the rules per route.

    As a mapping it holds the keys as written, so looking up a kwarg finds its unscoped rule
    (a scoped key has an ``@`` no kwarg has). :meth:`for_route` gives one route's rules.
    """

    __slots__ = ("cache", "scoped")

    def __init__(self, rules: Mapping[str, UrlKwargRule], scoped: tuple[ScopedRule, ...]) -> None:
        super().__init__(rules)
        #: The route-scoped rules, in configured order; empty: every rule is unscoped.
        self.scoped = scoped
        #: Route key -> its rules, filled by :meth:`for_route`.
        self.cache: dict[Hashable, Mapping[str, UrlKwargRule]] = {}

    def for_route(
        self, key: Hashable, describe: Callable[[Hashable], Route]
    ) -> Mapping[str, UrlKwargRule]:
        """Kwarg -> rule on the route *key* stands for; ``describe(key)`` only on a cache miss.

        Args:
            key: Identifies the route: equal keys must describe the same route.
            describe: Builds the :class:`Route` for *key*.
        """
        try:
            rules = self.cache.get(key)
        except TypeError:  # an unhashable view callable: resolved on every request instead
            return self.resolve(describe(key))
        if rules is None:
            rules = self.resolve(describe(key))
            if len(self.cache) < CACHE_SIZE:
                self.cache[key] = rules
        return rules

    def resolve(self, route: Route) -> Mapping[str, UrlKwargRule]:
        """Kwarg -> rule on *route*: the unscoped rules, then the first scoped rule per kwarg."""
        rules = {key: rule for key, rule in self.items() if SCOPE_SEPARATOR not in key}
        chosen: set[str] = set()
        for scoped in self.scoped:
            if scoped.kwarg not in chosen and scoped.selector.matches(route):
                rules[scoped.kwarg] = scoped.rule
                chosen.add(scoped.kwarg)
        return rules


def view_path(view: object) -> str:
    """Dotted path of a routed *view*: a class-based view's or DRF viewset's class, or itself.

    DRF views and viewsets carry their class as ``cls``, Django's and Flask's class-based views
    as ``view_class``.
    """
    view = getattr(view, "cls", None) or getattr(view, "view_class", None) or view
    name = getattr(view, "__name__", None) or type(view).__name__
    return f"{getattr(view, '__module__', '')}.{name}"


def as_url_kwargs(value: object, option: str) -> UrlKwargs:
    """Parse ``URL_KWARGS``: a mapping, or ``key=rule,…`` from the environment.

    Raises:
        ConfigurationError: a rule or a route scope that cannot be used, naming the entry.
    """
    rules: dict[str, UrlKwargRule] = {}
    scoped: list[ScopedRule] = []
    for key, spec in as_mapping(value, option).items():
        where = f"{option}[{key!r}]"
        rules[key] = rule = _rule(spec, where)
        kwarg, separator, selector = key.partition(SCOPE_SEPARATOR)
        if separator:
            scoped.append(ScopedRule(_kwarg(kwarg, where), parse_selector(selector, where), rule))
    return UrlKwargs(rules, tuple(scoped))


def _rule(spec: object, where: str) -> UrlKwargRule:
    if isinstance(spec, Mapping) and "lookup" in spec:
        return as_callable(spec["lookup"], where)
    if isinstance(spec, str) and spec.startswith("lookup:"):
        return import_callable(spec.removeprefix("lookup:"), where)
    if isinstance(spec, str) and spec:
        return attributes.dotted(spec)
    msg = f"{where}: expected an attribute name or {{'lookup': 'dotted.path'}}, got {spec!r}"
    raise ConfigurationError(msg)


def _kwarg(kwarg: str, where: str) -> str:
    if not kwarg.isidentifier():
        msg = (
            f"{where}: expected 'kwarg@routes' with a URL kwarg name before '@'"
            f" (such as 'pk@tenant-*'), got {kwarg!r}"
        )
        raise ConfigurationError(msg)
    return kwarg


def parse_selector(text: str, where: str) -> Selector:
    """Parse the part of a key after ``@``: ``[name:|view:|route:]glob``.

    Raises:
        ConfigurationError: an empty selector, a second ``@``, an empty part of a namespaced
            name, or a view that is no dotted path.
    """
    prefix, colon, rest = text.partition(":")
    kind, glob = (prefix, rest) if colon and prefix in KINDS else ("name", text)
    problem = _problem(kind, glob)
    if problem:
        msg = (
            f"{where}: {problem}; a route scope is a URL name ('tenant-*', 'api:tenant-detail'),"
            " 'view:dotted.path' or 'route:pattern', '*' matching anything"
        )
        raise ConfigurationError(msg)
    regex = re.compile(".*".join(re.escape(part) for part in glob.split("*")), re.DOTALL)
    return Selector(kind, glob, regex)


def _problem(kind: str, glob: str) -> str | None:
    """What is wrong with a selector's *glob*, or ``None``."""
    if not glob.strip():
        return f"the {kind} after '@' is empty"
    if SCOPE_SEPARATOR in glob:
        return "one '@' per key"
    if glob != glob.strip():
        return f"the {kind} {glob!r} has surrounding spaces"
    if kind == "name" and "" in glob.split(":"):
        return f"the URL name {glob!r} has an empty namespace or name"
    if kind == "view" and not _DOTTED_GLOB.fullmatch(glob):
        return f"the view {glob!r} is not a dotted path"
    return None
