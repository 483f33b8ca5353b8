"""Interleaved measurement and the summary of per-round ratios.

Other processes share the CPUs, and how fast this one runs changes from one moment to the
next. So variants are compared in short blocks a few milliseconds apart: a round is many
sub-rounds, each running one block of every variant in a fresh shuffled order. A round's
ratio of A to B is the median, over its sub-rounds, of A's block time over B's in the same
sub-round; the report gives the median of those ratios over rounds, their IQR and range.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import random
    from collections.abc import Callable, Sequence

#: key -> round -> block times, the blocks of one round in sub-round order.
Blocks = dict[str, list[list[float]]]
TIMES: Final = "\N{MULTIPLICATION SIGN}"
DASH: Final = "\N{EN DASH}"


@dataclass(frozen=True, slots=True)
class Summary:
    """Median, quartiles and range of one series of per-round values."""

    median: float
    q1: float
    q3: float
    low: float
    high: float
    rounds: int

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        """Summarise *values* (at least one)."""
        if len(values) > 1:
            q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
        else:
            q1 = q3 = values[0]
        return cls(statistics.median(values), q1, q3, min(values), max(values), len(values))

    def ratio_cells(self) -> tuple[str, str, str]:
        """Median, IQR and range formatted as ratios (``1.23x``, ``1.20-1.26``, ...)."""
        return (
            f"{self.median:.2f}{TIMES}",
            f"{self.q1:.2f}{DASH}{self.q3:.2f}",
            f"{self.low:.2f}{DASH}{self.high:.2f}",
        )


def interleave(
    keys: Sequence[str],
    rounds: int,
    subrounds: int,
    rng: random.Random,
    measure: Callable[[str], float],
) -> Blocks:
    """Measure one block of every key per sub-round, keys shuffled anew each sub-round."""
    blocks: Blocks = {key: [] for key in keys}
    for _ in range(rounds):
        for key in keys:
            blocks[key].append([])
        for _ in range(subrounds):
            for key in rng.sample(list(keys), len(keys)):
                blocks[key][-1].append(measure(key))
    return blocks


def paired_ratios(blocks: Blocks, key: str, baseline: str) -> list[float]:
    """Per round: the median over sub-rounds of *key*'s block / *baseline*'s block."""
    return [
        statistics.median(a / b for a, b in zip(mine, theirs, strict=True))
        for mine, theirs in zip(blocks[key], blocks[baseline], strict=True)
    ]


def paired_differences(blocks: Blocks, key: str, baseline: str) -> list[float]:
    """Per round: the median over sub-rounds of *key*'s block - *baseline*'s block."""
    return [
        statistics.median(a - b for a, b in zip(mine, theirs, strict=True))
        for mine, theirs in zip(blocks[key], blocks[baseline], strict=True)
    ]


def round_medians(blocks: Blocks, key: str) -> list[float]:
    """Per round: the median block of *key*."""
    return [statistics.median(values) for values in blocks[key]]
