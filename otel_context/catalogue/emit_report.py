"""The catalogue's Markdown sections about a project's emit sites (``--events``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from otel_context.attributes import dotted
from otel_context.catalogue.emit_sites import HEURISTIC_NAMES

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from otel_context.catalogue.emit_sites import EmitSite
    from otel_context.catalogue.project import Scan

DYNAMIC = "<dynamic>"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _codes(values: Iterable[str]) -> str:
    return ", ".join(f"`{_cell(value)}`" for value in values)


def _key(site: EmitSite) -> tuple[bool, str, str, int]:
    return (site.event is None, site.event or "", site.path, site.line)


def _where(site: EmitSite) -> str:
    return f"`{site.path}:{site.line}`" + (" †" if site.heuristic else "")


def _emits(scan: Scan) -> list[str]:
    heuristic = ", ".join(f"`{name}`" for name in sorted(HEURISTIC_NAMES))
    lines = [
        "## Emit sites",
        "",
        (
            f"structlog calls in {_codes(scan.roots)} ({scan.files} files),"
            " found by static analysis: no code was imported or run."
        ),
        (
            "A receiver counts as a logger when it comes from structlog's `get_logger()`,"
            " `getLogger()` or `wrap_logger()`, directly or through a name or `.bind()` chain;"
            f" sites marked † were recognised by the receiver's name only ({heuristic}),"
            " except names assigned from `logging.getLogger()`."
        ),
        "Attributes bound with `.bind()` on the receiver count as the call's.",
        "",
    ]
    if not scan.emits:
        lines.append("No emit sites found.")
    else:
        lines += ["| Event | Method | Where | Call-site attributes |", "| --- | --- | --- | --- |"]
    for site in sorted(scan.emits, key=_key):
        event = DYNAMIC if site.event is None else site.event
        attributes = _codes(site.attributes) or "-"
        lines.append(f"| `{_cell(event)}` | {site.method} | {_where(site)} | {attributes} |")
    if scan.unreadable:
        lines += ["", f"Could not be parsed: {_codes(scan.unreadable)}."]
    return lines


def _binds(scan: Scan, baggage: Callable[[str], str]) -> list[str]:
    rows = sorted(
        (dotted(kwarg), site.path, site.line) for site in scan.binds for kwarg in site.kwargs
    )
    if not rows:
        return []
    return [
        "## Bound with `otel_context.bind()`",
        "",
        "These attributes are bound mid-request, from the call on; only the code knows when.",
        "",
        "| Attribute | Where | Baggage (to the hosts above) |",
        "| --- | --- | --- |",
        *(f"| `{name}` | `{path}:{line}` | {baggage(name)} |" for name, path, line in rows),
    ]


def _redundant_kwargs(site: EmitSite, bound: frozenset[str]) -> list[str]:
    return list(dict.fromkeys(kwarg for kwarg in site.kwargs if dotted(kwarg) in bound))


def _redundant(scan: Scan, bound: frozenset[str]) -> list[str]:
    lines = ["## Redundant call-site attributes", ""]
    found = [(site, _redundant_kwargs(site, bound)) for site in sorted(scan.emits, key=_key)]
    found = [(site, kwargs) for site, kwargs in found if kwargs]
    if not found:
        return [*lines, "None: no emit site passes an attribute the context already binds."]
    lines += [
        (
            "Inside a request the context already binds these attributes (once available, see the"
            " table above), so these call sites can drop them."
        ),
        (
            "Keep one where the code also runs outside a request (a task, a command), or passes"
            " another id on purpose: the call-site value wins over the context."
        ),
        "",
    ]
    for site, kwargs in found:
        event = DYNAMIC if site.event is None else site.event
        names = ", ".join(
            f"`{kwarg}`" + (f" (`{dotted(kwarg)}`)" if kwarg != dotted(kwarg) else "")
            for kwarg in kwargs
        )
        lines.append(f"- {_where(site)} `{_cell(event)}`: {names}")
    return lines


def event_sections(
    scan: Scan, bound: frozenset[str], baggage: Callable[[str], str]
) -> list[list[str]]:
    """The emit-site, ``bind()`` and redundancy sections for *scan*.

    Args:
        scan: What scanning the project found.
        bound: The attribute names the context binds (call-site ones matching are redundant).
        baggage: Says whether an attribute name travels as baggage.
    """
    return [_emits(scan), _binds(scan, baggage), _redundant(scan, bound)]
