"""W3C Baggage limits (64 list-members, 8,192 bytes): cut whole members, in and out, counted."""

from __future__ import annotations

import logging

import pytest
from opentelemetry import baggage, trace
from opentelemetry import context as otel
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from otel_context import IdentifierPropagator, conf
from otel_context._baggage_limits import (
    MAX_BYTES,
    MAX_MEMBERS,
    OUTBOUND_OVER_LIMIT_ATTRIBUTE,
    cut_count,
    cut_header,
    fit_entries,
)
from otel_context.propagation import SafeBaggagePropagator, parse_baggage
from otel_context.scope import RequestScope, scoped


def members(count: int, prefix: str = "m") -> str:
    """A header of *count* members ``m0=v,m1=v,...``."""
    return ",".join(f"{prefix}{n}=v" for n in range(count))


def header_of(size: int, *, members: int = 2) -> str:
    """A header of exactly *size* bytes, in *members* members (the first one padded)."""
    tail = ",".join(f"t{n}=v" for n in range(members - 1))
    pad = size - len(tail) - (1 if tail else 0) - len("k=")
    return f"k={'x' * pad}" + (f",{tail}" if tail else "")


class TestCutHeader:
    @pytest.mark.parametrize(("count", "cut"), [(MAX_MEMBERS, 0), (MAX_MEMBERS + 1, 1), (200, 136)])
    def test_members_beyond_64_are_cut_and_counted(self, count: int, cut: int) -> None:
        """64 members pass whole; the 65th and later are cut, counted one each."""
        kept, counted = cut_header(members(count))
        assert kept == members(min(count, MAX_MEMBERS))
        assert counted == cut

    def test_8192_bytes_pass_whole(self) -> None:
        """A header of exactly 8,192 bytes is within the limit: nothing cut."""
        header = header_of(MAX_BYTES)
        assert len(header) == MAX_BYTES
        assert cut_header(header) == (header, 0)

    def test_8193_bytes_lose_the_last_whole_member(self) -> None:
        """One byte over: the member that crosses the limit goes, whole; the rest stays."""
        header = header_of(MAX_BYTES + 1, members=3)
        kept, cut = cut_header(header)
        assert kept == header.rsplit(",", 1)[0]
        assert cut == 1
        assert len(kept) <= MAX_BYTES

    def test_a_comma_right_at_the_limit_keeps_8192_bytes(self) -> None:
        """A member that ends exactly at byte 8,192 is whole: it is kept."""
        first = header_of(MAX_BYTES, members=1)
        kept, cut = cut_header(f"{first},next=v")
        assert (kept, cut) == (first, 1)

    def test_one_huge_member_is_cut_entirely(self) -> None:
        """A single 64 KB member never becomes a partial one."""
        assert cut_header("k=" + "v" * 65536) == ("", 1)

    def test_empty_members_are_not_counted(self) -> None:
        """Commas without members are neither members nor cuts."""
        assert cut_header("a=1" + "," * 100 + "b=2") == ("a=1,b=2", 0)


class TestInbound:
    @pytest.mark.parametrize(
        ("header", "kept", "cut"),
        [
            (members(MAX_MEMBERS), MAX_MEMBERS, 0),
            (members(MAX_MEMBERS + 1), MAX_MEMBERS, 1),
            (header_of(MAX_BYTES, members=3), 3, 0),
            (header_of(MAX_BYTES + 1, members=3), 2, 1),
        ],
    )
    def test_extract_keeps_whole_members_within_limits(
        self, header: str, kept: int, cut: int, caplog: pytest.LogCaptureFixture
    ) -> None:
        """The propagator keeps what fits, counts the cut in the context, logs nothing."""
        with caplog.at_level(logging.DEBUG):
            context = SafeBaggagePropagator().extract({"baggage": header})
        assert len(baggage.get_all(context)) == kept
        assert cut_count(context) == cut
        assert caplog.text == ""

    def test_sdk_codec_past_64_members_is_cut_at_the_request(
        self, tracer: trace.Tracer, exporter: InMemorySpanExporter
    ) -> None:
        """The SDK's propagator keeps 180: the request scope keeps the first 64, counts 116."""
        from otel_context import request

        conf.configure(inbound_baggage_allow=["m*"], inbound_baggage_max_entries=100)
        token = otel.attach(W3CBaggagePropagator().extract({"baggage": members(180)}))
        with tracer.start_as_current_span("req") as span:
            begun = request.begin(span, {}.get, None, conf.get_config())
            kept = dict(baggage.get_all())
            request.end(begun)
        otel.detach(token)
        assert set(kept) == {f"m{n}" for n in range(MAX_MEMBERS)} | {"correlation.id"}
        attributes = exporter.get_finished_spans()[0].attributes or {}
        assert attributes["otel_context.baggage.over_limit"] == 180 - MAX_MEMBERS


