"""Configuration: the only module that reads Django settings or the environment.

Every option has one name, usable as a key of the ``OTEL_CONTEXT`` Django setting, as an
``OTEL_CONTEXT_<NAME>`` environment variable and as a lower-case keyword of
:func:`otel_context.instrument`. Precedence: keyword, then setting, then environment, then default
(code configuration wins over the environment, as in the OTel SDK).
Environment values follow the OTel spec: empty means unset, booleans are true only for "true".
The options, each with its default and parser, are the table in :mod:`otel_context.options`.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from otel_context import attributes
from otel_context._parsers import ConfigurationError, IpNetwork, Resolvers, UrlKwargRule
from otel_context._url_kwargs import UrlKwargs
from otel_context.options import DEFAULT_OUTBOUND_HOSTS, ENV_PREFIX, OPTIONS, Option

__all__ = [
    "DEFAULT_OUTBOUND_HOSTS",
    "ENV_PREFIX",
    "OPTIONS",
    "SETTING_NAME",
    "Config",
    "ConfigurationError",
    "IpNetwork",
    "Option",
    "Resolvers",
    "UrlKwargRule",
    "UrlKwargs",
    "build_config",
    "configure",
    "get_config",
    "problems",
    "reset",
    "startup_option",
]

_logger = logging.getLogger(__name__)
SETTING_NAME: Final = "OTEL_CONTEXT"


_BY_NAME: Final = {option.name: option for option in OPTIONS}


@dataclass(frozen=True, slots=True)
class Config:
    """The resolved configuration. Build it with :func:`get_config`."""

    correlation_id_headers: tuple[str, ...]
    correlation_id_response_header: str | None
    correlation_id_generator: Callable[[], str]
    trust_correlation_id: bool
    user_id_field: str | None
    url_kwargs: UrlKwargs
    resolvers: Resolvers
    inbound_baggage_allow: tuple[str, ...]
    inbound_baggage_max_entries: int
    inbound_baggage_max_value_length: int
    trust_upstream_identifiers: bool
    trusted_networks: tuple[IpNetwork, ...]
    outbound_baggage_hosts: tuple[str, ...]
    outbound_baggage_keys: tuple[str, ...]
    outbound_baggage_to_unknown: bool
    trace_response_header: str | None
    span_file: str | None
    log_file: str | None
    set_up_providers: bool
    span_attributes: bool
    propagate_identifiers: bool
    unsampled_log_ratio: float
    unsampled_log_level: int
    hold_lines: bool
    hold_slow_ms: int
    hold_max_lines: int
    hold_max_bytes: int
    hold_max_process_bytes: int
    keep_notable_traces: bool
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


def _did_you_mean(name: object) -> str:
    import difflib  # noqa: PLC0415 - only on the error path

    match = difflib.get_close_matches(name, list(_BY_NAME), n=1) if isinstance(name, str) else []
    return f" (did you mean {match[0]}?)" if match else ""


def _unknown(source: str, names: Mapping[Any, object]) -> list[str]:
    """One problem per option name *source* gives that does not exist."""
    unknown = sorted((name for name in names if name not in _BY_NAME), key=str)
    return [f"{source}: unknown option {name!s}{_did_you_mean(name)}" for name in unknown]


def _parse(option: Option, raw: object, where: str) -> object:
    """*option*'s value from *raw*: any failure is a :class:`ConfigurationError` naming *where*.

    A resolver's module may raise anything while it is imported; that is the setting's
    problem too, and it must reach ``manage.py check`` as a message, not a traceback.
    """
    try:
        return option.parse(raw, where)
    except ConfigurationError:
        raise
    except Exception as exc:
        msg = f"{where}: unusable value ({type(exc).__name__}: {exc})"
        raise ConfigurationError(msg) from exc


def _resolve(
    overrides: Mapping[str, object], setting: Mapping[str, object], environ: Mapping[str, str]
) -> tuple[dict[str, object], list[str]]:
    """Every option's value, and every problem found on the way (all of them, not the first)."""
    problems = _unknown("instrument()", overrides) + _unknown(SETTING_NAME, setting)
    values: dict[str, object] = {}
    for option in OPTIONS:
        where = f"{SETTING_NAME}[{option.name!r}]"
        if option.name in overrides:
            raw, where = overrides[option.name], f"{option.name.lower()}= ({where})"
        elif option.name in setting:
            raw = setting[option.name]
        elif environ.get(option.env_var, "").strip():
            raw, where = environ[option.env_var], option.env_var
        else:
            raw = option.default
        try:
            values[option.name] = _parse(option, raw, where)
        except ConfigurationError as exc:
            problems.extend(exc.problems)
    return values, problems


def _sources(
    overrides: Mapping[str, object] | None,
    setting: Mapping[str, object] | None,
    environ: Mapping[str, str] | None,
) -> tuple[dict[str, object], Mapping[str, object], Mapping[str, str]]:
    upper = {key.upper(): value for key, value in (overrides or {}).items()}
    setting = _django_setting() if setting is None else setting
    return upper, setting, os.environ if environ is None else environ


def problems(
    overrides: Mapping[str, object] | None = None,
    setting: Mapping[str, object] | None = None,
    environ: Mapping[str, str] | None = None,
) -> list[str]:
    """Every reason :func:`build_config` would fail, one message each; empty if it would not.

    The system check lists these (``otel_context.E002``), as Django lists its own problems.
    """
    try:
        return _resolve(*_sources(overrides, setting, environ))[1]
    except ConfigurationError as exc:  # OTEL_CONTEXT is not a dict at all
        return list(exc.problems)


