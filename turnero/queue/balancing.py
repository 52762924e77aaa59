"""Load balancing: desk moves between an office's services, and offices ranked for a
trámite. Pure functions over plain values (the predicted waits come from eta.py)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

# Chosen with benchmarks/simulate_day.py: at 30 the peak day's desks move back and forth
# between the flow's steps and p90 rises; at 40 both simulated days improve.
DEFAULT_THRESHOLD_MINUTES = 40
# A move must shorten the longest of the two waits it touches by at least this much.
MIN_GAIN_MINUTES = 5
# A desk whose planned pause begins within this long (or is due) is moved only when no
# other desk would do: it would leave the line it was moved to soon after the move, and
# a move takes about the automatic cooldown (10 min) to show.
LEAVES_SOON_MINUTES = 30


def desk_capacity(desks: Iterable[Mapping]) -> dict:
    """Open desks per service, counting each desk once: its capacity is split evenly
    among its first-tier services (fallback services get none of it)."""
    capacity: dict = {}
    for weights in desks:
        if not weights:
            continue
        best = min(weights.values())
        first = [s for s, w in weights.items() if w == best]
        for s in first:
            capacity[s] = capacity.get(s, 0.0) + 1.0 / len(first)
    return capacity


@dataclass(frozen=True)
class ServiceQueue:
    service: str
    waiting: int
    wait_minutes: int | None  # predicted for a regular walk-in arriving now
    primary_desks: float  # desk capacity giving it first tier (desk_capacity)
    service_minutes: float


@dataclass(frozen=True)
class DeskAssignment:
    desk: str
    services: Mapping[str, int]  # service code -> weight (1 = first)
    pause_in_minutes: float | None = None  # until its next planned pause begins (≤ 0: due); None: none
    pause: str | None = None  # that pause, as the page names it («refrigerio 10:00–10:15»)

    @property
    def leaves_soon(self) -> bool:
        return self.pause_in_minutes is not None and self.pause_in_minutes < LEAVES_SOON_MINUTES

    @property
    def first(self) -> list[str]:
        best = min(self.services.values())
        return sorted(s for s, w in self.services.items() if w == best)


@dataclass(frozen=True)
class Move:
    desk: str
    from_services: tuple[str, ...]
    to_service: str
    wait_before: int  # predicted wait of `to_service`
    wait_after: int
    from_wait_before: int
    from_wait_after: int | None  # None: the desk's old service keeps no first desk (nobody waits)
    leaves_for: str | None = None  # its planned pause that begins soon (DeskAssignment.leaves_soon)

    def as_dict(self) -> dict:
        return {
            "desk": self.desk,
            "from": list(self.from_services),
            "to": self.to_service,
            "wait_before": self.wait_before,
            "wait_after": self.wait_after,
            "from_wait_before": self.from_wait_before,
            "from_wait_after": self.from_wait_after,
            "leaves_for": self.leaves_for,
            "message": (
                f"Mover la ventanilla {self.desk} de {', '.join(self.from_services)} a {self.to_service}: "
                f"espera estimada {self.wait_before} → {self.wait_after} min."
                + (f" Ojo: tiene planificado su {self.leaves_for}." if self.leaves_for else "")
            ),
        }


def _wait_with(queue: ServiceQueue, wait: float, desks_before: float, desks_after: float) -> float:
    """The predicted wait rescaled to another number of first-tier desks; a line with
    none left (and someone waiting) is unbounded."""
    if desks_after <= 0:
        return math.inf if queue.waiting else 0.0
    if desks_before <= 0:
        # No first desk now: fallback desks serve it when their own lines are empty, at a
        # rate the prediction implies (its work over its wait, in desk-equivalents); the
        # new first desks add to that.
        work = queue.waiting * queue.service_minutes
        if wait <= 0 or work <= 0:
            return 0.0
        return work / (work / wait + desks_after)
    return wait * desks_before / desks_after


def suggest_moves(
    queues: Sequence[ServiceQueue],
    desks: Sequence[DeskAssignment],
    *,
    threshold_minutes: int = DEFAULT_THRESHOLD_MINUTES,
    max_moves: int = 3,
    min_gain_minutes: int = MIN_GAIN_MINUTES,
) -> list[Move]:
    """Greedy: while some service's predicted wait passes the threshold, move to it the
    open desk whose move leaves the smaller of the worst two waits it touches, if that
    shortens the longer one by at least `min_gain_minutes` and saves more waiting than
    it adds (minutes × people waiting, over the lines it touches: a desk is not taken
    from a long line of many to shorten a line of few). Each desk moves once; a desk
    about to leave for a planned pause (leaves_soon) only when no other desk would do,
    and the move says so."""
    waits = {q.service: float(q.wait_minutes) for q in queues if q.wait_minutes is not None}
    capacity = {q.service: q.primary_desks for q in queues}
    by_code = {q.service: q for q in queues}
    moved: set[str] = set()
    moves: list[Move] = []
    skipped: set[str] = set()
    while len(moves) < max_moves:
        hot_candidates = [
            s for s, w in waits.items()
            if w > threshold_minutes and by_code[s].waiting > 0 and s not in skipped
        ]
        if not hot_candidates:
            break
        hot = max(hot_candidates, key=lambda s: (waits[s], s))
        best = None
        for desk in desks:
            if desk.desk in moved or not desk.services:
                continue
            first = desk.first
            if hot in first:
                continue
            share = 1.0 / len(first)
            hot_after = _wait_with(by_code[hot], waits[hot], capacity[hot], capacity[hot] + 1.0)
            # Its first services lose their share of the desk.
            others_after = {
                s: _wait_with(by_code[s], waits.get(s, 0.0), capacity.get(s, 0.0), capacity.get(s, 0.0) - share)
                for s in first if s in by_code
            }
            worst_after = max([hot_after, *others_after.values()])
            if worst_after > waits[hot] - min_gain_minutes:
                continue
            saved = by_code[hot].waiting * (waits[hot] - hot_after)
            added = sum(by_code[s].waiting * (w - waits.get(s, 0.0)) for s, w in others_after.items())
            if added >= saved:
                continue
            key = (desk.leaves_soon, worst_after, sum(waits.get(s, 0.0) for s in first), desk.desk)
            if best is None or key < best[0]:
                best = (key, desk, hot_after, others_after)
        if best is None:
            skipped.add(hot)
            continue
        _key, desk, hot_after, others_after = best
        first = tuple(desk.first)
        main_from = max(first, key=lambda s: waits.get(s, 0.0))
        from_after = others_after.get(main_from)
        moves.append(Move(
            desk.desk, first, hot, round(waits[hot]), round(hot_after),
            round(waits.get(main_from, 0.0)), None if from_after is None or math.isinf(from_after) or (
                capacity.get(main_from, 0.0) - 1.0 / len(first) <= 0) else round(from_after),
            desk.pause if desk.leaves_soon else None,
        ))
        moved.add(desk.desk)
        share = 1.0 / len(first)
        capacity[hot] = capacity.get(hot, 0.0) + 1.0
        waits[hot] = hot_after
        for s, w in others_after.items():
            capacity[s] = capacity.get(s, 0.0) - share
            waits[s] = w
    return moves


# ---------------------------------------------------------------- offices for a trámite


@dataclass(frozen=True)
class OfficeOption:
    office: str
    name: str
    wait_minutes: int | None  # regular walk-in now; None: no walk-ins or no desk
    waiting: int
    open_desks: int
    next_appointment: datetime | None = None  # from the citas engine, when it is wired

    def as_dict(self) -> dict:
        return {
            "office": self.office,
            "name": self.name,
            "estimated_wait_minutes": self.wait_minutes,
            "waiting": self.waiting,
            "open_desks": self.open_desks,
            "next_appointment": self.next_appointment.isoformat(timespec="minutes") if self.next_appointment else None,
        }


def rank_offices(options: Sequence[OfficeOption], *, current: str | None = None) -> list[OfficeOption]:
    """Fastest first for a walk-in: offices with a desk open before those without,
    then by predicted wait, then by the earliest free appointment, then fewer waiting;
    on a tie the citizen's current office comes first (no reason to move)."""

    def key(o: OfficeOption):
        return (
            o.open_desks == 0,
            o.wait_minutes is None,
            o.wait_minutes if o.wait_minutes is not None else 0,
            o.next_appointment.timestamp() if o.next_appointment else math.inf,
            o.waiting,
            o.office != current,
            o.office,
        )

    return sorted(options, key=key)


def faster_alternative(
    options: Sequence[OfficeOption], current: str, *, long_wait_minutes: int = 45, min_saving_minutes: int = 20
) -> OfficeOption | None:
    """What the kiosk proposes when the local wait is long: the fastest other office
    (with a desk open) that saves at least `min_saving_minutes`; None otherwise."""
    here = next((o for o in options if o.office == current), None)
    if here is None or here.wait_minutes is None or here.wait_minutes < long_wait_minutes:
        return None
    for o in rank_offices(options, current=current):
        if o.office == current or o.open_desks == 0 or o.wait_minutes is None:
            continue
        if o.wait_minutes <= here.wait_minutes - min_saving_minutes:
            return o
        break
    return None
