"""Schedules and percentiles for the constant-rate (open-loop) load figure.

An open-loop generator sends request *i* at ``start + i / rate`` whether or not earlier ones
have been answered, and measures each latency from that *scheduled* time, not from the moment
the request left (wrk2's correction of coordinated omission: a server that stalls is charged
for every request that should have gone out during the stall). These are the pure parts:
the schedule, nearest-rank percentiles over raw samples, and a paired bootstrap over rounds
for the ratio of two configurations' pooled percentiles.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import random
    from collections.abc import Sequence


def schedule(start: float, rate: float, seconds: float) -> list[float]:
    """The send times of a constant *rate* (per second) for *seconds* from *start*."""
    if rate <= 0 or seconds <= 0:
        msg = f"rate and seconds must be positive, got rate={rate!r}, seconds={seconds!r}"
        raise ValueError(msg)
    count = math.floor(rate * seconds + 1e-9)
    return [start + i / rate for i in range(count)]


def offered_rate(capacity: float, fraction: float) -> float:
    """*fraction* of *capacity* (req/s), rounded to 10 req/s above 50 and to 1 below (min 1)."""
    value = fraction * capacity
    step = 10 if value >= 50 else 1
    return float(max(1, round(value / step) * step))


def percentile(ordered: Sequence[float], pct: float) -> float:
    """The nearest-rank *pct* percentile of *ordered* (sorted ascending, non-empty).

    The smallest sample with at least *pct* % of the samples at or below it (HdrHistogram's
    "value at percentile", without the buckets): 99 over 1,000 samples is the 990th.
    """
    if not ordered:
        msg = "no samples"
        raise ValueError(msg)
    if not 0 < pct <= 100:
        msg = f"percentile must be in (0, 100], got {pct!r}"
        raise ValueError(msg)
    rank = math.ceil(pct / 100 * len(ordered) - 1e-9)
    return ordered[max(rank, 1) - 1]


def pooled(rounds: Sequence[Sequence[float]], picks: Sequence[int] | None = None) -> list[float]:
    """The samples of the *picks* rounds (all rounds by default, repeats allowed), sorted."""
    chosen = range(len(rounds)) if picks is None else picks
    return sorted(sample for index in chosen for sample in rounds[index])


def pooled_ratio(
    mine: Sequence[Sequence[float]],
    theirs: Sequence[Sequence[float]],
    pct: float,
    picks: Sequence[int] | None = None,
) -> float:
    """*mine*'s pooled *pct* percentile over *theirs*', both over the same *picks* rounds."""
    return percentile(pooled(mine, picks), pct) / percentile(pooled(theirs, picks), pct)


class Rounds:
    """One configuration's rounds, sorted once, for many percentiles of resampled pools.

    Sorting a pool of every resample would cost more than the run; instead the percentile
    is found by bisection over the sorted distinct samples of all rounds, counting how many
    of each picked round's samples lie at or below a candidate.
    """

    __slots__ = ("ordered", "universe")

    def __init__(self, rounds: Sequence[Sequence[float]]) -> None:
        self.ordered = [sorted(samples) for samples in rounds]
        self.universe = sorted({sample for samples in rounds for sample in samples})

    def percentile(self, pct: float, picks: Sequence[int]) -> float:
        """Same as ``percentile(pooled(rounds, picks), pct)``, without building the pool."""
        weights = Counter(picks)
        total = sum(len(self.ordered[index]) * weight for index, weight in weights.items())
        rank = max(math.ceil(pct / 100 * total - 1e-9), 1)
        low, high = 0, len(self.universe) - 1
        while low < high:
            middle = (low + high) // 2
            value = self.universe[middle]
            below = sum(
                weight * bisect.bisect_right(self.ordered[index], value)
                for index, weight in weights.items()
            )
            low, high = (low, middle) if below >= rank else (middle + 1, high)
        return self.universe[low]


def bootstrap_ratio(
    mine: Sequence[Sequence[float]],
    theirs: Sequence[Sequence[float]],
    pct: float,
    *,
    rng: random.Random,
    resamples: int = 1000,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """A percentile-bootstrap interval for :func:`pooled_ratio`, resampling whole rounds.

    Round *k* of *mine* and round *k* of *theirs* ran minutes apart at most, under the same
    machine load, so they are drawn together (a paired, block bootstrap): the interval
    reflects how much the ratio moves from round to round, not only within a round.
    """
    if len(mine) != len(theirs) or not mine:
        msg = f"need the same, non-zero number of rounds, got {len(mine)} and {len(theirs)}"
        raise ValueError(msg)
    count, a, b = len(mine), Rounds(mine), Rounds(theirs)
    values = []
    for _ in range(resamples):
        picks = [rng.randrange(count) for _ in range(count)]
        values.append(a.percentile(pct, picks) / b.percentile(pct, picks))
    values.sort()
    tail = (1 - confidence) / 2 * 100
    return percentile(values, max(tail, 1e-9)), percentile(values, 100 - tail)
