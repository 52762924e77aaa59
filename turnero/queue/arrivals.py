"""Walk-ins still to come in the next hour, and how many of the day's booked citas come,
for the wait replay. Pure: plain values in.

The replay plays future walk-ins in because a preferential ticket issued later is still
called before a regular one waiting now. Counting only the last hour's issues fails
exactly when it matters most: at the doors' opening nothing has been issued yet, so a
regular ticket at the head of the morning crowd was told it goes at opening, and then
every senior, pregnant woman and parent with a child still queueing at the kiosks went
first (measured: 37–41 of them, half an hour's wait the promise did not hold).

So the office's usual day says what comes next: per line, lane and flow, the walk-ins
issued in each local quarter hour on its comparable earlier days, averaged over those
days, summed over the coming window — scaled by how the last window compares with the
same window of the usual day (both with a few tickets' weight added, so a quiet quarter
does not make the day look empty). The last window, not the whole day so far: the size
of the morning crowd says little about the afternoon, and a day that turns busy or
quiet shows it within the hour.

The day's booked citas are known by name and time, not by rate; only how many of them
come is learnt (`show_share`, `citas_to_play`).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping

QUARTER = 15  # minutes
QUARTERS_PER_DAY = 24 * 60 // QUARTER
# Tickets added to today's count and to the usual one before comparing them.
SCALE_WEIGHT = 20.0


def _overlap(quarter: int, start: float, end: float) -> float:
    """How much of the quarter hour `quarter` (of the local day) lies in [start, end),
    in minutes of the day, as a share of the quarter."""
    lo, hi = quarter * QUARTER, (quarter + 1) * QUARTER
    return max(0.0, min(hi, end) - max(lo, start)) / QUARTER


def expected(
    usual: Mapping[Hashable, Mapping[int, int]],
    days: int,
    today_recent: int,
    minute_of_day: float,
    window_minutes: float = 60.0,
) -> dict[Hashable, float]:
    """Walk-ins expected in [now, now + window) per stream key.

    `usual`: per key, walk-ins issued in each local quarter hour (0 = 00:00–00:15) summed
    over `days` comparable earlier days; `today_recent`: walk-ins issued today in
    [now − window, now) (all keys); `minute_of_day`: now, local. Nothing is expected
    without history."""
    if days <= 0:
        return {}
    start, end = minute_of_day - window_minutes, minute_of_day + window_minutes
    usual_recent = 0.0
    coming: dict[Hashable, float] = {}
    for key, by_quarter in usual.items():
        ahead = 0.0
        for quarter, count in by_quarter.items():
            usual_recent += count * _overlap(quarter, start, minute_of_day)
            ahead += count * _overlap(quarter, minute_of_day, end)
        if ahead > 0:
            coming[key] = ahead / days
    scale = (today_recent + SCALE_WEIGHT) / (usual_recent / days + SCALE_WEIGHT)
    return {key: n * scale for key, n in coming.items()}


# Booked citas: until an office's earlier days say otherwise, this share of them come,
# with this weight in citas (a new office is told most come; its own days soon decide).
SHOW_PRIOR, SHOW_PRIOR_WEIGHT = 0.9, 10.0


def show_share(came: int, booked: int) -> float:
    """The share of booked citas expected to come: `came` of `booked` on the earlier
    days, shrunk to SHOW_PRIOR."""
    return (came + SHOW_PRIOR * SHOW_PRIOR_WEIGHT) / (booked + SHOW_PRIOR_WEIGHT)


def citas_to_play(booked: int, share: float) -> list[int]:
    """Which of `booked` citas (earliest first, by index) the replay plays so that as
    many as are expected come, spread over the day: each one at which the running count
    of expected arrivals passes a whole one."""
    def whole(x: float) -> int:
        return math.floor(x + 1e-9)  # 10 x 0.7 is 7, not 6.999…
    return [i for i in range(booked) if whole((i + 1) * share) > whole(i * share)]
