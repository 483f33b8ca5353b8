"""Inbound tracestate as W3C Trace Context prescribes; traceparent exactly as the SDK does it."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opentelemetry import context, propagate, trace
from opentelemetry.baggage.propagation import W3CBaggagePropagator
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from otel_context.propagation import install_propagator
from otel_context.tracestate import (
    MAX_LENGTH,
    SafeTraceContextPropagator,
    _header_length,
    _trace_state,
    _truncate,
    parse_tracestate,
)

TRACEPARENT = "00-12345678901234567890123456789012-1234567890123456-00"


@pytest.fixture
def global_textmap() -> Iterator[None]:
    before = propagate.get_global_textmap()
    yield
    propagate.set_global_textmap(before)


def _extracted(headers: dict[str, str]) -> trace.SpanContext:
    ctx = SafeTraceContextPropagator().extract(headers)
    return trace.get_current_span(ctx).get_span_context()


def _state(tracestate: str) -> str:
    return _extracted(
        {"traceparent": TRACEPARENT, "tracestate": tracestate}
    ).trace_state.to_header()


class TestParseTracestate:
    @pytest.mark.parametrize(
        ("header", "expected"),
        [
            ("foo=1,bar=2", [("foo", "1"), ("bar", "2")]),
            ("foo=1 \t , \t bar=2,\tbaz=3 ", [("foo", "1"), ("bar", "2"), ("baz", "3")]),
            (",foo=1,,", [("foo", "1")]),
            ("foo= 1", [("foo", " 1")]),
            (
                "foo@=1,foo@@bar=2,foo@bar@baz=3",
                [("foo@", "1"), ("foo@@bar", "2"), ("foo@bar@baz", "3")],
            ),
            ("0x=1", [("0x", "1")]),
            ("z" * 256 + "=1", [("z" * 256, "1")]),
            ("t" * 242 + "@v=1", [("t" * 242 + "@v", "1")]),
            ("t@" + "v" * 15 + "=1", [("t@" + "v" * 15, "1")]),
        ],
    )
    def test_valid_members_are_kept_in_order(
        self, header: str, expected: list[tuple[str, str]]
    ) -> None:
        """Level 2 keys (any '@'), OWS and empty members: every valid member, in order."""
        assert parse_tracestate([header]) == expected

    def test_duplicated_key_keeps_the_first_entry(self) -> None:
        """A duplicated key keeps its leftmost entry; the rest of the header stays."""
        assert parse_tracestate(["foo=1,bar=2", "foo=3"]) == [("foo", "1"), ("bar", "2")]

    @pytest.mark.parametrize(
        "headers",
        [
            ["@foo=1,bar=2"],
            ["foo=1", "z" * 257 + "=1"],
            ["FOO=1,bar=2"],
            ["foo =1"],
            ["foo.bar=1"],
            ["foo=bar=baz"],
            ["foo=,bar=3"],
            ["foo"],
            ["foo=" + "v" * 257],
            ["foo=a\tb"],
            ["foo=caf\u00e9"],
            [",".join(f"k{n}=1" for n in range(33))],
            ["k=" + " " * (40 * 1024) + "1"],
        ],
    )
    def test_an_invalid_member_or_too_many_discard_the_whole_header(
        self, headers: list[str]
    ) -> None:
        """One bad key or value, a member without '=', 33 members, a huge header: nothing."""
        assert parse_tracestate(headers) is None

    def test_32_members_are_fine(self) -> None:
        """32 members is the limit, not over it."""
        entries = parse_tracestate([",".join(f"k{n:02d}=1" for n in range(32))])
        assert entries is not None
        assert len(entries) == 32

    def test_nothing_is_logged_verbatim(self, caplog: pytest.LogCaptureFixture) -> None:
        """A discarded header is reported (at DEBUG) without its content."""
        caplog.set_level(logging.DEBUG, logger="otel_context.tracestate")
        assert parse_tracestate(["SECRET=1"]) is None
        assert "discarded" in caplog.text
        assert "SECRET" not in caplog.text

    @given(st.lists(st.text(max_size=300), max_size=4))
    def test_never_raises_and_keeps_only_valid_entries(self, headers: list[str]) -> None:
        """Any input: no exception, and what is kept fits the limits and is valid again."""
        entries = parse_tracestate(headers)
        if entries:
            assert len(entries) <= 32
            assert _header_length(entries) <= MAX_LENGTH
            assert parse_tracestate([_trace_state(entries).to_header()]) == entries


class TestTruncate:
    def test_short_header_unchanged(self) -> None:
        """Within 512 characters nothing is dropped."""
        entries = [("a", "1"), ("b", "2")]
        assert _truncate(entries) == entries

    def test_long_entries_go_first_then_from_the_end(self) -> None:
        """Over 512: entries over 128 characters first (from the end), then from the end."""
        long_a, long_b = ("la", "x" * 200), ("lb", "y" * 200)
        short = [(f"s{n:02d}", "z" * 20) for n in range(10)]  # 10 x 24 characters
        entries = [long_a, *short[:5], long_b, *short[5:]]
        kept = _truncate(entries)
        assert kept == [long_a, *short]  # dropping long_b alone brings it under 512
        assert _header_length(kept) <= MAX_LENGTH
        many = [(f"s{n:02d}", "z" * 20) for n in range(30)]
        kept = _truncate([long_a, *many])
        assert kept == many[: len(kept)]
        assert _header_length(kept) <= MAX_LENGTH < _header_length(many[: len(kept) + 1])


class TestTraceState:
    def test_level_2_keys_survive_in_the_sdk_trace_state(self) -> None:
        """The SDK's TraceState holds and writes out keys its own grammar would reject."""
        state = _trace_state([("foo@@bar", "1"), ("bar", "2")])
        assert dict(state) == {"foo@@bar": "1", "bar": "2"}
        assert state.to_header() == "foo@@bar=1,bar=2"


