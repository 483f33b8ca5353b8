"""The old import paths (``export``, ``providers``, ``tasks``), typed as their new homes.

mypy --strict must accept these: the re-export shims are ``from <new home> import *`` with the
new home's ``__all__``, and the names keep their types.
"""

from __future__ import annotations

from otel_context.export import StructlogOTelLogProcessor, coerce_value
from otel_context.providers import GRPC, Providers, shutdown_providers
from otel_context.tasks import CARRIER_KEY, capture


def exporter() -> StructlogOTelLogProcessor:
    """The processor, from its old path."""
    return StructlogOTelLogProcessor(span_events=False)


def shut(providers: Providers | None) -> bool:
    """Shut the providers down within a bound."""
    return shutdown_providers(timeout_s=1.0, providers=providers)


def carried() -> dict[str, object]:
    """A carrier, keyed as the new home keys it."""
    return {CARRIER_KEY: capture(), "protocol": GRPC, "value": coerce_value(1)}
