"""Figure C inside one otel_context process: switch its pieces on and off between blocks.

Two processes of the same configuration differ by a few per cent, more than some pieces
cost; within one process they can be compared precisely. A *state* names the pieces that are
on; everything else is as ``DjangoInstrumentor`` alone would run it: the handler runs a
middleware chain built without otel_context's middleware (``CorrelationMiddleware`` comes with
the hooks, ``IdentifiersMiddleware`` with the middleware piece), the instrumentation's
middleware without otel_context's guard around its ``__call__`` (with the hooks), and
OpenTelemetry's own W3C propagators (otel_context's, with their limits and its inbound gate,
with the propagator piece).
"""

from __future__ import annotations

from random import getrandbits
from typing import TYPE_CHECKING, Any, Final, cast

import structlog
from django.conf import settings
from opentelemetry import baggage, context, propagate
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.trace import get_current_span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from benchmarks import _rules_floor as rules_floor
from otel_context import StructlogOTelProcessor
from otel_context.django.middleware import CORRELATION_PATH, IdentifiersMiddleware
from otel_context.django.middleware import PATH as MIDDLEWARE_PATH
from otel_context.processors import _SPAN_KEY, _current_context

if TYPE_CHECKING:
    from django.core.handlers.wsgi import WSGIHandler
    from django.http import HttpRequest, HttpResponse
    from opentelemetry.trace import Span
    from structlog.typing import Processor

#: state -> pieces on. Ordered: each state adds one piece to an earlier one, but the last.
STATES: Final[dict[str, frozenset[str]]] = {
    "instrumentor": frozenset(),
    "propagator": frozenset({"propagator"}),
    "hooks": frozenset({"propagator", "hooks"}),
    "middleware": frozenset({"propagator", "hooks", "middleware"}),
    "floor": frozenset({"propagator", "hooks", "middleware", "floor"}),
    "otel_context": frozenset({"propagator", "hooks", "middleware", "processor"}),
    "effects": frozenset({"effects", "floor"}),
    "derived": frozenset({"derived"}),
    "rules": frozenset({"rules"}),
}
LABELS: Final = {
    "instrumentor": "DjangoInstrumentor alone (otel_context's pieces off)",
    "propagator": "+ `IdentifierPropagator` around the global propagator",
    "hooks": "+ request/response hooks (scope, correlation id, baggage, span attribute)",
    "middleware": "+ `IdentifiersMiddleware.process_view` (URL ids after routing)",
    "floor": "+ a processor adding the same 6 fields as constants (rendering only)",
    "otel_context": "+ `StructlogOTelProcessor` instead: all of otel_context",
    "effects": "effects floor: the same baggage, attributes, header and fields, as constants",
    "derived": "derivation floor: the same values derived from the request, without the rules",
    "rules": "rules floor: the derivation floor and the least code for each rule kept",
}
#: What the effects floor's hooks put where otel_context puts its values.
EFFECTS_CORRELATION_ID: Final = "0" * 32
EFFECTS_ATTRIBUTES: Final = {
    "correlation.id": EFFECTS_CORRELATION_ID,
    "organisation.id": "7",
    "project.id": "12",
}
_EFFECTS_TOKEN: Final = "benchmarks.effects_token"


def effects_request_hook(span: Span, request: HttpRequest) -> None:
    """The floor of ``request_hook``: baggage attached, span attributes set, nothing derived."""
    request.META[_EFFECTS_TOKEN] = context.attach(
        baggage.set_baggage("correlation.id", EFFECTS_CORRELATION_ID)
    )
    for key, value in EFFECTS_ATTRIBUTES.items():
        span.set_attribute(key, value)


def effects_response_hook(span: Span, request: HttpRequest, response: HttpResponse) -> None:
    """The floor of ``response_hook``: the header echoed, the context detached."""
    response["Correlation-Id"] = EFFECTS_CORRELATION_ID
    context.detach(request.META.pop(_EFFECTS_TOKEN))


