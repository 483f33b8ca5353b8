"""Parsers for configuration values: each takes a Python value or an environment string.

Every parser is ``(value, where) -> parsed`` and raises :class:`ConfigurationError` naming
*where* (the setting key or environment variable) when the value cannot be used.
"""

from __future__ import annotations

import difflib
import ipaddress
import logging
from collections.abc import Callable, Mapping, Sequence
from importlib import import_module
from typing import Any

from otel_context import attributes

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
#: A URL-kwarg rule: the attribute it binds, or a lookup returning several attributes.
UrlKwargRule = str | Callable[[str], Mapping[str, object] | None]


class ConfigurationError(ValueError):
    """An ``OTEL_CONTEXT`` option has a value otel_context cannot use.

    Args:
        message: What is wrong, naming the option.
        problems: Each problem on its own (default: just *message*).
    """

    def __init__(self, message: str, problems: Sequence[str] | None = None) -> None:
        super().__init__(message)
        #: Each problem, one message each (``manage.py check`` shows one E002 per problem).
        self.problems: tuple[str, ...] = tuple(problems) if problems else (message,)


def split_list(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def import_callable(path: str, option: str) -> Callable[..., Any]:
    module_name, _, attr = path.replace(":", ".").rpartition(".")
    try:
        target = getattr(import_module(module_name), attr)
    except Exception as exc:  # a module may raise anything while it is imported
        msg = f"{option}: cannot import {path!r} ({type(exc).__name__}: {exc})"
        raise ConfigurationError(msg) from exc
    if not callable(target):
        msg = f"{option}: {path!r} is not callable"
        raise ConfigurationError(msg)
    return target  # type: ignore[no-any-return]


def as_callable(value: object, option: str) -> Callable[..., Any]:
    if isinstance(value, str):
        return import_callable(value, option)
    if callable(value):
        return value
    msg = f"{option}: expected a callable or its dotted path, got {type(value).__name__}"
    raise ConfigurationError(msg)


def as_bool(value: object, option: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() == "true"
    msg = f"{option}: expected a boolean, got {value!r}"
    raise ConfigurationError(msg)


def as_int(value: object, option: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        msg = f"{option}: expected a whole number, got {value!r}"
        raise ConfigurationError(msg)
    try:
        number = int(value)
    except ValueError as exc:
        msg = f"{option}: expected a whole number, got {value!r}"
        raise ConfigurationError(msg) from exc
    if number < 0:
        msg = f"{option}: must not be negative, got {number}"
        raise ConfigurationError(msg)
    return number


def as_strings(value: object, option: str) -> tuple[str, ...]:
    items = split_list(value) if isinstance(value, str) else value
    if not isinstance(items, list | tuple | set | frozenset) or not all(
        isinstance(item, str) for item in items
    ):
        msg = f"{option}: expected a list of strings, got {value!r}"
        raise ConfigurationError(msg)
    return tuple(items)


def as_mapping(value: object, option: str) -> dict[str, object]:
    if isinstance(value, str):  # environment form: "key=value,key2=value2"
        pairs = [part.partition("=") for part in split_list(value)]
        if any(not sep or not key.strip() for key, sep, _ in pairs):
            msg = f"{option}: expected 'key=value' pairs separated by commas, got {value!r}"
            raise ConfigurationError(msg)
        return {key.strip(): val.strip() for key, _, val in pairs}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        msg = f"{option}: expected a mapping with string keys, got {value!r}"
        raise ConfigurationError(msg)
    return dict(value)


class Resolvers(dict[str, Callable[[Any], object]]):
    """``RESOLVERS``: attribute -> callable, and which attributes beat the URL's id.

    By default an id from the URL (the resource the request is about) beats a resolver's for
    the same key; a resolver configured ``{"resolver": ..., "over_url": True}`` beats it.
    """

    __slots__ = ("over_url",)

    def __init__(
        self, resolvers: Mapping[str, Callable[[Any], object]], over_url: frozenset[str]
    ) -> None:
        super().__init__(resolvers)
        #: Attributes whose resolver beats the URL's id.
        self.over_url = over_url


#: The keys of a resolver given as a dict; ``resolver`` is required.
RESOLVER_KEYS = ("resolver", "over_url")
OVER_URL_PREFIX = "over_url:"


def as_resolvers(value: object, option: str) -> Resolvers:
    resolvers: dict[str, Callable[[Any], object]] = {}
    over_url: set[str] = set()
    for key, spec in as_mapping(value, option).items():
        where, name = f"{option}[{key!r}]", attributes.dotted(key)
        resolvers[name], wins = _resolver(spec, where)
        if wins:
            over_url.add(name)
    return Resolvers(resolvers, frozenset(over_url))


def _resolver(spec: object, where: str) -> tuple[Callable[[Any], object], bool]:
    """One resolver and whether it beats the URL's id.

    A callable or dotted path (``over_url:path`` beats it: the environment's form), or a
    ``{"resolver": ..., "over_url": bool}`` dict.
    """
    if isinstance(spec, str) and spec.startswith(OVER_URL_PREFIX):
        return import_callable(spec.removeprefix(OVER_URL_PREFIX), where), True
    if not isinstance(spec, Mapping):
        return as_callable(spec, where), False
    unknown = sorted(str(key) for key in spec if key not in RESOLVER_KEYS)
    if unknown or "resolver" not in spec:
        hints = [
            f"{name} -> {match[0]}"
            for name in unknown
            if (match := difflib.get_close_matches(name, RESOLVER_KEYS, n=1))
        ]
        hint = f" (did you mean: {', '.join(hints)}?)" if hints else ""
        got = sorted(map(str, spec))
        msg = f"{where}: expected keys {' and '.join(RESOLVER_KEYS)}, got {got}{hint}"
        raise ConfigurationError(msg)
    wins = as_bool(spec.get("over_url", False), f"{where}['over_url']")
    return as_callable(spec["resolver"], f"{where}['resolver']"), wins


def as_networks(value: object, option: str) -> tuple[IpNetwork, ...]:
    try:
        return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in as_strings(value, option))
    except ValueError as exc:
        msg = f"{option}: {exc}"
        raise ConfigurationError(msg) from exc


def as_optional_str(value: object, option: str) -> str | None:
    if value is None or isinstance(value, str):
        return value or None
    msg = f"{option}: expected a string, got {value!r}"
    raise ConfigurationError(msg)


def as_header_names(value: object, option: str) -> tuple[str, ...]:
    names = as_strings(value, option)
    if not names:
        msg = f"{option}: needs at least one header name"
        raise ConfigurationError(msg)
    return names


def as_ratio(value: object, option: str) -> float:
    """A fraction in [0, 1], from a number or its text (``"0.05"``)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        msg = f"{option}: expected a ratio in [0, 1], got {value!r}"
        raise ConfigurationError(msg)
    try:
        ratio = float(value)
    except ValueError:
        ratio = -1.0
    if not 0.0 <= ratio <= 1.0:  # also NaN
        msg = f"{option}: expected a ratio in [0, 1], got {value!r}"
        raise ConfigurationError(msg)
    return ratio


def as_level(value: object, option: str) -> int:
    """A logging level: a number, or a standard name in any case (``"warning"``)."""
    if isinstance(value, str) and not value.strip().isdigit():
        level = logging.getLevelNamesMapping().get(value.strip().upper())
        if level is None:
            names = ", ".join(sorted(logging.getLevelNamesMapping()))
            msg = f"{option}: expected a logging level ({names}) or a number, got {value!r}"
            raise ConfigurationError(msg)
        return level
    return as_int(value, option)
