"""The common-attributes catalogue: what a request's log events carry, documented as Markdown.

:func:`render` reads the resolved configuration and documents each attribute bound to every log
event of a request: where it comes from, when in the request it becomes available, and whether
it travels on as baggage. Given a :class:`~otel_context.catalogue.project.Scan` of the project's
source, it also lists the structlog emit sites, the call-site attributes the context makes
redundant, and the inbound baggage keys the application reads that the policy drops.
``manage.py otel_context_catalogue`` is a thin wrapper; nothing here needs Django.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from otel_context import conf
from otel_context.attributes import (
    CORRELATION_ID,
    SPAN_ID,
    TRACE_ID,
    TRACE_SAMPLED,
    USER_ID,
    dotted,
)
from otel_context.catalogue.baggage_reads import reads_section
from otel_context.catalogue.emit_report import event_sections
from otel_context.patterns import key_allowed

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from otel_context.catalogue.project import Scan
    from otel_context.conf import Config

REQUEST_START: Final = "request start"
AFTER_AUTHENTICATION: Final = "after authentication (first load of `request.user`)"
AFTER_ROUTING: Final = "after URL resolution (`process_view`)"
_WHEN_ORDER: Final = (REQUEST_START, AFTER_AUTHENTICATION, AFTER_ROUTING)
_TRACE_ROW: Final = (
    "the current span",
    "every event inside a span",
    "no (`traceparent` carries the trace context to every host)",
)
_SAMPLED_ROW: Final = (
    "the current span's sampled flag (`false`: the trace is not exported)",
    "every event inside a span",
    "no (the flag travels in `traceparent`)",
)
_Source = tuple[str, str, str]  # attribute, where it comes from, when it is available


@dataclass(slots=True)
class Attribute:
    """One catalogue entry: its sources, by precedence, and when each makes it available."""

    name: str
    sources: list[str] = field(default_factory=list)
    available: set[str] = field(default_factory=set)

    @property
    def when(self) -> str:
        """The moments it becomes available, earliest first."""
        return ", ".join(when for when in _WHEN_ORDER if when in self.available)


def dotted_path(target: object) -> str:
    """``module.qualname`` of a function (or of a callable object's class)."""
    module = getattr(target, "__module__", None) or type(target).__module__
    name = getattr(target, "__qualname__", None) or type(target).__qualname__
    return f"{module}.{name}"


def _literal_keys(node: ast.expr) -> list[str] | None:
    if isinstance(node, ast.Constant) and node.value is None:
        return []
    if not isinstance(node, ast.Dict):
        return None
    keys = [key.value for key in node.keys if isinstance(key, ast.Constant)]
    if len(keys) != len(node.keys) or not all(isinstance(key, str) for key in keys):
        return None
    return [dotted(str(key)) for key in keys]


def returned_keys(function: Callable[..., object]) -> tuple[str, ...] | None:
    """The keys a lookup's ``return {...}`` statements name; ``None`` if not all are literals.

    Reads the function's source; nothing is called.
    """
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError):
        return None
    definition = tree.body[0] if tree.body else None
    if not isinstance(definition, ast.FunctionDef | ast.AsyncFunctionDef):
        return None
    keys: set[str] = set()
    for node in ast.walk(definition):
        if isinstance(node, ast.Return) and node.value is not None:
            found = _literal_keys(node.value)
            if found is None:
                return None
            keys.update(found)
    return tuple(sorted(keys)) or None


def _generator(config: Config) -> str:
    default = next(o.default for o in conf.OPTIONS if o.name == "CORRELATION_ID_GENERATOR")
    if config.correlation_id_generator is default:
        return "128-bit random hex"
    return f"by `{dotted_path(config.correlation_id_generator)}`"


def _trusted_peers(config: Config) -> str:
    return ", ".join(f"`{network}`" for network in config.trusted_networks) or "any peer"


def _correlation_sources(config: Config) -> Iterator[_Source]:
    headers = ", else ".join(f"`{name}`" for name in config.correlation_id_headers)
    check = "as sent, from trusted peers" if config.trust_correlation_id else "validated"
    yield CORRELATION_ID, f"request header {headers} ({check})", REQUEST_START
    if config.trust_upstream_identifiers:
        upstream = f"trusted upstream `baggage` (from {_trusted_peers(config)})"
        yield CORRELATION_ID, upstream, REQUEST_START
    yield CORRELATION_ID, f"else generated ({_generator(config)})", REQUEST_START


def _derived_sources(config: Config) -> Iterator[_Source]:
    for name, resolver in config.resolvers.items():
        yield name, f"resolver `{dotted_path(resolver)}`", AFTER_ROUTING
    for kwarg, rule in config.url_kwargs.items():
        if isinstance(rule, str):
            yield rule, f"URL kwarg `{kwarg}`", AFTER_ROUTING
            continue
        for key in returned_keys(rule) or ():
            yield key, f"URL kwarg `{kwarg}` via lookup `{dotted_path(rule)}`", AFTER_ROUTING
    if config.user_id_field is not None:
        user = f"`request.user.{config.user_id_field}` (authenticated Django users only)"
        yield USER_ID, user, AFTER_AUTHENTICATION
    if config.trust_upstream_identifiers:
        upstream = f"trusted upstream `baggage` (from {_trusted_peers(config)})"
        for name in sorted(config.server_owned - {CORRELATION_ID}):
            yield name, upstream, REQUEST_START


