"""Every option of otel_context: its name, default, parser and one line of documentation.

:data:`OPTIONS` is the table that :mod:`otel_context.conf` resolves (keyword, then the
``OTEL_CONTEXT`` Django setting, then the environment, then the default) and that the settings
table of ``docs/settings.md`` is checked against. A new setting is one row here and one field
of :class:`otel_context.conf.Config`.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from otel_context import correlation
from otel_context._parsers import (
    as_bool,
    as_callable,
    as_header_names,
    as_int,
    as_level,
    as_networks,
    as_optional_str,
    as_ratio,
    as_resolvers,
    as_strings,
)
from otel_context._url_kwargs import as_url_kwargs

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["DEFAULT_OUTBOUND_HOSTS", "ENV_PREFIX", "OPTIONS", "Option"]

ENV_PREFIX: Final = "OTEL_CONTEXT_"


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
        as_header_names,
        "Request headers read for the correlation id, first match wins.",
    ),
    Option(
        "CORRELATION_ID_RESPONSE_HEADER",
        None,
        as_optional_str,
        "Response header for the correlation id; unset: the header it came in, else the first.",
    ),
    Option(
        "CORRELATION_ID_GENERATOR",
        correlation.random_id,
        as_callable,
        "Callable (or dotted path) returning a new correlation id; default: 128-bit random hex.",
    ),
    Option(
        "TRUST_CORRELATION_ID",
        False,
        as_bool,
        "Accept the correlation header as is (behind a proxy that sets it) instead of validating.",
    ),
    Option(
        "USER_ID_FIELD",
        "pk",
        as_optional_str,
        "Attribute of the authenticated Django user bound as user.id.",
    ),
    Option(
        "URL_KWARGS",
        _DEFAULT_URL_KWARGS,
        as_url_kwargs,
        "URL kwarg -> attribute name, or {'lookup': 'dotted.path'} returning several ids;"
        " 'kwarg@routes' scopes it to URL names ('pk@tenant-*'), 'view:' or 'route:' globs.",
    ),
    Option(
        "RESOLVERS",
        {},
        as_resolvers,
        "Attribute -> callable (request) returning an id or None, run after auth and routing;"
        " {'resolver': ..., 'over_url': True} beats the URL's id.",
    ),
    Option(
        "INBOUND_BAGGAGE_ALLOW",
        (),
        as_strings,
        "Inbound baggage keys kept (exact, or prefix ending in '.' or '*'); others dropped.",
    ),
    Option(
        "INBOUND_BAGGAGE_MAX_ENTRIES",
        16,
        as_int,
        "At most this many inbound baggage entries are kept.",
    ),
    Option(
        "INBOUND_BAGGAGE_MAX_VALUE_LENGTH",
        256,
        as_int,
        "Inbound baggage values longer than this are dropped.",
    ),
    Option(
        "TRUST_UPSTREAM_IDENTIFIERS",
        False,
        as_bool,
        "Accept server-owned ids from inbound baggage (only behind a trusted hop).",
    ),
    Option(
        "TRUSTED_NETWORKS",
        (),
        as_networks,
        "CIDRs whose requests the trust options apply to; empty: every peer.",
    ),
    Option(
        "OUTBOUND_BAGGAGE_HOSTS",
        DEFAULT_OUTBOUND_HOSTS,
        as_strings,
        "Hosts that receive baggage: exact names, '*' = one DNS label, '**' = any labels.",
    ),
    Option(
        "OUTBOUND_BAGGAGE_KEYS",
        ("*",),
        as_strings,
        "Identifiers sent to those hosts (exact, or prefix ending in '.' or '*').",
    ),
    Option(
        "OUTBOUND_BAGGAGE_TO_UNKNOWN",
        False,
        as_bool,
        "Send baggage when the destination is unknown (no URL on the client span).",
    ),
    Option(
        "TRACE_RESPONSE_HEADER",
        None,
        as_optional_str,
        "Response header with the trace id: 'traceresponse' (W3C level 2) or a name; unset: none.",
    ),
    Option(
        "SPAN_FILE",
        None,
        as_optional_str,
        "Without an OTLP endpoint: file that spans are appended to as JSON lines; unset: stdout.",
    ),
    Option(
        "LOG_FILE",
        None,
        as_optional_str,
        "Without an OTLP endpoint: file for OTel log records as JSON lines; unset: none.",
    ),
    Option(
        "SET_UP_PROVIDERS",
        True,
        as_bool,
        "If no TracerProvider is set by the first request, set up the SDK's from OTEL_*;"
        " it exports nothing unless configured (see Export).",
    ),
    Option(
        "SPAN_ATTRIBUTES", True, as_bool, "Write the identifiers as attributes of the request span."
    ),
    Option(
        "PROPAGATE_IDENTIFIERS",
        True,
        as_bool,
        "Send the identifiers as baggage on outgoing calls (subject to the outbound policy).",
    ),
    Option(
        "UNSAMPLED_LOG_RATIO",
        1.0,
        as_ratio,
        "Share of sampled-out traces whose lines below UNSAMPLED_LOG_LEVEL are kept, chosen by"
        " trace id (0: drop them all); 1: keep every line (off). See Log sampling.",
    ),
    Option(
        "UNSAMPLED_LOG_LEVEL",
        "WARNING",
        as_level,
        "Lines at this level or above are always kept by the log sampling (name or number).",
    ),
    Option(
        "HOLD_LINES",
        False,
        as_bool,
        "Hold the lines the log sampling would drop until the request ends; write them if it"
        " failed, logged an error or was slow (FlightRecorder).",
    ),
    Option(
        "HOLD_SLOW_MS",
        1000,
        as_int,
        "A request longer than this (ms) is slow: it writes its held lines, and keeps its trace"
        " with KEEP_NOTABLE_TRACES; 0: duration is no trigger.",
    ),
    Option(
        "HOLD_MAX_LINES",
        1000,
        as_int,
        "Lines held per request at most; the oldest are dropped first, and counted.",
    ),
    Option(
        "HOLD_MAX_BYTES",
        262144,
        as_int,
        "Bytes of rendered lines held per request at most; the oldest are dropped first.",
    ),
    Option(
        "HOLD_MAX_PROCESS_BYTES",
        67108864,
        as_int,
        "Bytes held by all requests of a process at most; beyond, lines are dropped, counted.",
    ),
    Option(
        "KEEP_NOTABLE_TRACES",
        False,
        as_bool,
        "Export this service's spans of a sampled-out request that failed or was slow"
        " (HOLD_SLOW_MS), in providers otel_context sets up. See Log sampling.",
    ),
)
