"""Patched copies of otel_context pieces, measured against the shipped ones (``--proposals``).

otel_context never imports this. Each patch mirrors the shipped code as it was when written
and says what it leaves out; figure C checks every state before timing it, so a patch that no
longer fits the shipped code fails loudly instead of being measured.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from opentelemetry import baggage

from otel_context import correlation
from otel_context import request as lifecycle
from otel_context.attributes import CORRELATION_ID
from otel_context.conf import OPTIONS
from otel_context.scope import RequestScope, attach_scope

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from otel_context.conf import Config

SHIPPED_BEGIN = lifecycle.begin
_DEFAULT_GENERATOR = next(o.default for o in OPTIONS if o.name == "CORRELATION_ID_GENERATOR")


def fast_correlation_id() -> str:
    """As random as ``uuid.uuid4().hex`` (128 bits from ``os.urandom``), without a ``UUID``."""
    return os.urandom(16).hex()


def lean_begin(
    span: Span, get_header: lifecycle.HeaderGetter, peer: str | None, config: Config
) -> lifecycle.Request:
    """``otel_context.request.begin`` for a request with no inbound baggage and no id header.

    Leaves out what such a request does not need: the inbound-baggage filter (nothing to
    filter), ``baggage.clear()`` (nothing to clear), and, with the default generator, the
    ``UUID`` object, ``correlation.generate``'s fallback and the regex check of our own id.
    Any other request goes through the shipped ``begin``.
    """
    if baggage.get_all() or any(get_header(n) is not None for n in config.correlation_id_headers):
        return SHIPPED_BEGIN(span, get_header, peer, config)
    generator = config.correlation_id_generator
    default = generator is _DEFAULT_GENERATOR
    cid = fast_correlation_id() if default else correlation.generate(generator)
    scope = RequestScope(span, span_attributes=config.span_attributes)
    scope.bind({CORRELATION_ID: cid})
    token = attach_scope(scope, baggage.set_baggage(CORRELATION_ID, cid))
    return lifecycle.Request(scope, token, cid, None)