def collect(config: Config) -> list[Attribute]:
    """The identifiers *config* binds, sorted by name (without the trace fields)."""
    found: dict[str, Attribute] = {}
    for name, source, when in (*_correlation_sources(config), *_derived_sources(config)):
        entry = found.setdefault(name, Attribute(name))
        entry.sources.append(source)
        entry.available.add(when)
    return sorted(found.values(), key=lambda entry: entry.name)


def bound_names(config: Config) -> frozenset[str]:
    """Every attribute name a request's log events get from the context."""
    return frozenset({entry.name for entry in collect(config)} | {TRACE_ID, SPAN_ID, TRACE_SAMPLED})


def baggage(name: str, config: Config) -> str:
    """Whether the identifier *name* is sent as baggage to the outbound hosts, and why not."""
    if not config.outbound_baggage_hosts and not config.outbound_baggage_to_unknown:
        return "no (`OUTBOUND_BAGGAGE_HOSTS` is empty)"
    if not config.propagate_identifiers:
        return "no (`PROPAGATE_IDENTIFIERS` is off)"
    if not key_allowed(name, config.outbound_baggage_keys):
        return "no (not in `OUTBOUND_BAGGAGE_KEYS`)"
    return "yes"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _row(*cells: str) -> str:
    return "| " + " | ".join(_cell(cell) for cell in cells) + " |"


def _codes(values: tuple[str, ...] | list[str]) -> str:
    return ", ".join(f"`{value}`" for value in values) or "(none)"


def _header(config: Config) -> list[str]:
    span = ", and writes them as attributes of the request span" if config.span_attributes else ""
    return [
        "# Common attributes",
        "",
        "Generated by `manage.py otel_context_catalogue` from the `OTEL_CONTEXT` configuration.",
        "otel_context binds these attributes to every structlog event (`StructlogOTelProcessor`)"
        " and stdlib log record (`OTelContextFilter`, with `_` for `.`) of a request" + span + ".",
        (
            "Call sites may spell them with `__` for the dot (`organisation__id`);"
            " a value passed at the call site wins over the context."
        ),
        (
            "Sources are listed by precedence: the first that yields a value wins."
            " `otel_context.bind()` overrides them all from the point it is called."
        ),
        (
            "Resolvers run after URL resolution, and once more after a late authentication"
            " if they returned nothing."
        ),
    ]


def _table(config: Config) -> list[str]:
    lines = [
        _row("Attribute", "Source", "Available", "Baggage (to the hosts below)"),
        _row("---", "---", "---", "---"),
    ]
    for entry in collect(config):
        sources = "; ".join(entry.sources)
        lines.append(_row(f"`{entry.name}`", sources, entry.when, baggage(entry.name, config)))
    lines.extend(_row(f"`{name}`", *_TRACE_ROW) for name in (TRACE_ID, SPAN_ID))
    lines.append(_row(f"`{TRACE_SAMPLED}`", *_SAMPLED_ROW))
    return lines


def _lookups(config: Config) -> list[str]:
    lines = []
    for kwarg, rule in config.url_kwargs.items():
        if isinstance(rule, str):
            continue
        keys = returned_keys(rule)
        known = (
            f"its return statements name {_codes(keys)}"
            if keys
            else "which ones is not known statically"
        )
        lines.append(f"- `{kwarg}`: attributes returned by `{dotted_path(rule)}`; {known}.")
    return ["## URL-kwarg lookups", "", *lines] if lines else []


def _outbound(config: Config) -> list[str]:
    keys = _codes(config.outbound_baggage_keys)
    if not config.propagate_identifiers:
        keys += ", but `PROPAGATE_IDENTIFIERS` is off: no identifier goes"
    unknown = "sent" if config.outbound_baggage_to_unknown else "not sent"
    lines = [
        "## Outbound baggage",
        "",
        (
            "Outgoing calls carry `traceparent` to every host, and `baggage` only to hosts matching"
            f" `OUTBOUND_BAGGAGE_HOSTS`: {_codes(config.outbound_baggage_hosts)}"
            " (`*` is one DNS label, `**` any number of labels)."
        ),
        f"Identifiers sent there: those matching `OUTBOUND_BAGGAGE_KEYS`: {keys}.",
        (
            "When the destination is unknown (no URL on the client span),"
            f" baggage is {unknown} (`OUTBOUND_BAGGAGE_TO_UNKNOWN`)."
        ),
    ]
    if config.inbound_baggage_allow:
        allowed = _codes(config.inbound_baggage_allow)
        lines.append(
            f"Inbound baggage kept by `INBOUND_BAGGAGE_ALLOW` ({allowed}) travels on too;"
            " it is not added to log events."
        )
    return lines


def render(config: Config, scan: Scan | None = None) -> str:
    """The catalogue for *config* as Markdown; with *scan*, its emit sites and baggage reads too.

    .. versionadded:: 0.1.0
    """
    sections = [_header(config), _table(config), _lookups(config), _outbound(config)]
    if scan is not None:
        sections.extend(event_sections(scan, bound_names(config), lambda n: baggage(n, config)))
        sections.append(reads_section(scan.reads, config))
    return "\n\n".join("\n".join(section) for section in sections if section) + "\n"
