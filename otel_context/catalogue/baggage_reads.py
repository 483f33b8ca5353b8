"""Find the application's reads of inbound baggage keys by static analysis.

A read is ``get_baggage("key")`` from ``opentelemetry.baggage`` (imported as a module under any
alias, as ``opentelemetry.baggage``, or as the function itself), or a lookup in what
``get_all()`` returns: ``get_all()["key"]``, ``.get("key")``, ``"key" in …``, also through a
name assigned from ``get_all()``. A read whose key is not a string literal is kept with no key:
which key it reads is not known statically. Nothing is imported or run.

:func:`verdict` says what the inbound policy does to a key, through the policy's own code
(:func:`otel_context.baggage.filter_inbound`), so the report never disagrees with a request.
"""

from __future__ import annotations

import ast
import enum
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from otel_context.attributes import CORRELATION_ID
from otel_context.baggage import filter_inbound

if TYPE_CHECKING:
    from otel_context.conf import Config

_MODULE: Final = "opentelemetry.baggage"
_GET: Final = "get_baggage"
_ALL: Final = "get_all"
_SAMPLE_VALUE: Final = "0"  # printable and short: only the key decides


@dataclass(frozen=True, slots=True)
class BaggageRead:
    """One read of an inbound baggage key."""

    path: str
    line: int
    #: The key if it is a string literal, else ``None``.
    key: str | None


class Verdict(enum.Enum):
    """What the inbound baggage policy does to a key a client sends."""

    KEPT = "kept"
    DROPPED = "dropped"
    SERVER_OWNED = "server-owned"
    OWN = "own"  # the request's own correlation id, set by otel_context


def verdict(key: str, config: Config) -> Verdict:
    """What the inbound policy of *config* does to *key* sent by an untrusted client."""
    if key == CORRELATION_ID:
        return Verdict.OWN
    inbound = filter_inbound({key: _SAMPLE_VALUE}, config, trusted_peer=False)
    if key in inbound.kept:
        return Verdict.KEPT
    return Verdict.SERVER_OWNED if key in config.server_owned else Verdict.DROPPED


