"""A text-map propagator wrapper that sends the request's identifiers as baggage.

Late identifiers (bound after authentication or inside the view) live in the request scope,
not in the OTel baggage object, so whatever injects outgoing ``baggage`` must read the scope.
Wrapping the global propagator does that for every instrumentation that injects headers
(requests, httpx, urllib3, Celery), and is where the outbound policy applies.

.. versionadded:: 0.1.0
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from opentelemetry import baggage, propagate
from opentelemetry.propagators import textmap

from otel_context.conf import get_config
from otel_context.scope import current_scope

if TYPE_CHECKING:
    from opentelemetry.context import Context

_logger = logging.getLogger(__name__)


def with_identifiers(context: Context | None = None) -> Context | None:
    """*context* with the current scope's identifiers merged into its baggage."""
    scope = current_scope(context)
    if scope is None or not get_config().propagate_identifiers:
        return context
    merged = context
    for key, value in scope.identifiers().items():
        merged = baggage.set_baggage(key, value, merged)
    return merged


class IdentifierPropagator(textmap.TextMapPropagator):
    """Delegates to *inner*, adding the request's identifiers to what it injects.

    Args:
        inner: The propagator to wrap (usually the global composite one).
    """

    def __init__(self, inner: textmap.TextMapPropagator) -> None:
        self.inner = inner

    def extract(
        self,
        carrier: textmap.CarrierT,
        context: Context | None = None,
        getter: textmap.Getter[textmap.CarrierT] = textmap.default_getter,
    ) -> Context:
        """Delegate; inbound policy applies where the request scope starts."""
        return self.inner.extract(carrier, context, getter)

    def inject(
        self,
        carrier: textmap.CarrierT,
        context: Context | None = None,
        setter: textmap.Setter[textmap.CarrierT] = textmap.default_setter,
    ) -> None:
        """Inject through *inner* with the identifiers in the baggage; never raises for them."""
        try:
            context = with_identifiers(context)
        except Exception:
            _logger.exception("otel_context: adding identifiers to outgoing baggage failed")
        self.inner.inject(carrier, context, setter)

    @property
    def fields(self) -> set[str]:
        """The header names *inner* sets."""
        return self.inner.fields


def install_propagator() -> IdentifierPropagator:
    """Wrap the global propagator once; later calls return the installed wrapper."""
    current = propagate.get_global_textmap()
    if isinstance(current, IdentifierPropagator):
        return current
    wrapper = IdentifierPropagator(current)
    propagate.set_global_textmap(wrapper)
    return wrapper
