"""Figure C inside one otel_context process: switch its pieces on and off between blocks.

Two processes of the same configuration differ by a few per cent, more than some pieces
cost; within one process they can be compared precisely. A *state* names the pieces that are
on; everything else is as ``DjangoInstrumentor`` alone would run it. What cannot be taken out
of a built handler stays: ``IdentifiersMiddleware.__call__`` (a pass-through) in the chain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import structlog
from opentelemetry import propagate

from otel_context import StructlogOTelProcessor
from otel_context import request as lifecycle
from otel_context.conf import configure
from otel_context.django.middleware import IdentifiersMiddleware

if TYPE_CHECKING:
    from django.core.handlers.wsgi import WSGIHandler
    from structlog.typing import Processor

#: state -> pieces on. Ordered: each state adds one piece to an earlier one.
STATES: Final[dict[str, frozenset[str]]] = {
    "instrumentor": frozenset(),
    "propagator": frozenset({"propagator"}),
    "hooks": frozenset({"propagator", "hooks"}),
    "middleware": frozenset({"propagator", "hooks", "middleware"}),
    "floor": frozenset({"propagator", "hooks", "middleware", "floor"}),
    "otel_context": frozenset({"propagator", "hooks", "middleware", "processor"}),
}
PROPOSAL_STATES: Final[dict[str, frozenset[str]]] = {
    "fast_correlation_id": STATES["otel_context"] | {"fast_cid"},
    "lean_begin": STATES["otel_context"] | {"lean_begin"},
}
LABELS: Final = {
    "instrumentor": "DjangoInstrumentor alone (otel_context's pieces off)",
    "propagator": "+ `IdentifierPropagator` around the global propagator",
    "hooks": "+ request/response hooks (scope, correlation id, baggage, span attribute)",
    "middleware": "+ `IdentifiersMiddleware.process_view` (URL ids after routing)",
    "floor": "+ a processor adding 5 constant fields (rendering only)",
    "otel_context": "+ `StructlogOTelProcessor` instead: all of otel_context",
    "fast_correlation_id": "all of otel_context, `CORRELATION_ID_GENERATOR=os.urandom(16).hex`",
    "lean_begin": "all of otel_context with the proposed lean `begin` [patched copy]",
}


class Toggles:
    """Switches otel_context's pieces in a running process, between requests."""

    def __init__(self, handler: WSGIHandler, floor: Processor) -> None:
        from opentelemetry.instrumentation.django.middleware.otel_middleware import (  # noqa: PLC0415
            _DjangoMiddleware,
        )

        self._otel_middleware: Any = _DjangoMiddleware
        self._hooks = (_DjangoMiddleware._otel_request_hook, _DjangoMiddleware._otel_response_hook)
        self._view_list: list[Any] = handler._view_middleware  # type: ignore[attr-defined]
        self._view = next(m for m in self._view_list if _is_ours(m))
        self._textmap = propagate.get_global_textmap()
        self._inner = self._textmap.inner  # type: ignore[attr-defined]
        self._processors: list[Processor] = structlog.get_config()["processors"]
        self._slot = next(
            i for i, p in enumerate(self._processors) if isinstance(p, StructlogOTelProcessor)
        )
        self._choices: dict[str, Processor] = {
            "processor": self._processors[self._slot],
            "floor": floor,
        }
        self._begin = lifecycle.begin
        self._lean_begin: Any = None
        self._fast_correlation_id: Any = None
        self._fast_cid = False

    def _load_proposals(self) -> None:
        """Import the patched copies only when a proposal state is used."""
        if self._lean_begin is None:
            from benchmarks import _proposals  # noqa: PLC0415

            self._lean_begin = _proposals.lean_begin
            self._fast_correlation_id = _proposals.fast_correlation_id

    def apply(self, pieces: frozenset[str]) -> None:
        """Turn on exactly *pieces*."""
        if pieces & {"lean_begin", "fast_cid"}:
            self._load_proposals()
        on = "hooks" in pieces
        self._otel_middleware._otel_request_hook = self._hooks[0] if on else None
        self._otel_middleware._otel_response_hook = self._hooks[1] if on else None
        propagate.set_global_textmap(self._textmap if "propagator" in pieces else self._inner)
        if "middleware" in pieces and self._view not in self._view_list:
            self._view_list.insert(0, self._view)
        if "middleware" not in pieces and self._view in self._view_list:
            self._view_list.remove(self._view)
        self._set_processor(pieces)
        lifecycle.begin = self._lean_begin if "lean_begin" in pieces else self._begin
        self._set_generator(fast="fast_cid" in pieces)

    def _set_generator(self, *, fast: bool) -> None:
        """Swap the correlation id generator through the public ``configure``."""
        if fast != self._fast_cid:
            configure(**({"correlation_id_generator": self._fast_correlation_id} if fast else {}))
            self._fast_cid = fast

    def _set_processor(self, pieces: frozenset[str]) -> None:
        chosen = [self._choices[name] for name in self._choices if name in pieces]
        present = self._processors[self._slot] in self._choices.values()
        if present:
            del self._processors[self._slot]
        if chosen:
            self._processors.insert(self._slot, chosen[0])


def _is_ours(method: Any) -> bool:
    return isinstance(getattr(method, "__self__", None), IdentifiersMiddleware)


def expected(pieces: frozenset[str], span_ids: dict[str, str], cid: str | None) -> dict[str, Any]:
    """Fields each view event must carry in a state (``None``: must be absent)."""
    if "floor" in pieces:
        return {"trace_id": "0" * 31 + "1"}
    if "processor" not in pieces:
        return {"trace_id": None, "correlation.id": None}
    fields: dict[str, Any] = {**span_ids, "correlation.id": cid}
    if "middleware" in pieces:
        fields |= {"organisation.id": "7", "project.id": "12"}
    return fields


def problems(
    pieces: frozenset[str], events: list[dict[str, Any]], cid: str | None, span_ids: dict[str, str]
) -> list[str]:
    """What is wrong with one request's view events and correlation header in a state."""
    found = [] if (cid is not None) == ("hooks" in pieces) else [f"Correlation-Id {cid!r}"]
    want = expected(pieces, span_ids, cid)
    return found + [
        f"{event['event']}: {key}={event.get(key)!r}"
        for event in events
        for key, value in want.items()
        if event.get(key) != value
    ]
