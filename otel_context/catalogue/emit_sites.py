"""Find structlog emit sites in source files by static analysis: nothing is imported or run.

An emit site is a call such as ``log.info("event.name", key=value)`` on a structlog logger.
A receiver counts as a logger when it comes from ``structlog.get_logger()`` /
``getLogger()`` / ``wrap_logger()`` (directly, through ``.bind()`` chains, or through a name
or ``self.`` attribute assigned from one), and, as a heuristic, when it is named ``log``,
``logger``, ``_log`` or ``_logger`` and was not assigned from ``logging.getLogger()``.
Calls to ``otel_context.bind()`` are collected too: they bind attributes mid-request.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Final

from otel_context.attributes import dotted

_LEVELS: Final = ("debug", "info", "warning", "warn", "error", "exception", "critical", "fatal")
#: Methods that emit an event; ``log(level, event)`` takes the event second.
EMIT_METHODS: Final = frozenset({*_LEVELS, *(f"a{level}" for level in _LEVELS), "msg", "log"})
_LEVEL_FIRST: Final = frozenset({"log", "alog"})
_BIND_METHODS: Final = frozenset({"bind", "new"})
_CHAIN_METHODS: Final = _BIND_METHODS | {"unbind", "try_unbind"}
_FACTORIES: Final = frozenset({"get_logger", "getLogger", "wrap_logger"})
#: Receiver names taken for structlog loggers even when their origin is not visible.
HEURISTIC_NAMES: Final = frozenset({"log", "logger", "_log", "_logger"})
#: Keywords structlog treats specially: not attributes of the event.
_NOT_ATTRIBUTES: Final = frozenset({"event", "exc_info", "stack_info"})


@dataclass(frozen=True, slots=True)
class EmitSite:
    """One structlog call that emits an event."""

    path: str
    line: int
    method: str
    #: The event name if it is a string literal, else ``None``.
    event: str | None
    #: Keyword names as written (``organisation__id``): ``.bind()`` chain first, then the call's.
    kwargs: tuple[str, ...]
    #: Whether the receiver was recognised by its name only.
    heuristic: bool

    @property
    def attributes(self) -> tuple[str, ...]:
        """The attribute names, dotted, without repeats."""
        return tuple(dict.fromkeys(dotted(kwarg) for kwarg in self.kwargs))


@dataclass(frozen=True, slots=True)
class BindSite:
    """One ``otel_context.bind(...)`` call."""

    path: str
    line: int
    kwargs: tuple[str, ...]


#: A logger receiver: the keywords its ``.bind()`` chain adds, and whether it is a guess.
_Receiver = tuple[tuple[str, ...], bool]


def _name(node: ast.AST) -> str | None:
    """``self.log`` for an ``Attribute``/``Name`` chain, ``None`` for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _name(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def _kwargs(call: ast.Call) -> tuple[str, ...]:
    return tuple(k.arg for k in call.keywords if k.arg is not None and k.arg not in _NOT_ATTRIBUTES)


def _event(call: ast.Call, method: str) -> str | None:
    index = 1 if method in _LEVEL_FIRST else 0
    if len(call.args) > index:
        node: ast.expr | None = call.args[index]
    else:
        node = next((k.value for k in call.keywords if k.arg == "event"), None)
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


class _Module:
    """What one file's imports and assignments say about its names."""

    def __init__(self) -> None:
        self.modules: dict[str, str] = {}  # local name -> "structlog" | "logging" | "otel_context"
        self.factories: dict[str, str] = {}  # local name of get_logger & co -> its package
        self.bind_functions: set[str] = set()
        self.loggers: dict[str, _Receiver] = {}
        self.stdlib_loggers: set[str] = set()

    def add_import(self, node: ast.Import | ast.ImportFrom) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                package = alias.name.partition(".")[0]
                self.modules[alias.asname or package] = package
            return
        package = (node.module or "").partition(".")[0]
        for alias in node.names:
            local = alias.asname or alias.name
            if package == "otel_context" and alias.name == "bind":
                self.bind_functions.add(local)
            elif alias.name in _FACTORIES:
                self.factories[local] = package
            elif package == "structlog":
                self.modules[local] = package  # from structlog import stdlib

    def factory(self, call: ast.Call) -> str | None:
        """``"structlog"`` or ``"logging"`` if *call* makes a logger of that package."""
        name = _name(call.func)
        if name is None:
            return None
        if name in self.factories:
            return self.factories[name]
        root, _, rest = name.partition(".")
        if rest and rest.rpartition(".")[2] in _FACTORIES:
            return self.modules.get(root)
        return None

    def receiver(self, node: ast.expr) -> _Receiver | None:
        """The logger *node* evaluates to, or ``None`` if it is not (known to be) one."""
        if isinstance(node, ast.Call):
            return self._call_receiver(node)
        name = _name(node)
        if name is None or name in self.stdlib_loggers:
            return None
        if name in self.loggers:
            return self.loggers[name]
        return ((), True) if name.rpartition(".")[2] in HEURISTIC_NAMES else None

    def _call_receiver(self, call: ast.Call) -> _Receiver | None:
        package = self.factory(call)
        if package is not None:
            return ((), False) if package == "structlog" else None
        func = call.func
        if not isinstance(func, ast.Attribute) or func.attr not in _CHAIN_METHODS:
            return None
        inner = self.receiver(func.value)
        if inner is None:
            return None
        kept = () if func.attr == "new" else inner[0]
        added = _kwargs(call) if func.attr in _BIND_METHODS else ()
        return (kept + added, inner[1])

    def track(self, node: ast.Assign | ast.AnnAssign) -> None:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        names = [name for name in map(_name, targets) if name is not None]
        if node.value is None or not names:
            return
        if isinstance(node.value, ast.Call) and self.factory(node.value) == "logging":
            self.stdlib_loggers.update(names)
            return
        found = self.receiver(node.value)
        if found is not None:
            self.loggers.update(dict.fromkeys(names, found))

    def emit_site(self, call: ast.Call, path: str) -> EmitSite | None:
        """*call* as an emit site, if it is a logger's emitting method."""
        func = call.func
        if not isinstance(func, ast.Attribute) or func.attr not in EMIT_METHODS:
            return None
        found = self.receiver(func.value)
        if found is None:
            return None
        bound, heuristic = found
        event = _event(call, func.attr)
        return EmitSite(path, call.lineno, func.attr, event, bound + _kwargs(call), heuristic)

    def is_bind(self, call: ast.Call) -> bool:
        name = _name(call.func)
        if name is None:
            return False
        module, _, function = name.rpartition(".")
        if not module:
            return name in self.bind_functions
        return function == "bind" and self.modules.get(module) == "otel_context"


def _ordered(tree: ast.AST) -> list[ast.stmt | ast.expr]:
    nodes = [node for node in ast.walk(tree) if isinstance(node, ast.stmt | ast.expr)]
    return sorted(nodes, key=lambda node: (node.lineno, node.col_offset))


def scan_source(source: str | bytes, path: str) -> tuple[list[EmitSite], list[BindSite]]:
    """The emit sites and ``otel_context.bind()`` calls of one file's *source*.

    Raises:
        SyntaxError: *source* is not valid Python.
    """
    return sites_in(ast.parse(source, filename=path), path)


def sites_in(tree: ast.AST, path: str) -> tuple[list[EmitSite], list[BindSite]]:
    """The emit sites and ``otel_context.bind()`` calls of one file's parsed *tree*."""
    nodes = _ordered(tree)
    module = _Module()
    for node in nodes:
        if isinstance(node, ast.Import | ast.ImportFrom):
            module.add_import(node)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            module.track(node)
    emits: list[EmitSite] = []
    binds: list[BindSite] = []
    for node in nodes:
        if not isinstance(node, ast.Call):
            continue
        if module.is_bind(node):
            binds.append(BindSite(path, node.lineno, _kwargs(node)))
        elif (site := module.emit_site(node, path)) is not None:
            emits.append(site)
    return emits, binds
