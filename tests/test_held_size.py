"""The size a held line is counted at, without rendering it."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import pytest

from otel_context._held_size import estimate

if TYPE_CHECKING:
    from collections.abc import Iterator

LIMIT = 256 * 1024


class TestEstimate:
    @pytest.mark.parametrize(
        "event",
        [
            {"event": "step", "level": "info", "timestamp": "2026-12-07T06:00:00.000000Z"},
            {"event": "a", "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", "n": 12, "ok": True},
            {"event": "b", "ratio": 0.125, "none": None, "tags": ["x", "y"], "m": {"k": "v"}},
        ],
    )
    def test_close_to_the_json_line(self, event: dict[str, Any]) -> None:
        """For ASCII, near what JSONRenderer writes (small non-strings count a little more)."""
        assert 0.7 < estimate(event, LIMIT) / len(json.dumps(event)) < 1.4

    def test_grows_with_every_character(self) -> None:
        """A value 10,000 characters longer counts at least 10,000 more."""
        small = estimate({"event": "a", "v": "x"}, LIMIT)
        assert estimate({"event": "a", "v": "x" * 10_001}, LIMIT) - small >= 10_000

    def test_nested_values_count(self) -> None:
        """Strings inside lists and dicts are counted too."""
        nested = {"event": "a", "v": [{"deep": ["x" * 5000]}]}
        assert estimate(nested, LIMIT) > 5000

    def test_a_huge_container_stops_at_the_limit(self) -> None:
        """A list of a million items is over the limit at once, without being walked."""

        class Unwalkable(list[int]):
            def __iter__(self) -> Iterator[int]:
                raise AssertionError("walked")  # noqa: EM101

        assert estimate({"v": Unwalkable(range(1_000_000))}, 1000) > 1000

    def test_a_container_holding_itself_ends(self) -> None:
        """Self-reference: the walk stops past the limit."""
        loop: list[Any] = ["x"]
        loop.append(loop)
        assert estimate({"v": loop}, 1000) > 1000

    def test_other_objects_by_their_repr(self) -> None:
        """What JSONRenderer falls back to: repr."""

        class Big:
            def __repr__(self) -> str:
                return "y" * 3000

        assert estimate({"v": Big()}, LIMIT) > 3000

    def test_a_repr_that_raises_counts_a_constant(self) -> None:
        """Never raises."""

        class Broken:
            def __repr__(self) -> str:
                raise RuntimeError

        assert estimate({"v": Broken()}, LIMIT) > 0

    def test_a_traceback_by_its_frames(self) -> None:
        """exc_info as resolved by the recorder: a traceback counts per frame."""

        def inner() -> None:
            raise ValueError

        try:
            inner()
        except ValueError:
            info = sys.exc_info()
        assert estimate({"exc_info": info}, LIMIT) >= 400

    def test_big_ints_and_non_str_keys(self) -> None:
        """An int by its digits; a key that is not a string by its size."""
        assert estimate({"v": 10**3000}, LIMIT) >= 1000
        assert estimate({("k" * 500,): 1}, LIMIT) > 500