def build_config(
    overrides: Mapping[str, object] | None = None,
    setting: Mapping[str, object] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Config:
    """Resolve every option from keyword *overrides*, the Django *setting*, then *environ*.

    Raises:
        ConfigurationError: unknown option names or values that cannot be used; its
            ``problems`` lists each one (the message joins them).
    """
    values, found = _resolve(*_sources(overrides, setting, environ))
    if found:
        raise ConfigurationError("; ".join(found), problems=found)
    fields: dict[str, Any] = {name.lower(): value for name, value in values.items()}
    owned = _derived_keys(fields["url_kwargs"], fields["resolvers"])
    return Config(**fields, server_owned=owned)


_lock = threading.Lock()
#: Built with Django's settings configured (or final for another reason): the fast path.
_cached: Config | None = None
#: Built before Django's settings were configured: used until they are, then rebuilt.
_provisional: Config | None = None
#: Options something set up once per process read from a provisional configuration.
_early_reads: dict[str, object] = {}
_overrides: dict[str, object] = {}


#: ``(django.conf.settings, django.utils.functional.empty)`` once imported.
_django: list[tuple[Any, object]] = []


#: Set by :func:`mark_final`: no Django settings are coming (a Flask process).
_final_without_settings: list[bool] = [False]


def _settings_configured() -> bool:
    """Whether Django's settings are configured (always, without Django or after mark_final).

    Asked on every :func:`get_config` while they are not, so it reads ``settings.configured``
    the way that property does, without ``LazyObject``'s Python-level ``__getattribute__``
    (and imports once).
    """
    if _final_without_settings[0]:
        return True
    if not _django:
        try:
            from django.conf import settings  # noqa: PLC0415 - the core must not need Django
            from django.utils.functional import empty  # noqa: PLC0415
        except ImportError:  # pragma: no cover - Django is a dependency
            return True
        _django.append((settings, empty))
    settings, empty = _django[0]
    return object.__getattribute__(settings, "_wrapped") is not empty


def get_config() -> Config:
    """Return the current configuration, resolving it on first use after a change.

    Read before Django's settings are configured (gunicorn's ``post_fork``, an early import),
    the configuration is provisional: environment and keywords only, and resolved again once
    the settings are configured, so ``OTEL_CONTEXT`` options are never lost (issue 22).
    """
    config = _cached
    if config is None:
        try:
            config = _current()
        except ConfigurationError as exc:  # the caller's frame, not this module's internals
            raise ConfigurationError(str(exc), problems=exc.problems) from None
    return config


def _current() -> Config:
    global _cached, _provisional  # noqa: PLW0603 - one process-wide configuration
    provisional = _provisional
    if provisional is not None and not _settings_configured():
        return provisional  # e.g. a Flask process: Django's settings never come
    with _lock:
        if _cached is not None:
            return _cached
        if not _settings_configured():
            if _provisional is None:
                _provisional = build_config(_overrides)
            return _provisional
        try:
            config = build_config(_overrides)
        except ConfigurationError:
            if _registry_ready():
                raise
            # Settings are configured, Django's app registry is not (a wsgi.py or asgi.py that
            # sets up tracing before get_asgi_application()): the setting's import paths may
            # need models, so until django.setup() the configuration is provisional, without it.
            if _provisional is None:
                _provisional = build_config(_overrides, setting={})
            return _provisional
        _cached, _provisional = config, None
    _report_early_reads(config)
    return config


def _registry_ready() -> bool:
    """Whether Django's app registry is populated (always, without Django)."""
    try:
        from django.apps import apps  # noqa: PLC0415 - the core must not need Django
    except ImportError:
        return True
    return bool(apps.ready)


def startup_option(
    name: Literal["span_file", "log_file", "keep_notable_traces", "hold_slow_ms"],
) -> Any:
    """The value of option *name* (lower case) for something set up once per process.

    An exporter's file is opened once, a provider's span processors are added once: read from
    a provisional configuration, a different value in Django's settings later cannot take
    effect. That is remembered, and one line at start-up names the option when it happens.
    """
    config = get_config()
    value = getattr(config, name)
    if config is not _cached:
        _early_reads.setdefault(name, value)
    return value


def _report_early_reads(config: Config) -> None:
    for name, early in list(_early_reads.items()):
        _early_reads.pop(name, None)
        late = getattr(config, name)
        if late != early:
            option = _BY_NAME[name.upper()]
            _logger.warning(
                "otel_context: %s was read before Django's settings were configured (e.g. by "
                "configure_providers() in gunicorn's post_fork) and is %r there, %r in "
                "settings: the settings value does not take effect for what was set up then. "
                "Set %s in the environment instead, or pass it as a keyword.",
                option.name,
                early,
                late,
                option.env_var,
            )


def mark_final() -> Config:
    """No Django settings are coming (a Flask app): the configuration is final as it is now.

    Without this, a process whose Django settings are never configured keeps a provisional
    configuration and :func:`get_config` asks on every call whether they have been since.
    """
    global _cached, _provisional
    _final_without_settings[0] = True
    with _lock:
        if _cached is None and _provisional is not None:
            _cached, _provisional = _provisional, None
    return get_config()


def configure(**overrides: object) -> Config:
    """Set keyword overrides (as :func:`otel_context.instrument` does) and re-resolve."""
    with _lock:
        _overrides.clear()
        _overrides.update(overrides)
        _forget()
    return get_config()


def reset() -> None:
    """Forget the resolved configuration; the next :func:`get_config` reads it anew."""
    _forget()


def _forget() -> None:
    global _cached, _provisional  # noqa: PLW0603
    _cached = _provisional = None