class TestFitEntries:
    def test_within_limits_everything_in_order(self) -> None:
        """64 short entries: all kept, in order, nothing counted."""
        entries = {f"k{n}": "v" for n in range(MAX_MEMBERS)}
        assert fit_entries(entries) == (entries, 0)

    def test_the_65th_entry_is_left_out(self) -> None:
        """65 entries: the last one goes, counted."""
        entries = {f"k{n}": "v" for n in range(MAX_MEMBERS + 1)}
        kept, dropped = fit_entries(entries)
        assert list(kept) == [f"k{n}" for n in range(MAX_MEMBERS)]
        assert dropped == 1

    @pytest.mark.parametrize(("size", "dropped"), [(MAX_BYTES, 0), (MAX_BYTES + 1, 1)])
    def test_encoded_size_at_the_limit(self, size: int, dropped: int) -> None:
        """An encoded header of 8,192 bytes fits; one byte more costs the entry that overflows."""
        entries = {"a": "x" * (size - len("a=,b=v")), "b": "v"}
        kept, counted = fit_entries(entries)
        assert counted == dropped
        assert list(kept) == (["a", "b"] if dropped == 0 else ["a"])

    def test_a_long_entry_costs_only_itself(self) -> None:
        """Non-ASCII grows 6x when encoded: that entry is left out, the later ones still go."""
        entries = {"id": "1", "big": "é" * 2000, "after": "2"}
        assert fit_entries(entries) == ({"id": "1", "after": "2"}, 1)


def _outgoing(
    tracer: trace.Tracer,
    app_entries: dict[str, str],
    ids: dict[str, str],
    propagator: TextMapPropagator | None = None,
) -> tuple[dict[str, str], dict[str, object]]:
    """Inject from a client span under a request scope; the headers and the client span's attrs."""
    propagator = propagator or IdentifierPropagator(
        CompositePropagator([TraceContextTextMapPropagator(), SafeBaggagePropagator()])
    )
    headers: dict[str, str] = {}
    context = None
    for key, value in app_entries.items():
        context = baggage.set_baggage(key, value, context)
    token = otel.attach(context) if context is not None else None
    try:
        with tracer.start_as_current_span("req") as span, scoped(RequestScope(span)) as scope:
            scope.bind(ids)
            attributes = {"url.full": "http://pricing/"}
            with tracer.start_as_current_span("GET", attributes=attributes) as client:
                propagator.inject(headers)
    finally:
        if token is not None:
            otel.detach(token)
    return headers, dict(client.attributes or {})  # type: ignore[attr-defined]


class TestOutbound:
    IDS = {"correlation.id": "c-1", "user.id": "42"}  # noqa: RUF012

    @pytest.mark.parametrize(("app_keys", "dropped"), [(62, 0), (63, 1)])
    def test_at_most_64_members_identifiers_first(
        self, tracer: trace.Tracer, app_keys: int, dropped: int
    ) -> None:
        """2 identifiers + 62 app keys = 64 all go; one more app key is left out and counted."""
        app = {f"app{n}": "v" for n in range(app_keys)}
        headers, attributes = _outgoing(tracer, app, self.IDS)
        sent = parse_baggage(headers["baggage"])
        assert len(sent) == min(64, app_keys + 2)
        assert list(sent)[:2] == ["correlation.id", "user.id"]  # identifiers first
        assert attributes.get(OUTBOUND_OVER_LIMIT_ATTRIBUTE) == (dropped or None)

    @pytest.mark.parametrize(("size", "dropped"), [(MAX_BYTES, 0), (MAX_BYTES + 1, 1)])
    def test_at_most_8192_bytes(self, tracer: trace.Tracer, size: int, dropped: int) -> None:
        """A header that would be 8,192 bytes goes whole; at 8,193 the app's key is left out."""
        ids_part = "correlation.id=c-1,user.id=42,"
        app = {"app": "x" * (size - len(ids_part) - len("app="))}
        headers, attributes = _outgoing(tracer, app, self.IDS)
        assert len(headers["baggage"]) == (size if not dropped else len(ids_part) - 1)
        assert attributes.get(OUTBOUND_OVER_LIMIT_ATTRIBUTE) == (dropped or None)
        assert parse_baggage(headers["baggage"])["user.id"] == "42"

    def test_sdk_codec_inside_gets_the_same_limits(self, tracer: trace.Tracer) -> None:
        """Wrapping the SDK's propagator (not ours): the policy cut already holds it to 64."""
        app = {f"app{n}": "v" for n in range(100)}
        propagator = IdentifierPropagator(W3CBaggagePropagator())
        headers, attributes = _outgoing(tracer, app, self.IDS, propagator)
        assert len(headers["baggage"].split(",")) == MAX_MEMBERS
        assert attributes[OUTBOUND_OVER_LIMIT_ATTRIBUTE] == 100 + 2 - MAX_MEMBERS
