"""The constant-rate load figure's schedule, percentiles and bootstrap (benchmarks/_latency.py)."""

# ruff: noqa: S311 - seeded generators make reproducible samples, nothing secret
from __future__ import annotations

import random

import pytest

from benchmarks._latency import (
    Rounds,
    bootstrap_ratio,
    offered_rate,
    percentile,
    pooled,
    pooled_ratio,
    schedule,
)


class TestSchedule:
    def test_fixed_intervals_from_start(self) -> None:
        """Request i is due at start + i / rate, whatever happened to earlier ones."""
        assert schedule(10.0, 4, 1) == [10.0, 10.25, 10.5, 10.75]

    def test_count_is_rate_times_seconds(self) -> None:
        """150 req/s for 10 s is 1,500 requests (no off-by-one from float steps)."""
        times = schedule(0.0, 150, 10)
        assert len(times) == 1500
        assert times[-1] == pytest.approx(1499 / 150)

    @pytest.mark.parametrize(("rate", "seconds"), [(0, 1), (10, 0), (-1, 5)])
    def test_rejects_non_positive(self, rate: float, seconds: float) -> None:
        """A rate or duration of zero or less is an error naming both."""
        with pytest.raises(ValueError, match="rate and seconds must be positive"):
            schedule(0.0, rate, seconds)


class TestOfferedRate:
    @pytest.mark.parametrize(
        ("capacity", "rate"), [(312, 160.0), (28, 14.0), (45, 22.0), (1, 1.0), (0.5, 1.0)]
    )
    def test_half_the_capacity_rounded(self, capacity: float, rate: float) -> None:
        """Half of 312 req/s is offered as 160, half of 28 as 14 (not rounded to 10), never 0."""
        assert offered_rate(capacity, 0.5) == rate


class TestPercentile:
    def test_nearest_rank(self) -> None:
        """p99 of 1..1000 is the 990th sample, p50 the 500th, p100 the largest."""
        values = [float(v) for v in range(1, 1001)]
        assert percentile(values, 99) == 990
        assert percentile(values, 50) == 500
        assert percentile(values, 99.9) == 999
        assert percentile(values, 100) == 1000

    def test_small_samples(self) -> None:
        """With fewer samples than 1 / (1 - pct) the tail percentile is the largest sample."""
        assert percentile([1.0, 2.0, 3.0], 99) == 3
        assert percentile([7.0], 50) == 7
        assert percentile([1.0, 2.0, 3.0, 4.0], 25) == 1

    def test_errors(self) -> None:
        """No samples, or a percentage outside (0, 100], is an error."""
        with pytest.raises(ValueError, match="no samples"):
            percentile([], 50)
        with pytest.raises(ValueError, match="percentile must be"):
            percentile([1.0], 0)
        with pytest.raises(ValueError, match="percentile must be"):
            percentile([1.0], 100.5)


class TestPooled:
    def test_pools_the_picked_rounds(self) -> None:
        """Rounds are pooled and sorted; a pick may repeat a round."""
        rounds = [[3.0, 1.0], [2.0], [9.0]]
        assert pooled(rounds) == [1.0, 2.0, 3.0, 9.0]
        assert pooled(rounds, [1, 1, 0]) == [1.0, 2.0, 2.0, 3.0]

    def test_ratio_of_pooled_percentiles(self) -> None:
        """The ratio compares percentiles over the same rounds of both configurations."""
        mine = [[2.0, 4.0], [6.0, 8.0]]
        theirs = [[1.0, 2.0], [3.0, 4.0]]
        assert pooled_ratio(mine, theirs, 100) == 2
        assert pooled_ratio(mine, theirs, 50, [0]) == 2


class TestRounds:
    @pytest.mark.parametrize("pct", [1, 50, 90, 99, 99.9, 100])
    def test_matches_the_pooled_percentile(self, pct: float) -> None:
        """Bisection over the rounds gives the very sample a sorted pool gives, repeats too."""
        rng = random.Random(5)
        rounds = [
            [round(rng.expovariate(1), 2) for _ in range(rng.randrange(1, 400))] for _ in range(9)
        ]
        sorted_rounds = Rounds(rounds)
        for _ in range(50):
            picks = [rng.randrange(len(rounds)) for _ in range(len(rounds))]
            assert sorted_rounds.percentile(pct, picks) == percentile(pooled(rounds, picks), pct)


class TestBootstrap:
    def test_constant_ratio_has_a_point_interval(self) -> None:
        """Every round 1.5x slower: every resample gives 1.5, so does the interval."""
        rng = random.Random(1)
        theirs = [[rng.uniform(1, 10) for _ in range(200)] for _ in range(8)]
        mine = [[1.5 * value for value in values] for values in theirs]
        low, high = bootstrap_ratio(mine, theirs, 99, rng=random.Random(2), resamples=200)
        assert low == pytest.approx(1.5)
        assert high == pytest.approx(1.5)

    def test_interval_holds_the_ratio_and_widens_with_noise(self) -> None:
        """Rounds that disagree give an interval around the pooled median ratio, wider than calm."""
        rng = random.Random(3)
        theirs = [[rng.uniform(1, 2) for _ in range(300)] for _ in range(10)]
        calm = [[1.2 * v for v in values] for values in theirs]
        noisy = [[(1.2 + (0.4 if i % 2 else -0.2)) * v for v in r] for i, r in enumerate(theirs)]
        c_low, c_high = bootstrap_ratio(calm, theirs, 50, rng=random.Random(4), resamples=300)
        n_low, n_high = bootstrap_ratio(noisy, theirs, 50, rng=random.Random(4), resamples=300)
        assert n_low <= pooled_ratio(noisy, theirs, 50) <= n_high
        assert n_high - n_low > c_high - c_low + 0.1

    def test_rounds_must_pair(self) -> None:
        """Different round counts cannot be paired."""
        with pytest.raises(ValueError, match="same, non-zero number of rounds"):
            bootstrap_ratio([[1.0]], [[1.0], [2.0]], 99, rng=random.Random(0))