#: The derivation floor's context key: ``(span, fields)`` of the current request.
_DERIVED_KEY: Final = context.create_key("benchmarks.derived")
_DERIVED_STATE: Final = "_benchmarks_derived"
#: URL kwarg -> field, as otel_context's defaults bind them.
_DERIVED_KWARGS: Final = (("organisation_pk", "organisation.id"), ("project_pk", "project.id"))


def _trace_fields(span: Span) -> dict[str, Any]:
    ids = span.get_span_context()
    return {
        "trace_id": format(ids.trace_id, "032x"),
        "span_id": format(ids.span_id, "016x"),
        "trace_sampled": ids.trace_flags.sampled,
    }


def derived_request_hook(span: Span, request: HttpRequest) -> None:
    """The derivation floor of ``request_hook``: the correlation id taken from the request's
    headers (unchecked) or made, put in baggage and on the span; no trust, no validation."""
    meta = request.META
    cid = (
        meta.get("HTTP_CORRELATION_ID")
        or meta.get("HTTP_X_REQUEST_ID")
        or getrandbits(128).to_bytes(16, "big").hex()
    )
    fields = _trace_fields(span)
    fields["correlation.id"] = cid
    ctx = context.set_value(
        _DERIVED_KEY, (span, fields), baggage.set_baggage("correlation.id", cid)
    )
    span.set_attribute("correlation.id", cid)
    request.__dict__[_DERIVED_STATE] = [cid, context.attach(ctx)]


def derived_process_view(
    request: HttpRequest, view: Any, args: Any, kwargs: dict[str, Any]
) -> None:
    """The derivation floor of ``process_view``: the URL ids, as strings, in baggage, on the
    span and in the fields; no route rules, no precedence, no type checks."""
    state = request.__dict__.get(_DERIVED_STATE)
    found = cast("tuple[Span, dict[str, Any]] | None", context.get_value(_DERIVED_KEY))
    if state is None or found is None:
        return
    span, fields = found
    fields = dict(fields)
    ctx = context.get_current()
    for kwarg, key in _DERIVED_KWARGS:
        value = kwargs.get(kwarg)
        if value is not None:
            text = str(value)
            fields[key] = text
            ctx = baggage.set_baggage(key, text, ctx)
            span.set_attribute(key, text)
    state.append(context.attach(context.set_value(_DERIVED_KEY, (span, fields), ctx)))


def derived_processor(logger: Any, method: str, event_dict: dict[str, Any]) -> Any:
    """The derivation floor of ``StructlogOTelProcessor``: the request's fields, with the
    current span's ids if a child span is current; call-site keys are overwritten."""
    ctx = _current_context()
    found = cast("tuple[Span, dict[str, Any]] | None", ctx.get(_DERIVED_KEY))
    if found is not None:
        span, fields = found
        event_dict.update(fields)
        current = ctx.get(_SPAN_KEY)
        if current is not span and current is not None:
            event_dict.update(_trace_fields(get_current_span()))
    return event_dict


def derived_response_hook(span: Span, request: HttpRequest, response: HttpResponse) -> None:
    """The derivation floor of ``response_hook``: the user if it was loaded, the header
    echoed unless the app set one, the contexts detached."""
    state = request.__dict__.pop(_DERIVED_STATE, None)
    if state is None:
        return
    user = getattr(request.__dict__.get("user"), "_wrapped", None)
    if getattr(user, "is_authenticated", False):
        span.set_attribute("user.id", str(user.pk))  # type: ignore[union-attr]
    if not response.has_header("Correlation-Id"):
        response["Correlation-Id"] = state[0]
    for token in reversed(state[1:]):
        context.detach(token)