class TestSafeTraceContextPropagator:
    @pytest.mark.parametrize(
        ("tracestate", "expected"),
        [
            ("foo=1,foo=2", "foo=1"),
            ("foo@=1,bar=2", "foo@=1,bar=2"),
            ("@foo=1,bar=2", ""),
            ("foo=1," + "z" * 257 + "=1", ""),
            ("foo=1," + "t" * 242 + "@v=1", "foo=1," + "t" * 242 + "@v=1"),
        ],
    )
    def test_the_three_cases_the_sdk_fails(self, tracestate: str, expected: str) -> None:
        """Duplicated keys, '@' in keys, key lengths: as the W3C harness expects."""
        assert _state(tracestate) == expected

    @pytest.mark.parametrize(
        "traceparent",
        [
            TRACEPARENT,
            "cc-12345678901234567890123456789012-1234567890123456-01-future",
            "00-12345678901234567890123456789012-1234567890123456-01.",
            "00-00000000000000000000000000000000-1234567890123456-01",
            "ff-12345678901234567890123456789012-1234567890123456-01",
            " 00-12345678901234567890123456789012-1234567890123456-03\t",
            "garbage",
        ],
    )
    def test_traceparent_handling_is_the_sdks(self, traceparent: str) -> None:
        """Trace id, span id and flags are whatever the SDK's propagator extracts."""
        headers = {"traceparent": traceparent}
        sdk = trace.get_current_span(TraceContextTextMapPropagator().extract(headers))
        ours = _extracted(headers)
        assert ours == sdk.get_span_context()

    def test_no_tracestate_without_a_valid_traceparent(self) -> None:
        """Without a valid traceparent, tracestate is not parsed: the context stays as given."""
        base = context.set_value("k", "v")
        extracted = SafeTraceContextPropagator().extract({"tracestate": "foo=1"}, base)
        assert extracted is base
        invalid = {"traceparent": "00-0-0-00", "tracestate": "foo=1"}
        assert SafeTraceContextPropagator().extract(invalid, base) is base

    def test_the_remote_parent_keeps_ids_and_flags(self) -> None:
        """With a tracestate the remote parent has the traceparent's ids and flags."""
        span_context = _extracted(
            {"traceparent": TRACEPARENT.replace("-00", "-01"), "tracestate": "foo=1"}
        )
        assert span_context.trace_id == 0x12345678901234567890123456789012
        assert span_context.span_id == 0x1234567890123456
        assert span_context.trace_flags.sampled
        assert span_context.is_remote
        assert span_context.trace_state.to_header() == "foo=1"

    def test_unreadable_carrier_values_propagate_no_tracestate(self) -> None:
        """A carrier whose tracestate is not text: no exception, no tracestate."""
        carrier: dict[str, object] = {"traceparent": TRACEPARENT, "tracestate": [b"foo=1"]}
        ctx = SafeTraceContextPropagator().extract(carrier)
        span_context = trace.get_current_span(ctx).get_span_context()
        assert span_context.is_valid
        assert len(span_context.trace_state) == 0

    def test_injects_what_it_extracted(self) -> None:
        """The parent's tracestate goes out again on inject (a child span inherits it)."""
        propagator = SafeTraceContextPropagator()
        ctx = propagator.extract({"traceparent": TRACEPARENT, "tracestate": "a@b@c=1, x=2"})
        carrier: dict[str, str] = {}
        propagator.inject(carrier, ctx)
        assert carrier["tracestate"] == "a@b@c=1,x=2"
        assert carrier["traceparent"] == TRACEPARENT

    @pytest.mark.usefixtures("global_textmap")
    def test_installed_in_the_global_composite(self) -> None:
        """install_propagator() swaps the SDK's trace context propagator for this one."""
        propagate.set_global_textmap(
            CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])
        )
        wrapper = install_propagator()
        ctx = wrapper.extract({"traceparent": TRACEPARENT, "tracestate": "foo=1,foo=2"})
        state = trace.get_current_span(ctx).get_span_context().trace_state
        assert state.to_header() == "foo=1"
