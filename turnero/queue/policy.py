"""Call-next policy and queue position: pure functions over plain values, no I/O.

Order:
1. Appointments whose time has come, by their time: a cita is served at its time.
2. Walk-ins past their target, whichever has waited longest *weighed by its lane*: a
   preferential ticket's wait counts `ratio + 1` times a regular one's (`weighed_wait`),
   so a regular ticket is past its target after `regular_max_wait` and a preferential
   one after a third of it (ratio 2). No line starves — every wait grows — and under a
   backlog the lane the law protects (Ley 369, Ley 223) is still the faster one: a
   preferential ticket is called once it has waited a third as long as the regular
   ticket it competes with. (A plain "overdue regular first" rule made every desk call
   regulars first at a peak, and preferential tickets waited longer than regular ones.)
   This step looks past the desk's service tiers: a fallback line is not left behind.
3. Otherwise, in the desk's best service tier that has anyone waiting, preferential and
   regular tickets interleaved — `ratio` preferential, then one regular, when both
   wait — each by arrival time.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

APPOINTMENT = "appointment"
PREFERENTIAL = "preferential"
REGULAR = "regular"
LANES = (APPOINTMENT, PREFERENTIAL, REGULAR)


@dataclass(frozen=True)
class Candidate:
    ticket_id: int
    lane: str
    service_id: int
    arrived_at: datetime
    due_at: datetime | None = None


@dataclass(frozen=True)
class PolicyConfig:
    preferential_ratio: int = 2
    regular_max_wait: timedelta = timedelta(minutes=60)


@dataclass(frozen=True)
class Decision:
    candidate: Candidate
    preferential_streak: int  # the desk's streak after this call


def lane_weight(lane: str, config: PolicyConfig) -> int:
    """How many times a minute of waiting counts in step 2 of the order."""
    return max(1, config.preferential_ratio) + 1 if lane == PREFERENTIAL else 1


def weighed_wait(c: Candidate, now: datetime, config: PolicyConfig) -> timedelta:
    return (now - c.arrived_at) * lane_weight(c.lane, config)


def is_eligible(c: Candidate, weights: Mapping[int, int], now: datetime) -> bool:
    if c.service_id not in weights:
        return False
    if c.lane == APPOINTMENT:
        return c.due_at is not None and c.due_at <= now
    return True


def choose_next(
    candidates: Iterable[Candidate],
    *,
    now: datetime,
    weights: Mapping[int, int],
    preferential_streak: int,
    config: PolicyConfig,
) -> Decision | None:
    """The ticket a desk serving `weights` (service id -> tier, 1 = primary) calls next."""
    eligible = [c for c in candidates if is_eligible(c, weights, now)]
    if not eligible:
        return None

    def by_arrival(c: Candidate):
        return (c.arrived_at, c.ticket_id)

    due = [c for c in eligible if c.lane == APPOINTMENT]
    if due:
        first = min(due, key=lambda c: (c.due_at, c.arrived_at, c.ticket_id))
        return Decision(first, preferential_streak)

    overdue = [c for c in eligible if weighed_wait(c, now, config) >= config.regular_max_wait]
    if overdue:
        # The longest weighed wait; on a tie the preferential one, then by arrival.
        first = min(overdue, key=lambda c: (-weighed_wait(c, now, config), c.lane != PREFERENTIAL,
                                            c.arrived_at, c.ticket_id))
        return Decision(first, preferential_streak + 1 if first.lane == PREFERENTIAL else 0)

    best_tier = min(weights[c.service_id] for c in eligible)
    tier = [c for c in eligible if weights[c.service_id] == best_tier]
    preferential = [c for c in tier if c.lane == PREFERENTIAL]
    regular = [c for c in tier if c.lane == REGULAR]
    ratio = max(1, config.preferential_ratio)
    if preferential and (not regular or preferential_streak < ratio):
        return Decision(min(preferential, key=by_arrival), preferential_streak + 1)
    # The desk has called `ratio` preferential tickets in a row: the walk-in who has
    # waited longest now, of either lane. A regular that came after a waiting
    # preferential ticket never goes first (the law's priority is not inverted at a
    # light load); under a backlog the oldest regular is older, so the lane still moves.
    first = min(preferential + regular, key=by_arrival)
    return Decision(first, preferential_streak + 1 if first.lane == PREFERENTIAL else 0)


def queue_position(
    lane: str,
    *,
    appointments_ahead: int,
    same_lane_ahead: int,
    other_lane_waiting: int,
    ratio: int,
    other_lane_older: int,
) -> int:
    """1-based place of a ticket in its service's queue under choose_next's walk-in rule.

    A regular ticket waits for up to `ratio` preferential tickets per regular ahead of it
    (including itself), and for every preferential ticket that arrived before it
    (`other_lane_older`); a preferential ticket lets one regular through per `ratio`
    preferential ahead of it, and only regulars that arrived before it. Appointments
    that are due go before both. One desk from a fresh streak; exact when the lanes'
    arrivals alternate, and on 95 % of places in queues of random arrivals — otherwise a
    few places off (a regular ticket told too early, a preferential one too late): the
    counts do not say when each regular ahead came (tests/unit/test_policy.py)."""
    ratio = max(1, ratio)
    if lane == APPOINTMENT:
        return appointments_ahead + 1
    if lane == PREFERENTIAL:
        interleaved = min(other_lane_older, same_lane_ahead // ratio)
    else:
        interleaved = min(other_lane_waiting, max(ratio * (same_lane_ahead + 1), other_lane_older))
    return appointments_ahead + same_lane_ahead + interleaved + 1


def estimate_wait_minutes(position: int, open_desks: int, service_minutes: float) -> int:
    """Minutes until called: the tickets ahead shared among the open desks, plus half a
    service for the one at the desk now. With no desk open, assume one will open."""
    desks = max(1, open_desks)
    return max(0, math.ceil((position - 0.5) * service_minutes / desks))
