"""Configuration: the only module that reads Django settings or the environment.

Every option has one name, usable as a key of the ``OTEL_CONTEXT`` Django setting, as an
``OTEL_CONTEXT_<NAME>`` environment variable and as a lower-case keyword of
:func:`otel_context.instrument`. Precedence: keyword, then setting, then environment, then default
(code configuration wins over the environment, as in the OTel SDK).
Environment values follow the OTel spec: empty means unset, booleans are true only for "true".

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import ipaddress
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any, Final

from otel_context import attributes

SETTING_NAME: Final = "OTEL_CONTEXT"
ENV_PREFIX: Final = "OTEL_CONTEXT_"

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
#: A URL-kwarg rule: the attribute it binds, or a lookup returning several attributes.
UrlKwargRule = str | Callable[[str], Mapping[str, object] | None]


class ConfigurationError(ValueError):
    """An ``OTEL_CONTEXT`` option has a value otel_context cannot use."""


def _split(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]


def _import(path: str, option: str) -> Callable[..., Any]:
    module_name, _, attr = path.replace(":", ".").rpartition(".")
    try:
        target = getattr(import_module(module_name), attr)
    except (ImportError, AttributeError, ValueError) as exc:
        msg = f"{option}: cannot import {path!r} ({exc})"
        raise ConfigurationError(msg) from exc
    if not callable(target):
        msg = f"{option}: {path!r} is not callable"
        raise ConfigurationError(msg)
    return target  # type: ignore[no-any-return]


def _callable(value: object, option: str) -> Callable[..., Any]:
    if isinstance(value, str):
        return _import(value, option)
    if callable(value):
        return value
    msg = f"{option}: expected a callable or its dotted path, got {type(value).__name__}"
    raise ConfigurationError(msg)


def _bool(value: object, option: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() == "true"
    msg = f"{option}: expected a boolean, got {value!r}"
    raise ConfigurationError(msg)


def _int(value: object, option: str) -> int:
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


def _strings(value: object, option: str) -> tuple[str, ...]:
    items = _split(value) if isinstance(value, str) else value
    if not isinstance(items, list | tuple | set | frozenset) or not all(
        isinstance(item, str) for item in items
    ):
        msg = f"{option}: expected a list of strings, got {value!r}"
        raise ConfigurationError(msg)
    return tuple(items)


def _mapping(value: object, option: str) -> dict[str, object]:
    if isinstance(value, str):  # environment form: "key=value,key2=value2"
        pairs = [part.partition("=") for part in _split(value)]
        if any(not sep or not key.strip() for key, sep, _ in pairs):
            msg = f"{option}: expected 'key=value' pairs separated by commas, got {value!r}"
            raise ConfigurationError(msg)
        return {key.strip(): val.strip() for key, _, val in pairs}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        msg = f"{option}: expected a mapping with string keys, got {value!r}"
        raise ConfigurationError(msg)
    return dict(value)


def _url_kwargs(value: object, option: str) -> dict[str, UrlKwargRule]:
    rules: dict[str, UrlKwargRule] = {}
    for kwarg, rule in _mapping(value, option).items():
        where = f"{option}[{kwarg!r}]"
        if isinstance(rule, Mapping) and "lookup" in rule:
            rules[kwarg] = _callable(rule["lookup"], where)
        elif isinstance(rule, str) and rule.startswith("lookup:"):
            rules[kwarg] = _import(rule.removeprefix("lookup:"), where)
        elif isinstance(rule, str) and rule:
            rules[kwarg] = attributes.dotted(rule)
        else:
            msg = (
                f"{where}: expected an attribute name or {{'lookup': 'dotted.path'}}, got {rule!r}"
            )
            raise ConfigurationError(msg)
    return rules


def _resolvers(value: object, option: str) -> dict[str, Callable[[Any], object]]:
    return {
        attributes.dotted(key): _callable(path, f"{option}[{key!r}]")
        for key, path in _mapping(value, option).items()
    }


def _networks(value: object, option: str) -> tuple[IpNetwork, ...]:
    try:
        return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in _strings(value, option))
    except ValueError as exc:
        msg = f"{option}: {exc}"
        raise ConfigurationError(msg) from exc


def _optional_str(value: object, option: str) -> str | None:
    if value is None or isinstance(value, str):
        return value or None
    msg = f"{option}: expected a string, got {value!r}"
    raise ConfigurationError(msg)


def _header_names(value: object, option: str) -> tuple[str, ...]:
    names = _strings(value, option)
    if not names:
        msg = f"{option}: needs at least one header name"
        raise ConfigurationError(msg)
    return names


def _generate_uuid_hex() -> str:
    import uuid  # noqa: PLC0415 - only the default generator needs it

    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class Option:
    """One configuration option: its name, default, parser and documentation."""

    name: str
    default: object
    parse: Callable[[object, str], object]
    doc: str

    @property
    def env_var(self) -> str:
        """The environment variable that sets this option."""
        return ENV_PREFIX + self.name


#: Our own services by default: single-label names (compose / k8s short names), loopback,
#: and the private-use ``.internal`` and cluster-local suffixes. Never the public internet.
DEFAULT_OUTBOUND_HOSTS: Final = (
    "*",
    "localhost",
    "127.0.0.1",
    "::1",
    "**.internal",
    "**.svc.cluster.local",
)

_DEFAULT_URL_KWARGS: Final = {
    f"{name}_{suffix}": f"{name}.id"
    for name in ("organisation", "project", "environment")
    for suffix in ("pk", "id")
}

OPTIONS: Final[tuple[Option, ...]] = (
    Option(
        "CORRELATION_ID_HEADERS",
        ("Correlation-Id", "X-Request-ID"),
        _header_names,
        "Request headers read for the correlation id, first match wins.",
    ),
    Option(
        "CORRELATION_ID_RESPONSE_HEADER",
        None,
        _optional_str,
        "Response header for the correlation id; unset: the header it came in, else the first.",
    ),
    Option(
        "CORRELATION_ID_GENERATOR",
        _generate_uuid_hex,
        _callable,
        "Callable (or dotted path) returning a new correlation id; default: UUID4 hex.",
    ),
    Option(
        "TRUST_CORRELATION_ID",
        False,
        _bool,
        "Accept the correlation header as is (behind a proxy that sets it) instead of validating.",
    ),
    Option(
        "USER_ID_FIELD",
        "pk",
        _optional_str,
        "Attribute of the authenticated Django user bound as user.id.",
    ),
    Option(
        "URL_KWARGS",
        _DEFAULT_URL_KWARGS,
        _url_kwargs,
        "URL kwarg -> attribute name, or {'lookup': 'dotted.path'} returning several ids.",
    ),
    Option(
        "RESOLVERS",
        {},
        _resolvers,
        "Attribute -> callable (request) returning an id or None, run after auth and routing.",
    ),
    Option(
        "INBOUND_BAGGAGE_ALLOW",
        (),
        _strings,
        "Inbound baggage keys kept (exact, or prefix ending in '.' or '*'); others dropped.",
    ),
    Option(
        "INBOUND_BAGGAGE_MAX_ENTRIES",
        16,
        _int,
        "At most this many inbound baggage entries are kept.",
    ),
    Option(
        "INBOUND_BAGGAGE_MAX_VALUE_LENGTH",
        256,
        _int,
        "Inbound baggage values longer than this are dropped.",
    ),
    Option(
        "TRUST_UPSTREAM_IDENTIFIERS",
        False,
        _bool,
        "Accept server-owned ids from inbound baggage (only behind a trusted hop).",
    ),
    Option(
        "TRUSTED_NETWORKS",
        (),
        _networks,
        "CIDRs whose requests the trust options apply to; empty: every peer.",
    ),
    Option(
        "OUTBOUND_BAGGAGE_HOSTS",
        DEFAULT_OUTBOUND_HOSTS,
        _strings,
        "Hosts that receive baggage: exact names, '*' = one DNS label, '**' = any labels.",
    ),
    Option(
        "OUTBOUND_BAGGAGE_KEYS",
        ("*",),
        _strings,
        "Identifiers sent to those hosts (exact, or prefix ending in '.' or '*').",
    ),
    Option(
        "OUTBOUND_BAGGAGE_TO_UNKNOWN",
        False,
        _bool,
        "Send baggage when the destination is unknown (no URL on the client span).",
    ),
    Option(
        "SPAN_ATTRIBUTES", True, _bool, "Write the identifiers as attributes of the request span."
    ),
    Option(
        "PROPAGATE_IDENTIFIERS",
        True,
        _bool,
        "Send the identifiers as baggage on outgoing calls (subject to the outbound policy).",
    ),
)
_BY_NAME: Final = {option.name: option for option in OPTIONS}


@dataclass(frozen=True, slots=True)
class Config:
    """The resolved configuration. Build it with :func:`get_config`."""

    correlation_id_headers: tuple[str, ...]
    correlation_id_response_header: str | None
    correlation_id_generator: Callable[[], str]
    trust_correlation_id: bool
    user_id_field: str | None
    url_kwargs: Mapping[str, UrlKwargRule]
    resolvers: Mapping[str, Callable[[Any], object]]
    inbound_baggage_allow: tuple[str, ...]
    inbound_baggage_max_entries: int
    inbound_baggage_max_value_length: int
    trust_upstream_identifiers: bool
    trusted_networks: tuple[IpNetwork, ...]
    outbound_baggage_hosts: tuple[str, ...]
    outbound_baggage_keys: tuple[str, ...]
    outbound_baggage_to_unknown: bool
    span_attributes: bool
    propagate_identifiers: bool
    server_owned: frozenset[str] = field(default=attributes.SERVER_OWNED)


def _derived_keys(
    url_kwargs: Mapping[str, UrlKwargRule], resolvers: Mapping[str, object]
) -> frozenset[str]:
    """Every attribute the application derives is server-owned too."""
    url_attrs = {rule for rule in url_kwargs.values() if isinstance(rule, str)}
    return attributes.SERVER_OWNED | url_attrs | set(resolvers)


def _django_setting() -> Mapping[str, object]:
    try:
        from django.conf import settings  # noqa: PLC0415 - the core must not need Django

        value = getattr(settings, SETTING_NAME, None) if settings.configured else None
    except ImportError:  # pragma: no cover - Django is a dependency; Flask apps may lack settings
        return {}
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        msg = f"{SETTING_NAME} must be a dict, got {type(value).__name__}"
        raise ConfigurationError(msg)
    return value


def _did_you_mean(unknown: list[str]) -> str:
    import difflib  # noqa: PLC0415 - only on the error path

    hints = [
        f"{name} -> {match[0]}"
        for name in unknown
        if (match := difflib.get_close_matches(name, list(_BY_NAME), n=1))
    ]
    return f" (did you mean: {', '.join(hints)}?)" if hints else ""


def build_config(
    overrides: Mapping[str, object] | None = None,
    setting: Mapping[str, object] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Resolve every option from keyword *overrides*, the Django *setting*, then *environ*.

    Raises:
        ConfigurationError: an unknown option name or a value that cannot be used.
    """
    overrides = {key.upper(): value for key, value in (overrides or {}).items()}
    setting = _django_setting() if setting is None else setting
    environ = os.environ if environ is None else environ
    for source, names in (("instrument()", overrides), (SETTING_NAME, setting)):
        unknown = sorted(set(names) - set(_BY_NAME))
        if unknown:
            msg = f"{source}: unknown option(s) {', '.join(unknown)}{_did_you_mean(unknown)}"
            raise ConfigurationError(msg)
    values: dict[str, object] = {}
    for option in OPTIONS:
        where = f"{SETTING_NAME}[{option.name!r}]"
        if option.name in overrides:
            raw = overrides[option.name]
        elif option.name in setting:
            raw = setting[option.name]
        elif environ.get(option.env_var, "").strip():
            raw, where = environ[option.env_var], option.env_var
        else:
            raw = option.default
        values[option.name] = option.parse(raw, where)
    fields: dict[str, Any] = {name.lower(): value for name, value in values.items()}
    owned = _derived_keys(fields["url_kwargs"], fields["resolvers"])
    return Config(**fields, server_owned=owned)


_lock = threading.Lock()
_cached: Config | None = None
_overrides: dict[str, object] = {}


def get_config() -> Config:
    """Return the current configuration, resolving it on first use after a change."""
    global _cached  # noqa: PLW0603 - one process-wide configuration, swapped atomically
    config = _cached
    if config is None:
        with _lock:
            config = _cached = build_config(_overrides)
    return config


def configure(**overrides: object) -> Config:
    """Set keyword overrides (as :func:`otel_context.instrument` does) and re-resolve."""
    global _cached  # noqa: PLW0603
    with _lock:
        _overrides.clear()
        _overrides.update(overrides)
        _cached = None
    return get_config()


def reset() -> None:
    """Forget the resolved configuration; the next :func:`get_config` reads it anew."""
    global _cached  # noqa: PLW0603
    _cached = None
