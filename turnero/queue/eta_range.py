"""How far the wait estimate errs, learnt from its own past promises: the range shown
with every estimate («entre 35 y 50 min»). Pure: plain values in, no I/O.

Each walk-in's promise at issue is kept (`ticket.promised_wait`) and set against the
wait it then had (issued → first call). The error is a ratio on a shifted scale,
r = (actual + SHIFT) / (promised + SHIFT): ten minutes off matter on a 20-minute
promise, not on a three-hour one, and SHIFT keeps a promise of 0 meaningful. A new
estimate m gets [(m + SHIFT)·q_low − SHIFT, (m + SHIFT)·q_high − SHIFT], with q_low and
q_high the LOW_Q and HIGH_Q quantiles of r, so that about 80 % of actual waits fall
inside when the coming days err as the past ones did. The median of r corrects the
estimate itself: an engine that under-promises near capacity (desks on a break, a
heavier tail than its average minutes) learns by how much, per group, and the figure
shown is (m + SHIFT)·q_mid − SHIFT, always inside its range. The errors are kept apart by lane
(preferential and regular waits err differently), by part of the day (the first hour
after opening errs most) and by the quarter hour of the day it was issued in (quarter
hours, not halves: at opening the crowd at the door and those who come as the desks
open err in opposite directions within one half hour): the engine
does not know when desks will take their breaks and lunch, and on a day near capacity
its error moves with the clock — the same way day after day (a promise made at 09:30
runs into the 10:00 breaks). A group with fewer than MIN_SAMPLES borrows the wider
group's, and with none at all DEFAULT applies.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

SHIFT = 5.0
LOW_Q, MID_Q, HIGH_Q = 0.10, 0.50, 0.90
MIN_SAMPLES = 40
# Before anything is learnt: wide enough to be honest about a new office.
DEFAULT = (0.6, 1.0, 1.7)


@dataclass(frozen=True)
class Sample:
    lane: str
    first_hour: bool  # issued before the office's first hour of the day was over
    promised: int
    actual: float  # minutes from issue to the first call
    slot: str | None = None  # the local quarter hour it was issued in ("09:45")


def quantile(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default)."""
    position = (len(sorted_values) - 1) * q
    below = math.floor(position)
    above = min(below + 1, len(sorted_values) - 1)
    return sorted_values[below] + (sorted_values[above] - sorted_values[below]) * (position - below)


@dataclass(frozen=True)
class ErrorModel:
    # (lane, first hour, quarter hour) -> (q_low, q_mid, q_high); a None is the wider group.
    factors: dict[tuple[str | None, bool | None, str | None], tuple[float, float, float]] = field(
        default_factory=dict)
    samples: int = 0

    @classmethod
    def fit(cls, samples: Iterable[Sample], min_samples: int = MIN_SAMPLES) -> "ErrorModel":
        groups: dict[tuple[str | None, bool | None, str | None], list[float]] = {}
        count = 0
        for s in samples:
            if s.promised is None or s.promised < 0 or s.actual < 0:
                continue
            ratio = (s.actual + SHIFT) / (s.promised + SHIFT)
            for key in _keys(s.lane, s.first_hour, s.slot):
                groups.setdefault(key, []).append(ratio)
            count += 1
        factors = {}
        for key, ratios in groups.items():
            if len(ratios) >= min_samples:
                ratios.sort()
                factors[key] = (quantile(ratios, LOW_Q), quantile(ratios, MID_Q), quantile(ratios, HIGH_Q))
        return cls(factors, count)

    def factors_for(self, lane: str, first_hour: bool, slot: str | None = None) -> tuple[float, float, float]:
        for key in _keys(lane, first_hour, slot):
            if key in self.factors:
                return self.factors[key]
        return DEFAULT

    def corrected(self, minutes: int | None, lane: str, first_hour: bool, slot: str | None = None) -> int | None:
        """The estimate as shown: the engine's minutes moved by the median of its past
        errors. A wait the engine expects never becomes 0 (nor a 0 a wait)."""
        if minutes is None or minutes <= 0:
            return minutes
        _low, mid_factor, _high = self.factors_for(lane, first_hour, slot)
        return max(1, round((minutes + SHIFT) * mid_factor - SHIFT))

    def range(self, minutes: int | None, lane: str, first_hour: bool, slot: str | None = None) -> tuple[int, int] | None:
        """(low, high) minutes around the engine's estimate; always holds the estimate
        and its corrected figure. Each end is its quantile to the nearest minute, as every
        wait is shown and read: rounded outwards, a range would cover more than it says
        (an afternoon's one-minute waits told «entre 0 y 4» when their errors span 0–3.4)."""
        if minutes is None:
            return None
        low_factor, _mid, high_factor = self.factors_for(lane, first_hour, slot)
        shown = self.corrected(minutes, lane, first_hour, slot)
        low = round((minutes + SHIFT) * low_factor - SHIFT)
        high = round((minutes + SHIFT) * high_factor - SHIFT)
        return max(0, min(low, minutes, shown)), max(high, minutes, shown)


def _keys(lane: str, first_hour: bool, slot: str | None) -> tuple:
    """The groups a sample belongs to, narrowest first."""
    wider = ((lane, first_hour, None), (lane, None, None), (None, None, None))
    return ((lane, first_hour, slot), *wider) if slot is not None else wider