#: Parts of otel_context's pieces that figure C″ can leave out of a state (``Toggles.apply``).
PARTS: Final = {
    "correlation_middleware": "`CorrelationMiddleware`: the correlation id derived before the "
    "instrumentation, for the echo on a request it rejects",
    "guard": "the guard around the instrumentation's `__call__` that ends abandoned requests",
    "w3c_limits": "otel_context's W3C propagators: the inbound limits and the `tracestate` check",
    "middleware_layer": "`IdentifiersMiddleware`'s own layer in the middleware chain",
}
#: piece -> the floor's view hook, put first in Django's list (no middleware layer; the rules
#: floor's is its layer's).
_FLOOR_VIEWS: Final = (("derived", derived_process_view),)
#: What ``BaseHandler.load_middleware()`` sets on the handler.
_CHAIN_ATTRIBUTES: Final = (
    "_middleware_chain",
    "_view_middleware",
    "_template_response_middleware",
    "_exception_middleware",
)


class Toggles:
    """Switches otel_context's pieces in a running process, between requests."""

    def __init__(self, handler: WSGIHandler, floor: Processor) -> None:
        from opentelemetry.instrumentation.django.middleware.otel_middleware import (  # noqa: PLC0415
            _DjangoMiddleware,
        )

        self._handler = handler
        self._otel_middleware: Any = _DjangoMiddleware
        self._hooks = (_DjangoMiddleware._otel_request_hook, _DjangoMiddleware._otel_response_hook)
        guarded = _DjangoMiddleware.__call__
        self._calls = (getattr(guarded, "__wrapped__", guarded), guarded)  # (without, with)
        self._rules_call = rules_floor.guarded(self._calls[0])
        #: (CorrelationMiddleware, IdentifiersMiddleware) -> the handler's chain and lists.
        self._chains: dict[object, tuple[Any, ...]] = {
            (correlation, identifiers): self._build(
                handler, correlation=correlation, identifiers=identifiers
            )
            for correlation in (False, True)
            for identifiers in (False, True)
        }
        self._chains["rules"] = self._build(
            handler, correlation=True, identifiers=False, correlation_path=rules_floor.LAYER_PATH
        )
        full_views: list[Any] = handler._view_middleware  # type: ignore[attr-defined]
        self._bare_view = full_views[-1]  # IdentifiersMiddleware's, after the instrumentation's
        if not isinstance(getattr(self._bare_view, "__self__", None), IdentifiersMiddleware):
            msg = f"the last view hook is not IdentifiersMiddleware's: {full_views}"
            raise TypeError(msg)
        self._textmap = propagate.get_global_textmap()
        self._w3c = CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])
        self._rules_textmap = CompositePropagator(
            [TraceContextTextMapPropagator(), W3CBaggagePropagator(), rules_floor.ScopeBaggage()]
        )
        self._processors: list[Processor] = structlog.get_config()["processors"]
        self._slot = next(
            i for i, p in enumerate(self._processors) if isinstance(p, StructlogOTelProcessor)
        )
        self._choices: dict[str, Processor] = {
            "processor": self._processors[self._slot],
            "floor": floor,
            "derived": cast("Processor", derived_processor),
            "rules": cast("Processor", rules_floor.processor),
        }

    @staticmethod
    def _build(
        handler: WSGIHandler,
        *,
        correlation: bool,
        identifiers: bool,
        correlation_path: str = CORRELATION_PATH,
    ) -> tuple[Any, ...]:
        """The handler's middleware with or without each of otel_context's two (then put back).

        *correlation_path*: the middleware listed where ``CorrelationMiddleware`` is.
        """
        full = list(settings.MIDDLEWARE)
        left_out = {CORRELATION_PATH} if not correlation else set()
        left_out |= {MIDDLEWARE_PATH} if not identifiers else set()
        settings.MIDDLEWARE = [
            correlation_path if path == CORRELATION_PATH else path
            for path in full
            if path not in left_out
        ]
        try:
            handler.load_middleware()
            return tuple(getattr(handler, name) for name in _CHAIN_ATTRIBUTES)
        finally:
            settings.MIDDLEWARE = full
            handler.load_middleware()

    def apply(self, pieces: frozenset[str], left_out: frozenset[str] = frozenset()) -> None:
        """Turn on exactly *pieces*, without the parts of them named in *left_out*.

        *left_out* (figure C″'s structural rules, :data:`PARTS`): ``correlation_middleware``
        (the hooks derive the correlation id themselves), ``guard``, ``w3c_limits``
        (``IdentifierPropagator`` around OpenTelemetry's W3C propagators) and
        ``middleware_layer`` (``IdentifiersMiddleware.process_view`` called by Django as a
        bare view hook, as the derivation floor's is, without the middleware's own layer).
        """
        unknown = left_out - PARTS.keys()
        if unknown:
            msg = f"unknown parts {sorted(unknown)}; known: {sorted(PARTS)}"
            raise ValueError(msg)
        self._set_hooks(pieces, left_out)
        textmap: Any = self._w3c
        if "propagator" in pieces:
            textmap = self._textmap
            if "w3c_limits" in left_out:
                textmap = type(self._textmap)(self._w3c)  # type: ignore[call-arg]
        if "rules" in pieces:
            textmap = self._rules_textmap
        propagate.set_global_textmap(textmap)
        layer = "middleware" in pieces and "middleware_layer" not in left_out
        chain = self._chains["hooks" in pieces and "correlation_middleware" not in left_out, layer]
        if "rules" in pieces:
            chain = self._chains["rules"]
        for name, value in zip(_CHAIN_ATTRIBUTES, chain, strict=True):
            setattr(self._handler, name, value)
        views: list[Any] = list(self._handler._view_middleware)  # type: ignore[attr-defined]
        views[:0] = [view for piece, view in _FLOOR_VIEWS if piece in pieces]
        if "middleware" in pieces and not layer:
            views.append(self._bare_view)
        self._handler._view_middleware = views  # type: ignore[attr-defined]
        self._set_processor(pieces)

    def _set_hooks(self, pieces: frozenset[str], left_out: frozenset[str]) -> None:
        """The instrumentation's hooks and ``__call__`` for *pieces*."""
        floors = {
            "hooks": self._hooks,
            "effects": (effects_request_hook, effects_response_hook),
            "derived": (derived_request_hook, derived_response_hook),
            "rules": (rules_floor.request_hook, rules_floor.response_hook),
        }
        hooks = next((floors[piece] for piece in floors if piece in pieces), (None, None))
        self._otel_middleware._otel_request_hook, self._otel_middleware._otel_response_hook = hooks
        self._otel_middleware.__call__ = (
            self._rules_call
            if "rules" in pieces
            else self._calls["hooks" in pieces and "guard" not in left_out]
        )

    def _set_processor(self, pieces: frozenset[str]) -> None:
        chosen = [self._choices[name] for name in self._choices if name in pieces]
        present = self._processors[self._slot] in self._choices.values()
        if present:
            del self._processors[self._slot]
        if chosen:
            self._processors.insert(self._slot, chosen[0])


def expected(pieces: frozenset[str], span_ids: dict[str, str], cid: str | None) -> dict[str, Any]:
    """Fields each view event must carry in a state (``None``: must be absent)."""
    if "floor" in pieces:
        return {"trace_id": "0" * 31 + "1"}
    if not pieces & {"processor", "derived", "rules"}:
        return {"trace_id": None, "correlation.id": None}
    fields: dict[str, Any] = {**span_ids, "correlation.id": cid}
    if pieces & {"middleware", "derived", "rules"}:
        fields |= {"organisation.id": "7", "project.id": "12"}
    return fields


def problems(
    pieces: frozenset[str], events: list[dict[str, Any]], cid: str | None, span_ids: dict[str, str]
) -> list[str]:
    """What is wrong with one request's view events and correlation header in a state."""
    echoes = bool(pieces & {"hooks", "effects", "derived", "rules"})
    found = [] if (cid is not None) == echoes else [f"Correlation-Id {cid!r}"]
    want = expected(pieces, span_ids, cid)
    return found + [
        f"{event['event']}: {key}={event.get(key)!r}"
        for event in events
        for key, value in want.items()
        if event.get(key) != value
    ]