def _dotted(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _literal(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


class _Imports:
    """The local names one module gives ``opentelemetry.baggage`` and its two readers."""

    def __init__(self, tree: ast.AST) -> None:
        self.modules: set[str] = set()
        self.functions: dict[str, str] = {}  # local name -> get_baggage | get_all
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                self._import(node)
            elif isinstance(node, ast.ImportFrom):
                self._import_from(node)

    def _import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname is None and alias.name.partition(".")[0] == "opentelemetry":
                self.modules.add(_MODULE)  # ``opentelemetry.baggage.get_baggage``
            elif alias.name == _MODULE and alias.asname is not None:
                self.modules.add(alias.asname)

    def _import_from(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            local = alias.asname or alias.name
            if node.module == "opentelemetry" and alias.name == "baggage":
                self.modules.add(local)
            elif node.module == _MODULE and alias.name in {_GET, _ALL}:
                self.functions[local] = alias.name

    def reader(self, call: ast.Call) -> str | None:
        """``get_baggage`` or ``get_all`` if *call* calls one of them."""
        name = _dotted(call.func)
        if name is None:
            return None
        if name in self.functions:
            return self.functions[name]
        module, _, function = name.rpartition(".")
        return function if module in self.modules and function in {_GET, _ALL} else None


def _get_baggage_key(call: ast.Call) -> str | None:
    node = call.args[0] if call.args else next((k.value for k in call.keywords), None)
    return _literal(node)


def _lookup_key(entries: ast.expr, parents: dict[ast.AST, ast.AST]) -> str | None:
    """The key looked up in the mapping *entries* evaluates to, if a literal one is."""
    parent = parents.get(entries)
    if isinstance(parent, ast.Subscript) and parent.value is entries:
        return _literal(parent.slice)
    if isinstance(parent, ast.Compare) and parent.comparators[-1] is entries:
        return _literal(parent.left) if isinstance(parent.ops[-1], ast.In | ast.NotIn) else None
    if isinstance(parent, ast.Attribute) and parent.attr == "get":
        call = parents.get(parent)
        if isinstance(call, ast.Call) and call.func is parent and call.args:
            return _literal(call.args[0])
    return None


def _assigned_names(call: ast.Call, parents: dict[ast.AST, ast.AST]) -> list[str]:
    parent = parents.get(call)
    if isinstance(parent, ast.Assign) and parent.value is call:
        return [target.id for target in parent.targets if isinstance(target, ast.Name)]
    if isinstance(parent, ast.AnnAssign) and isinstance(parent.target, ast.Name):
        return [parent.target.id]
    return []


def reads_in(tree: ast.AST, path: str) -> list[BaggageRead]:
    """The inbound baggage reads of one file's parsed *tree*, in source order."""
    imports = _Imports(tree)
    if not imports.modules and not imports.functions:
        return []
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    reads: list[BaggageRead] = []
    entries: set[str] = set()  # names assigned from get_all()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or (reader := imports.reader(node)) is None:
            continue
        if reader == _GET:
            reads.append(BaggageRead(path, node.lineno, _get_baggage_key(node)))
        elif names := _assigned_names(node, parents):
            entries.update(names)
        else:
            reads.append(BaggageRead(path, node.lineno, _lookup_key(node, parents)))
    reads.extend(
        BaggageRead(path, node.lineno, _lookup_key(node, parents))
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and node.id in entries and isinstance(node.ctx, ast.Load)
    )
    return sorted(reads, key=lambda read: (read.line, read.key or ""))


_VERDICTS: Final = {
    Verdict.KEPT: "kept: matches `INBOUND_BAGGAGE_ALLOW`",
    Verdict.DROPPED: "**dropped**: not in `INBOUND_BAGGAGE_ALLOW`",
    Verdict.SERVER_OWNED: (
        "server-owned: dropped from clients; read it with `otel_context.get_identifiers()`"
    ),
    Verdict.OWN: "the request's own correlation id, set by otel_context",
}


def dropped_keys(reads: list[BaggageRead], config: Config) -> dict[str, list[BaggageRead]]:
    """The keys read in *reads* that the inbound policy drops, with where each is read."""
    found: dict[str, list[BaggageRead]] = {}
    for read in reads:
        if read.key is not None and verdict(read.key, config) is Verdict.DROPPED:
            found.setdefault(read.key, []).append(read)
    return dict(sorted(found.items()))


def allow_hint(keys: list[str], config: Config) -> str:
    """The ``INBOUND_BAGGAGE_ALLOW`` setting that keeps *keys* as well, as Python.

    A line for the end of a settings module, with or without an ``OTEL_CONTEXT`` dict yet
    (issue 21: ``OTEL_CONTEXT["..."] = ...`` was a ``NameError`` without one).
    """
    allow = json.dumps([*config.inbound_baggage_allow, *keys])
    return (
        'OTEL_CONTEXT = {**globals().get("OTEL_CONTEXT", {}), '
        f'"INBOUND_BAGGAGE_ALLOW": {allow}}}'
    )


def _where(reads: list[BaggageRead]) -> str:
    return ", ".join(f"`{read.path}:{read.line}`" for read in reads)


def reads_section(reads: list[BaggageRead], config: Config) -> list[str]:
    """The catalogue's Markdown section about the application's inbound baggage reads."""
    lines = [
        "## Inbound baggage the application reads",
        "",
        (
            "Reads of inbound `baggage` keys (`opentelemetry.baggage.get_baggage()`, lookups in"
            " `get_all()`), found by static analysis. The inbound policy drops every key a client"
            " sends that `INBOUND_BAGGAGE_ALLOW` does not list, before the application reads it."
        ),
        "",
    ]
    by_key: dict[str, list[BaggageRead]] = {}
    for read in reads:
        if read.key is not None:
            by_key.setdefault(read.key, []).append(read)
    if not by_key:
        lines.append("No reads with a literal key found.")
    else:
        lines += ["| Key | Where | Inbound policy |", "| --- | --- | --- |"]
    for key, where in sorted(by_key.items()):
        cell = key.replace("|", "\\|")
        lines.append(f"| `{cell}` | {_where(where)} | {_VERDICTS[verdict(key, config)]} |")
    dropped = list(dropped_keys(reads, config))
    if dropped:
        lines += [
            "",
            "To receive the dropped keys from clients, list them (or a prefix) in the settings:",
            "",
            "```python",
            allow_hint(dropped, config),
            "```",
        ]
    dynamic = [read for read in reads if read.key is None]
    if dynamic:
        lines += ["", f"Reads whose key is not known statically: {_where(dynamic)}."]
    return lines
