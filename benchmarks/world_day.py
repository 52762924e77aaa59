#!/usr/bin/env python
"""An independent day at an office like SEGIP La Paz Principal: the wait Turnero shows
against the wait that happens, and the waits by lane (issue 16, item 4).

benchmarks/simulate_day.py plays a day made by the same hands as the estimator (desks
all open at 07:30, service times a fixed factor above the catalogue's priors, no
breaks), so its figures say little about a day the estimator did not imagine. This
world was written from the offices' published figures and what offices do, not from turnero's
code; its parameters are the `World` below, fixed before any of its days was played
against Turnero's estimate:

* the demo's main office (turnero/demo.py: 24 desks and what each serves), doors and
  kiosks open 07:00, desks from 07:30; 8 of the 24 desks open 15-45 min late (some
  desks are late more often than others), the rest within 4 min, one in fifty is not
  staffed that day; each desk's operator works at their own pace (0.7x-1.5x the
  world's minutes); one break of 15-30 min per desk mid-morning and a lunch rotation in
  three groups (30-45 min); desks work until nobody is left;
* a crowd waiting at the door at opening (150-300 at full load, arrived from 06:00;
  tickets from three kiosks at 12-30 s each, so the last of them gets hers after
  07:30), then arrivals by hour with a morning peak until 15:30;
* the demo catalogue's mix (CI renewals most, first CIs through descarte -> captura ->
  entrega, certifications, saneamiento, foreigners' CIs), 15 % preferential (served
  20 % slower), some parties of 2-3 for first CIs;
* desk minutes lognormal per line with medians unlike the catalogue's priors, 7 % of
  calls 3-5x the median (a record to fix, a system down), a walk of 0.3-1.2 min from
  the call to the desk; 8 % of walk-ins gone when called (3 % between steps, 3 % of
  citas), the desk waiting 1-3 min before marking the no-show;
* 10 % of the day's visits for bookable trámites come with a cita at a slot
  (08:00-15:00), booked days before (an appointment row, as the portal writes), arriving around it (mean 10 min early, sd 9); too early, the kiosk
  sends them back until 30 min before; more than 15 min late they take a walk-in
  ticket (the service's check-in rules);
* `--load` scales arrivals: 1.0 is the offered desk-minutes equal to what the staffed
  desks give between 07:30 and 16:00 after lateness, breaks, lunch and pace.

It drives the real engine in-process (turnero.queue: issuing, calls, actions, on a fresh SQLite database
seeded by turnero.demo, a frozen clock moved to each event, cita check-ins with
`issue_checkin_ticket` as the kiosk's check-in does) with the running service's
`QueueConfig(predict_waits=True)`. Before the measured day it plays 10 earlier
weekdays of the same world (other days of the same seed) through the same engine, so
the estimator has the history a real office has (service times, desks' habits, and
the waits it promised against those that happened, which its ranges learn from); those
days are played exactly as the measured one, only not reported. A lobby board reads
the office's estimates after every event, as the displays do after each change, and
the background refresh that starts is let finish before the next event (it takes
milliseconds; events are seconds apart).

For every ticket it records what the service showed at issue (`estimated_wait_minutes`
and, when the view has them, `estimated_wait_low_minutes` / `_high_minutes`), a naive
figure the simulator computes from what it knows (people ahead in the same line and
lane, + 1, x the world's median minutes of that line / the desks open for it; before
opening, plus the minutes until 07:30, over the desks that serve it) and then the
actual wait (issue -> first call). Figures are pooled over seeds, per load.

    python benchmarks/world_day.py --quick            # 2 seeds, load 0.95, 4-hour days (minutes)
    python benchmarks/world_day.py                    # 5 seeds x loads 0.5 0.8 0.95 1.0, whole days
    python benchmarks/world_day.py --load 0.95 --seeds 5 --json
    python benchmarks/world_day.py --load 0.95 --seeds 5 --dump /tmp/day.json
    python benchmarks/world_day.py --from /tmp/day.json --twins 1   # + the floor (play_twins)
    python benchmarks/world_day.py --from /tmp/day.json --unknown 1 # + the floor of what can be known

With `--twins K` every measured day is also replayed K times per quarter hour of issue,
the desk minutes of the calls after that quarter hour drawn anew: the spread of those
equally likely waits is the error even an estimate that knew the whole day but those
minutes would make (`clairvoyant`), a floor for the figures above. With `--unknown K` the
replays also draw anew, from the world's own draws and given the day so far, all that
nobody knows at the quarter hour (the walk-ins to come, the pauses not begun, the desks
not open yet, every call's minutes, walk and no-show: unknown_after): the floor of an
estimate that knows all that can be known.
"""

from __future__ import annotations

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(_HERE)
# benchmarks/ holds a queue.py: take the folder off sys.path so `import queue` finds the
# standard library, and make the repository importable instead.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
if REPO not in sys.path:
    sys.path.insert(0, REPO)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import contextlib  # noqa: E402
import dataclasses  # noqa: E402
import functools  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import math  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from concurrent.futures import ProcessPoolExecutor  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import date, datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

from tortoise.transactions import in_transaction  # noqa: E402

from turnero.core import clock  # noqa: E402
from turnero.core.models import Service  # noqa: E402
from turnero.queue import actions, calls, eta_service, issuing, pause_plan, views  # noqa: E402
from turnero.queue.config import QueueConfig  # noqa: E402
from turnero.queue.desks import set_desk_status  # noqa: E402
from turnero.queue.events import publish_queue_changed  # noqa: E402
from turnero.queue.models import ACTIVE_AT_DESK, DeskStatus, Ticket, TicketStatus  # noqa: E402
from turnero.scheduler.models import Appointment, AppointmentStatus, Slot  # noqa: E402
from turnero.settings import Settings  # noqa: E402

from benchmarks import sim_common  # noqa: E402

# ---------------------------------------------------------------- the world

# Desks in the order a smaller world staffs them: any six or more cover every line.
DESK_ORDER = ("1", "3", "8", "9", "10", "11", "2", "4", "5", "6", "7", *(str(n) for n in range(12, 25)))
# The lines (services whose queue a ticket stands in) of each trámite, in order.
LINES = {"CI-NUEVO": ("DESCARTE", "CAPTURA", "ENTREGA")}


# These parameters were fixed (2026-12-04) before looking at any error of Turnero's
# estimate against this world, and are not to be tuned afterwards (another world, kept apart, checks the
# same figures). Times are La Paz wall clock; ranges are uniform unless said otherwise.
@dataclass(frozen=True)
class World:
    # -- the office: the demo's LPZ-PRINCIPAL, a prefix of DESK_ORDER staffed
    desks: int = 24
    doors: str = "07:00"  # building and kiosks open
    opening: str = "07:30"  # desks open (the office's hours in turnero.demo)
    closing: str = "16:00"
    last_ticket: str = "15:30"  # the last arrivals
    kiosks: int = 3
    kiosk_seconds: tuple[float, float] = (12.0, 30.0)  # per ticket or check-in
    # -- staffing
    late_desks: int = 8  # per 24 desks (scaled), opening late by late_minutes
    late_minutes: tuple[float, float] = (15.0, 45.0)
    habitual_late: int = 6  # per 24 desks: these are late habitual_weight times as often
    habitual_weight: float = 4.0
    on_time_minutes: tuple[float, float] = (0.0, 4.0)  # the others: after opening
    absent_share: float = 0.02  # a desk nobody staffs that day (never a line's only desk)
    speed: tuple[float, float] = (0.7, 1.5)  # operator's time factor, one per desk of the world
    break_minutes: tuple[float, float] = (15.0, 30.0)  # one per desk, starting in break_window
    break_window: tuple[str, str] = ("09:30", "11:15")
    lunch_starts: tuple[str, ...] = ("12:00", "12:45", "13:30")  # three groups of desks
    lunch_jitter: float = 10.0  # minutes after the group's start
    lunch_minutes: tuple[float, float] = (30.0, 45.0)
    # --roster (not part of the world the figures are set on, which has no plan): the
    # supervisor enters each day's drawn break and lunch of every desk (to the minute)
    # as the day's plan of pauses before the doors open (pause_plan.py); the operators
    # then go at those times, each once free.
    pause_roster: bool = False
    # How the operators keep that plan: each pause begins this many minutes off its
    # planned start (uniform) and lasts this factor of its planned length (uniform);
    # (0, 0) and (1, 1): to the minute. --roster-slip: (-5, 10) and (0.9, 1.3).
    roster_slip: tuple[float, float] = (0.0, 0.0)
    roster_stretch: tuple[float, float] = (1.0, 1.0)
    # -- demand
    crowd: tuple[float, float] = (150.0, 300.0)  # at the door at opening, at load 1 with 24 desks
    crowd_from: str = "06:00"  # their arrivals: triangular from here to opening, mode doors + 10 min
    # Shares of the later arrivals per hour from opening (07:30-08:30, ..., 14:30-15:30).
    hourly: tuple[float, ...] = (0.17, 0.17, 0.15, 0.13, 0.11, 0.10, 0.09, 0.08)
    mix: tuple[tuple[str, float], ...] = (
        ("CI-RENOV", 0.65), ("CI-NUEVO", 0.14), ("CERT", 0.13), ("SANEAMIENTO", 0.025), ("CIE", 0.055))
    preferential_share: float = 0.15
    preferential_kinds: tuple[tuple[str, float], ...] = (
        ("senior", 0.55), ("disability", 0.15), ("pregnant", 0.10), ("child", 0.20))
    party_share: float = 0.06  # of first CIs: a tutor with minors, 2-3 people
    # -- desk minutes per call (at operator pace 1.0): lognormal by line, median and sigma
    median_minutes: tuple[tuple[str, float], ...] = (
        ("CI-RENOV", 5.5), ("CERT", 5.0), ("SANEAMIENTO", 21.0), ("CIE", 9.5),
        ("DESCARTE", 2.2), ("CAPTURA", 7.5), ("ENTREGA", 1.4))
    sigma: tuple[tuple[str, float], ...] = (
        ("CI-RENOV", 0.45), ("CERT", 0.45), ("SANEAMIENTO", 0.6), ("CIE", 0.6),
        ("DESCARTE", 0.35), ("CAPTURA", 0.45), ("ENTREGA", 0.35))
    long_share: float = 0.07  # calls that take long_factor x the line's median instead
    long_factor: tuple[float, float] = (3.0, 5.0)
    preferential_factor: float = 1.2  # preferential citizens take longer at the desk
    party_factor: float = 0.8  # each further person of a party adds this much of a call
    walk_minutes: tuple[float, float] = (0.3, 1.2)  # from the call to the desk
    # -- no-shows: gone when called; the desk waits no_show_wait, then marks it
    no_show_first: float = 0.08
    no_show_later: float = 0.03  # at the second and third step
    no_show_cita: float = 0.03
    no_show_wait: tuple[float, float] = (1.0, 3.0)
    # -- citas
    cita_share: float = 0.10  # of the later arrivals for a bookable trámite, within cita_hours
    cita_hours: tuple[str, str] = ("08:00", "15:00")
    slot_minutes: tuple[tuple[str, int], ...] = (("CI-RENOV", 15), ("CI-NUEVO", 20), ("SANEAMIENTO", 30), ("CIE", 20))
    cita_offset: tuple[float, float] = (-10.0, 9.0)  # arrival vs slot: normal mean, sd (minutes)
    cita_offset_clip: tuple[float, float] = (-50.0, 30.0)
    # -- the run
    history_days: int = 10  # earlier weekdays of the same world played first
    loads: tuple[float, ...] = (0.5, 0.8, 0.95, 1.0)


WORLD = World()
DAY = date(2027, 3, 18)  # a Thursday; the ten weekdays before it hold no holiday

# The goals of issue 16 (item 4), next to the figures.
GOALS = {"all_mae": 8.0, "all_p90": 20.0, "later_mae": 5.0, "later_p90": 12.0, "coverage": (0.75, 0.85)}
LANES = ("regular", "preferential", "cita")


def _minutes_of(hhmm: str) -> float:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def _uniform(rng: random.Random, span: tuple[float, float]) -> float:
    return rng.uniform(*span)


def history_dates(day: date, n: int) -> list[date]:
    """The n weekdays before `day`, oldest first."""
    out, d = [], day
    while len(out) < n:
        d -= timedelta(days=1)
        if d.weekday() < 5:
            out.append(d)
    return out[::-1]


# ---------------------------------------------------------------- a day's plan (world only)


@dataclass
class Step:
    minutes: float  # desk minutes at pace 1.0 (party and preferential included)
    walk: float
    gone: bool  # not there when called
    no_show_wait: float


@dataclass
class Visit:
    n: int
    arrival: datetime
    issue: datetime  # ticket (or check-in) from a kiosk
    tramite: str
    priority: str
    party: int
    cita: datetime | None  # its slot; None: a walk-in
    cita_walk_in: bool  # came too late for the check-in: a walk-in ticket instead
    steps: list[Step]


@dataclass
class DeskDay:
    name: str
    opens: datetime | None  # None: not staffed today
    pauses: list[tuple[datetime, float]]  # (planned start, minutes)


@dataclass
class DayPlan:
    day: date
    visits: list[Visit]
    desks: list[DeskDay]
    end: datetime  # the last arrival the day allows


@dataclass(frozen=True)
class Traits:
    """What stays from day to day in one seed's world: each desk's operator pace, the
    desks often late, the lunch groups."""

    speed: dict[str, float]
    habitual: frozenset[str]
    lunch_group: dict[str, int]


def traits(world: World, seed: int) -> Traits:
    rng = random.Random(f"world-{seed}")
    names = list(DESK_ORDER[: world.desks])
    speed = {d: _uniform(rng, world.speed) for d in names}
    habitual = frozenset(rng.sample(names, min(len(names), round(world.habitual_late * len(names) / 24))))
    order = names[:]
    rng.shuffle(order)
    lunch = {d: i % len(world.lunch_starts) for i, d in enumerate(order)}
    return Traits(speed, habitual, lunch)


def _lines(tramite: str) -> tuple[str, ...]:
    return LINES.get(tramite, (tramite,))


def _steps(world: World, rng: random.Random, tramite: str, priority: str, party: int, cita: bool) -> list[Step]:
    steps = []
    for i, line in enumerate(_lines(tramite)):
        minutes = _desk_minutes(world, rng, line, priority, party)
        p_gone = world.no_show_later if i else (world.no_show_cita if cita else world.no_show_first)
        steps.append(Step(minutes, _uniform(rng, world.walk_minutes), rng.random() < p_gone,
                          _uniform(rng, world.no_show_wait)))
    return steps


def _desk_minutes(world: World, rng: random.Random, line: str, priority: str, party: int) -> float:
    """One call's desk minutes at pace 1.0: lognormal around the line's median, or long."""
    median = dict(world.median_minutes)[line]
    if rng.random() < world.long_share:
        minutes = median * _uniform(rng, world.long_factor)
    else:
        minutes = median * math.exp(rng.gauss(0.0, dict(world.sigma)[line]))
    if priority != "regular":
        minutes *= world.preferential_factor
    return minutes * (1 + world.party_factor * (party - 1))


def redraw(world: World, plan: DayPlan, seed: int, twin: int) -> DayPlan:
    """The same day with every call's desk minutes drawn anew (arrivals, desks, breaks,
    walks and no-shows kept): what even a clairvoyant estimate cannot know at issue."""
    rng = random.Random(f"twin-{seed}-{twin}")
    visits = [dataclasses.replace(v, steps=[
        dataclasses.replace(step, minutes=_desk_minutes(world, rng, line, v.priority, v.party))
        for line, step in zip(_lines(v.tramite), v.steps)]) for v in plan.visits]
    return dataclasses.replace(plan, visits=visits)


def unknown_after(world: World, plan: DayPlan, seed: int, load: float, since: datetime, until: datetime,
                  twin: int) -> tuple[DayPlan, DayPlan]:
    """The same day with everything nobody knows at `since` drawn anew from the world's own
    draws, conditioned on what has happened by then: the walk-ins arriving from `until`
    on (count, times, trámites; the citas were booked days before and are kept), the
    opening of desks not open yet, each pause not begun yet (a break anywhere in what is
    left of its window, a lunch in what is left of its group's jitter; their lengths),
    and every call's minutes, walk and no-show. A replay of the first plan with the
    second's steps from `since` (Branch) is one wait each ticket of the window could
    equally have had, for an estimate that knew all that can be known at its issue."""
    rng = random.Random(f"unknown-{seed}-{twin}")
    tr = traits(world, seed)
    at = lambda m: sim_common.la_paz_at(plan.day, 0, m)  # noqa: E731 — minutes after midnight
    minutes_of = lambda moment: (moment - at(0)).total_seconds() / 60  # noqa: E731
    opening, now, end = _minutes_of(world.opening), minutes_of(since), minutes_of(plan.end)
    staffed = [d for d in plan.desks if d.opens is not None]
    late_share = min(1.0, round(world.late_desks * world.desks / 24) / max(1, len(staffed)))
    first_lunch = at(_minutes_of(world.lunch_starts[0]))
    desks = []
    for d in plan.desks:
        opens = d.opens
        if opens is not None and opens >= since:
            opens = at(opening + _late_after(world, rng, now - opening, late_share))
        pauses = []
        for start, length in d.pauses:
            if start < since:
                pauses.append((start, length))
                continue
            if start < first_lunch:
                lo, hi = map(_minutes_of, world.break_window)
                span = world.break_minutes
            else:
                lo = _minutes_of(world.lunch_starts[tr.lunch_group[d.name]])
                hi, span = lo + world.lunch_jitter, world.lunch_minutes
            begin = rng.uniform(max(lo, now), max(hi, now))
            if begin < end:
                pauses.append((at(begin), _uniform(rng, span)))
        desks.append(DeskDay(d.name, opens, pauses))
    visits = [v for v in plan.visits if v.issue < until or v.arrival < since or v.cita is not None]
    kiosks = [minutes_of(until)] * world.kiosks
    for k, came in enumerate(sorted(later_arrivals(world, rng, load, minutes_of(until), end))):
        tramite, priority, party = _visit_traits(world, rng)
        if _books_cita(world, rng, tramite, came):
            continue  # one of the day's citas: those are kept as booked
        free = min(range(len(kiosks)), key=kiosks.__getitem__)
        issue = max(came, kiosks[free])
        kiosks[free] = issue + _uniform(rng, world.kiosk_seconds) / 60
        visits.append(Visit(10 ** 6 + k, at(came), at(issue), tramite, priority, party, None, False,
                            _steps(world, rng, tramite, priority, party, cita=False)))
    visits.sort(key=lambda v: v.issue)
    played = dataclasses.replace(plan, visits=visits, desks=desks)
    later = [dataclasses.replace(v, steps=_steps(world, rng, v.tramite, v.priority, v.party,
                                                 cita=v.cita is not None and not v.cita_walk_in)) for v in visits]
    return played, dataclasses.replace(played, visits=later)


def _late_after(world: World, rng: random.Random, elapsed: float, late_share: float) -> float:
    """How late after opening a desk opens that is not open `elapsed` minutes after it."""
    on_lo, on_hi = world.on_time_minutes
    late_lo, late_hi = world.late_minutes
    on_time = (1 - late_share) * max(0.0, on_hi - max(elapsed, on_lo)) / (on_hi - on_lo)
    if rng.random() * (on_time + late_share) < on_time:
        return rng.uniform(max(elapsed, on_lo), on_hi)
    return rng.uniform(max(elapsed, late_lo), max(late_hi, elapsed))


def _kind(rng: random.Random, pairs: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([p[0] for p in pairs], [p[1] for p in pairs])[0]


def _visit_traits(world: World, rng: random.Random) -> tuple[str, str, int]:
    tramite = _kind(rng, world.mix)
    priority = _kind(rng, world.preferential_kinds) if rng.random() < world.preferential_share else "regular"
    party = rng.choice((2, 3)) if tramite == "CI-NUEVO" and rng.random() < world.party_share else 1
    return tramite, priority, party


def mean_visit_minutes(world: World, samples: int = 20000) -> float:
    """Desk minutes a visit takes on average at pace 1.0 (walks and no-show waits
    included, a step gone ends the visit): by sampling the world's own draws."""
    rng = random.Random("capacity")
    total = 0.0
    for _ in range(samples):
        tramite, priority, party = _visit_traits(world, rng)
        for step in _steps(world, rng, tramite, priority, party, cita=False):
            if step.gone:
                total += step.no_show_wait
                break
            total += step.walk + step.minutes
    return total / samples


@functools.lru_cache(maxsize=None)  # (the world is frozen: each replay asks again)
def capacity_per_minute(world: World) -> float:
    """Visits per minute the staffed desks can take, on average, from opening to
    closing: their minutes after lateness, breaks, lunch and absences, over the pace."""
    n = world.desks
    span = _minutes_of(world.closing) - _minutes_of(world.opening)
    late_share = min(1.0, world.late_desks / 24)
    lost = (late_share * statistics.fmean(world.late_minutes)
            + (1 - late_share) * statistics.fmean(world.on_time_minutes) + statistics.fmean(world.break_minutes) + statistics.fmean(world.lunch_minutes) + world.lunch_jitter / 2)
    lo, hi = world.speed
    inverse_pace = math.log(hi / lo) / (hi - lo)  # E[1/pace], pace uniform
    desk_minutes = n * (span - lost) * (1 - world.absent_share) * inverse_pace
    return desk_minutes / mean_visit_minutes(world) / span


def plan_day(world: World, seed: int, day: date, day_index: int, load: float, minutes: float | None) -> DayPlan:
    """One day of the world: arrivals, kiosk times and the desks' day. `minutes`: the day
    ends that long after opening (a shorter day: arrivals and pauses within it)."""
    rng = random.Random(f"day-{seed}-{day_index}")
    tr = traits(world, seed)
    t = lambda m: sim_common.la_paz_at(day, 0, m)  # noqa: E731 — minutes after midnight
    opening = _minutes_of(world.opening)
    end = min(_minutes_of(world.last_ticket), opening + minutes if minutes else math.inf)
    scale = world.desks / 24
    # -- desks
    names = list(DESK_ORDER[: world.desks])
    absent: set[str] = set()
    for d in names:
        if rng.random() < world.absent_share and _covers(names, absent | {d}):
            absent.add(d)
    staffed = [d for d in names if d not in absent]
    n_late = min(len(staffed), round(world.late_desks * scale))
    late: set[str] = set()
    pool = staffed[:]
    while len(late) < n_late:
        pick = rng.choices(pool, [world.habitual_weight if d in tr.habitual else 1.0 for d in pool])[0]
        late.add(pick)
        pool.remove(pick)
    desks = []
    for d in names:
        late_by = _uniform(rng, world.late_minutes if d in late else world.on_time_minutes)
        pauses = [(_uniform(rng, tuple(map(_minutes_of, world.break_window))), _uniform(rng, world.break_minutes))]
        lunch_at = _minutes_of(world.lunch_starts[tr.lunch_group[d]]) + rng.uniform(0, world.lunch_jitter)
        pauses.append((lunch_at, _uniform(rng, world.lunch_minutes)))
        desks.append(DeskDay(d, None if d in absent else t(opening + late_by),
                             [(t(at), length) for at, length in pauses if at < end]))
    # -- arrivals
    crowd_size = round(_uniform(rng, world.crowd) * load * scale)
    arrivals: list[tuple[float, bool]] = []  # (minutes after midnight, may be a cita)
    doors = _minutes_of(world.doors)
    for _ in range(crowd_size):
        arrivals.append((rng.triangular(_minutes_of(world.crowd_from), opening, doors + 10), False))
    arrivals += [(at, True) for at in later_arrivals(world, rng, load, opening, end)]
    arrivals.sort()
    slots = dict(world.slot_minutes)
    rules = Settings()
    before, after = rules.checkin_before_minutes, rules.checkin_after_minutes
    pending: list[tuple[float, int, str, str, int, float | None, bool]] = []
    for n, (at, may_cita) in enumerate(arrivals):
        tramite, priority, party = _visit_traits(world, rng)
        cita = None
        cita_walk_in = False
        came = at
        if may_cita and _books_cita(world, rng, tramite, at):
            cita_lo = _minutes_of(world.cita_hours[0])
            step = slots[tramite]
            cita = cita_lo + step * math.floor((at - cita_lo) / step) + step
            offset = min(max(rng.gauss(*world.cita_offset), world.cita_offset_clip[0]), world.cita_offset_clip[1])
            came = cita + offset
            if came > cita + after:
                cita_walk_in = True
            elif came < cita - before:
                came = cita - before + rng.uniform(0, 2)  # sent back by the kiosk until then
        pending.append((came, n, tramite, priority, party, cita, cita_walk_in))
    pending.sort()
    kiosks = [float(doors)] * world.kiosks
    visits = []
    for came, n, tramite, priority, party, cita, cita_walk_in in pending:
        free = min(range(len(kiosks)), key=kiosks.__getitem__)
        issue = max(came, doors, kiosks[free])
        kiosks[free] = issue + _uniform(rng, world.kiosk_seconds) / 60
        in_lane = cita is not None and not cita_walk_in
        steps = _steps(world, rng, tramite, priority, party, in_lane)  # (a senior with a cita is still slower)
        visits.append(Visit(n, t(came), t(issue), tramite, priority, party,
                            t(cita) if cita is not None else None, cita_walk_in, steps))
    return DayPlan(day, visits, desks, t(end))


def later_arrivals(world: World, rng: random.Random, load: float, since: float, end: float) -> list[float]:
    """The arrivals after the crowd at the door, from `since` to `end` (minutes after
    midnight): Poisson by hour from opening, with the hour's share of the day's."""
    opening = _minutes_of(world.opening)
    rate = load * capacity_per_minute(world)  # visits per minute over the day
    mean_crowd = statistics.fmean(world.crowd) * load * world.desks / 24
    later_total = max(0.0, rate * (_minutes_of(world.closing) - opening) - mean_crowd)
    out = []
    for h, share in enumerate(world.hourly):
        lo = max(opening + 60 * h, since)
        hi = min(opening + 60 * (h + 1), end)
        if hi > lo:
            out += [rng.uniform(lo, hi) for _ in range(_poisson(rng, later_total * share * (hi - lo) / 60))]
    return out


def _books_cita(world: World, rng: random.Random, tramite: str, at: float) -> bool:
    """A later arrival at `at` for `tramite` comes with a cita (booked days before)."""
    cita_lo, cita_hi = map(_minutes_of, world.cita_hours)
    return (tramite in dict(world.slot_minutes) and cita_lo <= at <= cita_hi
            and rng.random() < world.cita_share)


def _covers(names: list[str], absent: set[str]) -> bool:
    """Every line the desks `names` serve is still served by one not `absent` (demo desks)."""
    from turnero.demo import FLOW_DESKS

    served = {s for d in names if d not in absent for s in FLOW_DESKS[d]}
    return all(s in served for d in names for s in FLOW_DESKS[d])


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


# ---------------------------------------------------------------- a day through the engine


@dataclass
class _Held:
    """A ticket the world knows of: whose visit, which of its steps, in which line."""

    visit: Visit
    step: int
    line: str
    lane: str  # the engine's lane: regular, preferential, appointment


@dataclass
class DayResult:
    day: str
    records: list[dict]
    visits: int
    statuses: dict[str, int]  # today's ticket rows by status at the end
    last_call_ends: str | None
    seconds: float


def _lane_name(lane: str) -> str:
    return "cita" if lane == "appointment" else lane


@dataclass(frozen=True)
class Branch:
    """A replay that leaves the day at `since`: calls that start from then on take their
    desk minutes from `later` (the same day, minutes drawn anew); it ends once every
    visit issued before `until` has been called."""

    later: DayPlan
    since: datetime
    until: datetime


async def play_day(sim: sim_common.DemoOffice, world: World, plan: DayPlan, tr: Traits,
                   config: QueueConfig, *, seed: int, board: bool = True, branch: Branch | None = None) -> DayResult:
    began = time.perf_counter()
    later_steps = {v.n: v.steps for v in branch.later.visits} if branch else {}
    watched = 0  # with a branch: visits issued before branch.until and not called yet
    office, actor = sim.office, sim.actor
    serves = await sim_common.desk_services(office)
    medians = dict(world.median_minutes)
    names = [d.name for d in plan.desks]
    opening = sim_common.la_paz_at(plan.day, 0, _minutes_of(world.opening))
    state = {d: "closed" for d in names}
    busy: set[str] = set()
    pause_due: dict[str, float] = {}  # desk -> minutes of pause it takes once free
    held: dict[str, _Held] = {}
    waiting: dict[tuple[str, str], int] = {}  # (line, lane) -> tickets waiting, as the world counts
    records: dict[int, dict] = {}
    rng = random.Random(f"calls-{seed}-{plan.day}")
    events = sim_common.Events()
    for v in plan.visits:
        events.at(v.issue, "issue", v)
        if v.cita is not None and not v.cita_walk_in:
            events.at(v.cita, "due", _lines(v.tramite)[0])
    slips = random.Random(f"slip-{seed}-{plan.day}")  # its own stream: the rest of the day is unchanged
    for d in plan.desks:
        if d.opens is not None:
            events.at(d.opens, "open", d.name)
            for at, minutes in d.pauses:
                slip, stretch = _uniform(slips, world.roster_slip), _uniform(slips, world.roster_stretch)
                events.at(at + timedelta(minutes=slip), "pause", (d.name, minutes * stretch))
    last_end: datetime | None = None
    citas = await book_citas(office, plan, seed)
    if world.pause_roster:
        await enter_pause_plan(sim, world, plan)

    async def set_status(desk: str, status: DeskStatus) -> None:
        await set_desk_status(office, desk, status, actor)
        state[desk] = status.value

    async def begin_pause(desk: str, now: datetime) -> None:
        minutes = pause_due.pop(desk)
        await set_status(desk, DeskStatus.PAUSED)
        events.at(now + timedelta(minutes=minutes), "resume", desk)

    async def try_call(desk: str, now: datetime) -> bool:
        nonlocal watched
        if state[desk] != "open" or desk in busy:
            return False
        if desk in pause_due:
            await begin_pause(desk, now)
            return False
        view = await calls.call_next(office, desk, actor, config)
        if view is None:
            return False
        busy.add(desk)
        h = held[view["id"]]
        waiting[(h.line, h.lane)] -= 1
        record = records[h.visit.n]
        if record["called"] is None:
            record["called"] = now
            watched -= branch is not None and record["issued"] < branch.until
        step = (later_steps[h.visit.n] if branch and now >= branch.since else h.visit.steps)[h.step]
        if step.gone:
            events.at(now + timedelta(minutes=step.no_show_wait), "no_show", (desk, view["id"]))
        else:
            events.at(now + timedelta(minutes=step.walk), "start", (desk, view["id"]))
            desk_minutes = step.walk + step.minutes * tr.speed[desk]
            events.at(now + timedelta(minutes=desk_minutes), "finish", (desk, view["id"]))
        return True

    async def wake(now: datetime, line: str) -> None:
        idle = [d for d in names if state[d] == "open" and d not in busy and line in serves.get(d, ())]
        rng.shuffle(idle)  # whichever operator looks up first
        for desk in idle:
            await try_call(desk, now)

    def naive(now: datetime, line: str, lane: str, cita: datetime | None) -> float:
        """People ahead in the same line and lane, + 1, x the line's median minutes over
        the desks open for it; with none open, over the desks that serve it, from opening."""
        ahead = waiting.get((line, lane), 0)
        desks = sum(1 for d in names if state[d] == "open" and line in serves.get(d, ()))
        wait = 0.0
        if not desks:
            desks = max(1, sum(1 for d in names if line in serves.get(d, ())))
            wait = max(0.0, (opening - now).total_seconds() / 60)
        wait += (ahead + 1) * medians[line] / desks
        if cita is not None:
            wait = max(wait, (cita - now).total_seconds() / 60)
        return wait

    async def issue(v: Visit, now: datetime) -> None:
        nonlocal watched
        watched += branch is not None and now < branch.until
        line = _lines(v.tramite)[0]
        in_lane = v.cita is not None and not v.cita_walk_in
        lane = "appointment" if in_lane else ("regular" if v.priority == "regular" else "preferential")
        figure = naive(now, line, lane, v.cita if in_lane else None)
        if in_lane:
            tramite = await Service.get(code=v.tramite)
            async with in_transaction():  # what scheduler.check_in writes, in its transaction
                ticket = await issuing.issue_checkin_ticket(office, tramite, due_at=v.cita, party_size=v.party,
                                                            actor=actor, data={"appointment": f"W{v.n}"})
                await Appointment.filter(id=citas[v.n]).update(status=AppointmentStatus.CHECKED_IN,
                                                               checked_in_at=now, ticket_id=ticket.id)
            await publish_queue_changed(office)
            view = await views.ticket_view(ticket, office, config)
        else:
            view = await issuing.issue_ticket(office, v.tramite, priority=v.priority, party_size=v.party,
                                              actor=None, config=config)
        held[view["id"]] = _Held(v, 0, line, lane)
        waiting[(line, lane)] = waiting.get((line, lane), 0) + 1
        local = clock.local(now, office.timezone)
        records[v.n] = {
            "n": v.n, "id": view["id"], "number": view["number"], "tramite": v.tramite, "lane": _lane_name(lane),
            "priority": v.priority, "cita_walk_in": v.cita_walk_in, "hour": local.hour,
            "issued": now, "since_opening": (now - opening).total_seconds() / 60,
            "shown": view.get("estimated_wait_minutes"), "low": view.get("estimated_wait_low_minutes"),
            "high": view.get("estimated_wait_high_minutes"), "naive": figure, "position": view.get("position"),
            "cita": v.cita if in_lane else None, "called": None,
        }
        await wake(now, line)

    while events:
        now, kind, payload = events.pop()
        clock.freeze(now)
        if kind == "issue":
            await issue(payload, now)
        elif kind == "due":
            await wake(now, payload)
        elif kind in ("open", "resume"):
            await set_status(payload, DeskStatus.OPEN)
            await try_call(payload, now)
        elif kind == "pause":
            desk, minutes = payload
            if state[desk] == "closed":
                pass  # not open yet: no break to take
            elif state[desk] == "paused" or desk in busy:
                pause_due[desk] = pause_due.get(desk, 0.0) + minutes  # once free
            else:
                pause_due[desk] = minutes
                await begin_pause(desk, now)
        elif kind == "start":
            desk, pid = payload
            await actions.start(await actions.get_ticket(pid), actor, config)
        elif kind in ("finish", "no_show"):
            desk, pid = payload
            ticket = await actions.get_ticket(pid)
            h = held.pop(pid)
            nxt = None
            if kind == "finish":
                nxt = (await actions.finish(ticket, actor, config)).get("next")
            else:
                await actions.no_show(ticket, actor, config)
            busy.discard(desk)
            last_end = now
            if nxt:
                lane = "regular" if h.lane == "appointment" else h.lane
                held[nxt["id"]] = _Held(h.visit, h.step + 1, nxt["service"], lane)
                waiting[(nxt["service"], lane)] = waiting.get((nxt["service"], lane), 0) + 1
            await try_call(desk, now)
            if nxt:
                await wake(now, nxt["service"])
        # A lobby board reads the estimates after each change (displays), and the
        # refresh that starts ends before the next event.
        if board:
            await eta_service.service_estimates(office, config.policy)
            await eta_service.settled()
        if branch and now >= branch.until and not watched:
            break  # a branch is played for the visits it watches only: its desks stay as they are
    await eta_service.settled()  # a refresh started by the last change ends before the database closes
    # The day is over: nobody left; every desk closes (at closing time at the earliest).
    now = max(clock.now(), sim_common.la_paz_at(plan.day, 0, _minutes_of(world.closing)))
    clock.freeze(now)
    statuses: dict[str, int] = {}
    for t in await Ticket.filter(office_id=office.id, day=plan.day).values("status"):
        statuses[str(t["status"])] = statuses.get(str(t["status"]), 0) + 1
    for desk in names:
        if state[desk] != "closed" and desk not in busy:
            await set_status(desk, DeskStatus.CLOSED)
    promised = dict(await Ticket.filter(public_id__in=[r["id"] for r in records.values()]).values_list(
        "public_id", "promised_wait"))
    for r in records.values():
        r["promised"] = promised.get(r["id"])  # the engine's own minutes, before the learnt correction
        r["wait"] = (r["called"] - r["issued"]).total_seconds() / 60 if r["called"] else None
        r["cita_past"] = ((r["called"] - max(r["cita"], r["issued"])).total_seconds() / 60
                          if r["cita"] is not None and r["called"] else None)
        for key in ("called", "issued", "cita"):
            r[key] = clock.local(r[key], office.timezone).strftime("%H:%M:%S") if r[key] else None
    return DayResult(plan.day.isoformat(), list(records.values()), len(plan.visits), statuses,
                     clock.local(last_end, office.timezone).strftime("%H:%M") if last_end else None,
                     time.perf_counter() - began)


async def enter_pause_plan(sim: sim_common.DemoOffice, world: World, plan: DayPlan) -> None:
    """The day's pauses as drawn, each to the nearest minute, entered as its plan an hour
    before the doors open (every desk's, the absent ones' too: the roster is made before
    anyone knows who will not come)."""
    clock.freeze(sim_common.la_paz_at(plan.day, 0, _minutes_of(world.doors) - 60))
    pauses = []
    for d in plan.desks:
        for k, (at, minutes) in enumerate(d.pauses):
            local = clock.local(at + timedelta(seconds=30), sim.office.timezone)
            pauses.append(pause_plan.Pause(d.name, local.time().replace(second=0, microsecond=0),
                                           max(1, round(minutes)), "refrigerio" if k == 0 else "almuerzo"))
    await pause_plan.replace_plan(sim.office, plan.day, pauses, sim.actor)


async def book_citas(office, plan: DayPlan, seed: int) -> dict[int, int]:
    """Every cita of the day booked days before, as the portal does (one row per visit
    with a cita, the late ones too: they come and are sent to a walk-in ticket; their
    booking stays booked, as it would until the no-show sweep): visit -> appointment id.
    The estimate sees the booked ones not checked in yet."""
    slots: dict[tuple[int, datetime], Slot] = {}
    out = {}
    for v in plan.visits:
        if v.cita is None:
            continue
        service = await Service.get(code=v.tramite)
        key = (service.id, v.cita)
        if key not in slots:
            slots[key], _ = await Slot.get_or_create(office_id=office.id, service_id=service.id, start=v.cita, defaults={
                "end": v.cita + timedelta(minutes=15), "day": plan.day, "capacity": 100})
        number = f"{seed}{plan.day:%m%d}{v.n:05d}"
        appointment = await Appointment.create(
            public_id=f"w{number}", code=f"W{number}"[-12:], office_id=office.id, service_id=service.id,
            slot_id=slots[key].id, start=v.cita, end=slots[key].end, document_number=number,
            document_key=f"ci:{number}", name="Cita del mundo", party_size=v.party,
            created_at=v.cita - timedelta(days=3))
        out[v.n] = appointment.id
    return out


async def run_world(world: World, seed: int, load: float, *, minutes: float | None, directory: Path,
                    quiet: bool = True, twins: int = 0) -> dict:
    """history_days earlier days, then the measured one, on a fresh database: the
    measured day's records and accounting. With `twins`, every record also gets the waits
    of that many replays of the measured day that branch from it at its quarter hour of
    issue (play_twins): `twin_waits`, the floor's input (clairvoyant)."""
    eta_service.clear_cache()
    tr = traits(world, seed)
    try:
        async with sim_common.demo_office(directory) as sim:
            config = dataclasses.replace(QueueConfig.from_settings(sim.settings), predict_waits=True)
            for i, day in enumerate(history_dates(DAY, world.history_days), start=1):
                past = await play_day(sim, world, plan_day(world, seed, day, i, load, minutes), tr, config, seed=seed)
                if not quiet:
                    print(f"  semilla {seed} carga {load}: {past.day} ({past.visits} visitas, {past.seconds:.0f} s)",
                          file=sys.stderr)
            plan = plan_day(world, seed, DAY, 0, load, minutes)
            day = await play_day(sim, world, plan, tr, config, seed=seed)
            samples = await error_samples(sim.office)
    finally:
        clock.reset()
    if not quiet:
        print(f"  semilla {seed} carga {load}: día medido {day.visits} visitas, {day.seconds:.0f} s", file=sys.stderr)
    for r in day.records:
        r["seed"], r["load"] = seed, load
    add_twin_waits(day.records, await play_twins(world, seed, load, minutes, directory, twins))
    return {"seed": seed, "load": load, "visits": day.visits, "statuses": day.statuses,
            "last_call_ends": day.last_call_ends, "records": day.records, "seconds": day.seconds,
            "error_samples": samples}


async def error_samples(office) -> list[list]:
    """Every day's walk-in promises against their waits, as the engine's ranges learn
    them (eta_inputs.wait_errors): [day, lane, issued (local HH:MM:SS), promised, wait,
    service code]. With them a --dump can refit the correction offline."""
    rows = await Ticket.filter(office_id=office.id, hop=0, called_at__isnull=False,
                               promised_wait__isnull=False).values("day", "lane", "issued_at", "called_at",
                                                                    "promised_wait", "service__code")
    return [[r["day"].isoformat(), getattr(r["lane"], "value", r["lane"]), clock.local(r["issued_at"], office.timezone).strftime("%H:%M:%S"),
             r["promised_wait"], round((r["called_at"] - r["issued_at"]).total_seconds() / 60, 3), r["service__code"]]
            for r in rows]


# The floor's replays leave the day every FLOOR_WINDOW minutes: a ticket's twins share
# its day up to at most that long before its issue (what the engine could see then).
FLOOR_WINDOW = timedelta(minutes=15)


async def play_twins(world: World, seed: int, load: float, minutes: float | None, directory: Path,
                     twins: int, unknown: bool = False) -> list[dict[int, float | None]]:
    """Per twin, each visit's wait in a replay of the measured day that keeps everything
    (arrivals, desks, breaks, walks, no-shows, and the desk minutes of every call started
    before the visit's window of FLOOR_WINDOW) and draws anew the minutes of the calls
    that start later (redraw, Branch); with `unknown`, also all else nobody knows at the
    window's start (unknown_after). Each replay is on a fresh database, with no
    earlier days and no estimates: the calls depend on neither (checked in the tests)."""
    tr = traits(world, seed)
    plan = plan_day(world, seed, DAY, 0, load, minutes)
    opening = sim_common.la_paz_at(plan.day, 0, _minutes_of(world.opening))  # no call starts before
    last_issue = max((v.issue for v in plan.visits), default=opening)
    out: list[dict[int, float | None]] = [{} for _ in range(twins)]
    since, window = opening, 0
    with no_wait_figures():
        while since <= last_issue:
            until = since + FLOOR_WINDOW
            watched = {v.n for v in plan.visits if v.issue < until and (window == 0 or v.issue >= since)}
            for twin in range(twins):
                eta_service.clear_cache()
                if unknown:
                    replayed, later = unknown_after(world, plan, seed, load, since, until, 1000 * window + twin)
                else:
                    replayed, later = plan, redraw(world, plan, seed, 1000 * window + twin)
                try:
                    async with sim_common.demo_office(directory / f"floor-{window}-{twin}") as sim:
                        config = dataclasses.replace(QueueConfig.from_settings(sim.settings), predict_waits=False)
                        played = await play_day(sim, world, replayed, tr, config, seed=seed, board=False,
                                                branch=Branch(later, since, until))
                finally:
                    clock.reset()
                out[twin].update((r["n"], r["wait"]) for r in played.records if r["n"] in watched)
            since, window = until, window + 1
    return out


@contextlib.contextmanager
def no_wait_figures():
    """Replays show nobody a wait: a ticket's view gets no figure (views.fill_wait would
    compute the office's estimate for it, most of a replay's time). The calls depend on
    no figure (tests/service/test_world_day.py: a replay is the day again)."""
    saved = views.fill_wait

    async def none(view: dict, *_args) -> dict:
        return view

    views.fill_wait = none
    try:
        yield
    finally:
        views.fill_wait = saved


def add_twin_waits(records: list[dict], twins: list[dict[int, float | None]], key: str = "twin_waits") -> None:
    for r in records:
        r[key] = [waits.get(r["n"]) for waits in twins]


def _twins_job(job: tuple) -> list[dict[int, float | None]]:
    world, seed, load, minutes, twins, unknown = job
    with tempfile.TemporaryDirectory(prefix="turnero-twins-") as tmp:
        return asyncio.run(play_twins(world, seed, load, minutes, Path(tmp), twins, unknown))


def _run_job(job: tuple) -> dict:
    world, seed, load, minutes, quiet, twins = job
    logging.basicConfig(level=logging.WARNING)
    shm = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory(prefix="turnero-world-", dir=shm) as tmp:
        return asyncio.run(run_world(world, seed, load, minutes=minutes, directory=Path(tmp), quiet=quiet,
                                     twins=twins))


# ---------------------------------------------------------------- figures


# How much of the error is the day's own desk hours: minute by minute, the desk capacity
# the plan gave (open, not on a break or at lunch, weighted by the operator's pace)
# against the mean of the earlier days the engine learnt from. A ticket's wait is
# converted into the wait it would have had with the earlier days' usual capacity (the
# same desk work done, at the usual rate); the estimate measured against that wait shows
# what is left once the day's break timing, late and absent desks are taken out — things
# nobody knows when the ticket is issued (breaks start at random in a 105-minute window).
CAPACITY_SPAN = 12 * 60  # minutes from an hour before opening: beyond any day's last call


def desk_capacity(world: World, plan: DayPlan, tr: Traits) -> list[float]:
    """Desks working at each minute from an hour before opening, in pace-1.0 desks."""
    start = sim_common.la_paz_at(plan.day, 0, _minutes_of(world.opening) - 60)
    capacity = [0.0] * CAPACITY_SPAN
    for desk in plan.desks:
        if desk.opens is None:
            continue
        rate = 1.0 / tr.speed[desk.name]
        opens = math.ceil((desk.opens - start).total_seconds() / 60)
        away = {m for at, length in desk.pauses
                for m in range(round((at - start).total_seconds() / 60),
                               round((at - start).total_seconds() / 60 + length))}
        for m in range(max(0, opens), CAPACITY_SPAN):
            if m not in away:
                capacity[m] += rate
    return capacity


def usual_capacity(world: World, seed: int, load: float, minutes: float | None) -> tuple[list[float], list[float]]:
    """(the measured day's capacity, the mean over the earlier days) per minute."""
    tr = traits(world, seed)
    earlier = [desk_capacity(world, plan_day(world, seed, day, i, load, minutes), tr)
               for i, day in enumerate(history_dates(DAY, world.history_days), start=1)]
    usual = [statistics.fmean(column) for column in zip(*earlier)] if earlier else []
    return desk_capacity(world, plan_day(world, seed, DAY, 0, load, minutes), tr), usual


def wait_with_usual_desks(since_opening: float, wait: float, today: list[float], usual: list[float]) -> float:
    """The wait a ticket would have had if the desks had kept the earlier days' mean
    hours: the desk-minutes that passed while it waited, at the usual rate."""
    start = since_opening + 60
    m, left = start, wait
    work = 0.0
    while left > 1e-9:  # the desk work done while it waited, minute by minute
        step = min(left, math.floor(m) + 1 - m)
        work += today[min(int(m), len(today) - 1)] * step
        m, left = m + step, left - step
    m = start
    while work > 1e-9 and m < len(usual) - 1:
        step = math.floor(m) + 1 - m
        rate = usual[int(m)]
        if rate * step >= work:
            return m + work / rate - start if rate else m - start
        work -= rate * step
        m += step
    return m - start


def add_usual_waits(runs: list[dict], world: World, minutes: float | None) -> None:
    """Give every called ticket `wait_usual`: its wait with the earlier days' desk hours."""
    for run in runs:
        today, usual = usual_capacity(world, run["seed"], run["load"], minutes)
        for r in run["records"]:
            r["wait_usual"] = (None if r["wait"] is None else
                               wait_with_usual_desks(r["since_opening"], r["wait"], today, usual))



def _errors(pairs: list[tuple[float, float]]) -> dict:
    """Absolute error of (said, happened) pairs: n, MAE, p90, and the mean signed error."""
    if not pairs:
        return {"n": 0, "mae": None, "p90": None, "bias": None}
    errors = [abs(said - happened) for said, happened in pairs]
    return {"n": len(pairs), "mae": statistics.fmean(errors), "p90": sim_common.p90(errors),
            "bias": statistics.fmean(said - happened for said, happened in pairs)}


def _spread(values: list[float]) -> dict:
    if not values:
        return {"n": 0, "mean": None, "p90": None, "max": None}
    return {"n": len(values), "mean": statistics.fmean(values), "p90": sim_common.p90(values), "max": max(values)}


def inside(r: dict) -> bool:
    """The wait fell in the range shown (minutes as shown: to the nearest minute)."""
    return r["low"] - 0.5 <= r["wait"] <= r["high"] + 0.5


def section(records: list[dict]) -> dict:
    """The estimate shown and the naive figure against the actual wait, over `records`."""
    called = [r for r in records if r["wait"] is not None]
    ranged = [r for r in called if r["low"] is not None and r["high"] is not None]
    return {
        "tickets": len(records),
        "shown": _errors([(r["shown"], r["wait"]) for r in called if r["shown"] is not None]),
        "naive": _errors([(r["naive"], r["wait"]) for r in called]),
        # against the wait with the earlier days' usual desk hours (see wait_with_usual_desks)
        "shown_usual_desks": _errors([(r["shown"], r["wait_usual"]) for r in called
                                      if r["shown"] is not None and r.get("wait_usual") is not None]),
        "clairvoyant": clairvoyant(called),
        "knowable": clairvoyant(called, "unknown_waits"),
        "no_estimate": sum(1 for r in called if r["shown"] is None),
        "ranged": len(ranged),
        "coverage": statistics.fmean(inside(r) for r in ranged) if ranged else None,
        "range_width_median": statistics.median(r["high"] - r["low"] for r in ranged) if ranged else None,
    }


def clairvoyant(called: list[dict], key: str = "twin_waits") -> dict:
    """The error of an estimate that knows the whole day (every arrival, desk hour, break,
    walk and no-show, and the minutes of the calls started by its window) but not the
    minutes of the calls still to come. The actual wait and its K twins' (play_twins) are
    K + 1 equally likely waits of the same ticket; the best such estimate is their
    expected value, and each wait's distance from their mean, times √((K+1)/K) (the
    mean's own error taken out, exact for normal noise), is one sample of its error: a
    floor no estimate can go under in this world (a little above the exact one: the
    twins also redraw the calls of up to FLOOR_WINDOW before the issue). With `key`
    "unknown_waits" (--unknown): the same for the twins that also draw anew what is not
    known at issue (unknown_after) — the floor of an estimate that knows all that can be."""
    errors = []
    for r in called:
        waits = [r["wait"], *r.get(key, ())]
        if len(waits) < 2 or None in waits:
            continue
        mean, scale = statistics.fmean(waits), math.sqrt(len(waits) / (len(waits) - 1))
        errors += [abs(w - mean) * scale for w in waits]
    if not errors:
        return {"n": 0, "mae": None, "p90": None, "twins": 0}
    return {"n": len(errors), "mae": statistics.fmean(errors), "p90": sim_common.p90(errors),
            "twins": max(len(r.get(key, ())) for r in called)}


def _goal(name: str, value: float | None, ok) -> dict:
    return {"goal": name, "value": value, "pass": None if value is None else bool(ok(value))}


def goals(figures: dict) -> list[dict]:
    """Issue 16's goals against one load's figures (pass None: nothing to judge)."""
    all_day, later, waits = figures["all_day"], figures["from_second_hour"], figures["waits"]
    lo, hi = GOALS["coverage"]
    reg, pref = waits["regular"], waits["preferential"]
    out = [
        _goal(f"all day MAE ≤ {GOALS['all_mae']:g}", all_day["shown"]["mae"], lambda v: v <= GOALS["all_mae"]),
        _goal(f"all day p90 ≤ {GOALS['all_p90']:g}", all_day["shown"]["p90"], lambda v: v <= GOALS["all_p90"]),
        _goal(f"from 2nd hour MAE ≤ {GOALS['later_mae']:g}", later["shown"]["mae"], lambda v: v <= GOALS["later_mae"]),
        _goal(f"from 2nd hour p90 ≤ {GOALS['later_p90']:g}", later["shown"]["p90"], lambda v: v <= GOALS["later_p90"]),
        _goal(f"range coverage {lo:.0%}–{hi:.0%}", all_day["coverage"], lambda v: lo <= v <= hi),
    ]
    for stat in ("mean", "p90"):
        value = None if pref[stat] is None or reg[stat] is None else pref[stat] - reg[stat]
        out.append(_goal(f"preferential {stat} ≤ regular", value, lambda v: v <= 0))
    return out


def summarise(runs: list[dict]) -> dict:
    """The runs of one load, pooled over their seeds."""
    records = [r for run in runs for r in run["records"]]
    later = [r for r in records if r["since_opening"] >= 60]
    first = [r for r in records if r["since_opening"] < 60]
    waits = {lane: _spread([r["wait"] for r in records if r["lane"] == lane and r["wait"] is not None])
             for lane in LANES}
    out = {
        "load": runs[0]["load"],
        "seeds": [run["seed"] for run in runs],
        "all_day": section(records),
        "first_hour": section(first),
        "from_second_hour": section(later),
        "regular_from_second_hour": section([r for r in later if r["lane"] == "regular"]),
        "by_hour": {f"{h:02d}": section([r for r in records if r["hour"] == h])
                    for h in sorted({r["hour"] for r in records})},
        "by_lane": {lane: section([r for r in records if r["lane"] == lane]) for lane in LANES},
        "waits": waits,
        "cita_past_their_time": _spread([r["cita_past"] for r in records if r["cita_past"] is not None]),
        "citas_late_as_walk_ins": sum(1 for r in records if r["cita_walk_in"]),
        "regular_over_limit": sum(1 for r in records if r["lane"] == "regular" and (r["wait"] or 0)
                                  > Settings().regular_max_wait_minutes),
        "accounting": {
            "visits": sum(run["visits"] for run in runs),
            "tickets": len(records),
            "called": sum(1 for r in records if r["wait"] is not None),
            "negative_waits": sum(1 for r in records if r["wait"] is not None and r["wait"] < 0),
            "left_waiting": sum(run["statuses"].get(TicketStatus.WAITING.value, 0) for run in runs),
            "left_at_desk": sum(run["statuses"].get(s.value, 0) for run in runs for s in ACTIVE_AT_DESK),
        },
        "per_seed": [
            {"seed": run["seed"], "visits": run["visits"], "last_call_ends": run["last_call_ends"],
             "seconds": round(run["seconds"], 1),
             "shown_all": section(run["records"])["shown"],
             "shown_later": section([r for r in run["records"] if r["since_opening"] >= 60])["shown"]}
            for run in runs
        ],
    }
    out["goals"] = goals(out)
    return out


def _git(*args: str) -> str:
    try:
        import subprocess

        return subprocess.run(["git", "-C", REPO, *args], capture_output=True, text=True, timeout=10).stdout
    except Exception:  # noqa: BLE001 — only a label
        return ""


def engine_version() -> dict:
    """The commit measured and the engine's files that differ from it (read when the
    run starts: the processes run the code as it was then)."""
    status = _git("status", "--porcelain", "--", "turnero").splitlines()
    return {"commit": _git("log", "-1", "--oneline").strip() or None,
            "uncommitted": [line.split(maxsplit=1)[1] for line in status if line.strip()]}


def report(runs: list[dict], world: World, minutes: float | None, version: dict | None = None) -> dict:
    loads = sorted({run["load"] for run in runs})
    version = version or engine_version()
    add_usual_waits(runs, world, minutes)
    return {
        "commit": version["commit"],
        "uncommitted": version["uncommitted"],
        "world": dataclasses.asdict(world),
        "day": DAY.isoformat(),
        "minutes": minutes,
        "loads": [summarise([run for run in runs if run["load"] == load]) for load in loads],
    }


# ---------------------------------------------------------------- Markdown


def _pair(e: dict) -> str:
    return "—" if e["mae"] is None else f"{e['mae']:.1f} / {e['p90']:.1f}"


def _both(s: dict) -> str:
    return f"{_pair(s['shown'])} · {_pair(s['naive'])}"


def _cov(s: dict) -> str:
    return "no range" if s["coverage"] is None else f"{100 * s['coverage']:.0f} % (width {s['range_width_median']:.0f})"


def _wait(w: dict) -> str:
    return "—" if w["mean"] is None else f"{w['mean']:.1f} / {w['p90']:.1f}"


def _verdict(g: dict) -> str:
    if g["pass"] is None:
        return "n/a"
    value = f"{100 * g['value']:.0f} %" if "coverage" in g["goal"] else f"{g['value']:+.1f}" if "≤ regular" in g[
        "goal"] else f"{g['value']:.1f}"
    return f"{'PASS' if g['pass'] else 'FAIL'} {value}"


def markdown(rep: dict) -> str:
    loads = rep["loads"]
    seeds = len(loads[0]["seeds"]) if loads else 0
    world = rep["world"]
    roster = ""
    if world.get("pause_roster"):
        roster = ", each day's pauses entered as its plan" + (" and kept loosely" if any(world["roster_slip"]) else "")
    lines = [
        f"World day (`benchmarks/world_day.py`): commit `{(rep['commit'] or '?')[:60]}`, {seeds} seed(s) per load, "
        + (f"{rep['minutes']:g}-minute days" if rep["minutes"] else "whole days")
        + f", {rep['world']['desks']} desks, {rep['world']['history_days']} earlier days played first"
        + roster
        + (f" (engine files changed since that commit: {', '.join(rep['uncommitted'])})" if rep.get("uncommitted")
           else "") + ".",
        "",
        "Estimate shown at issue against the wait that happened (issue → first call), minutes, MAE / p90;"
        " *naive* = people ahead in the line and lane + 1, × the line's median ÷ desks open:",
        "",
        "| load | tickets | shown: all day | first hour | from 2nd hour | naive: all day | first hour | from 2nd hour"
        " | range coverage (median width) | no figure |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for f in loads:
        a, h1, h2 = f["all_day"], f["first_hour"], f["from_second_hour"]
        lines.append(
            f"| {f['load']:g} | {a['tickets']} | {_pair(a['shown'])} | {_pair(h1['shown'])} | {_pair(h2['shown'])}"
            f" | {_pair(a['naive'])} | {_pair(h1['naive'])} | {_pair(h2['naive'])} | {_cov(a)} | {a['no_estimate']} |")
    lines += ["", "The same estimates against the wait each ticket would have had with the earlier days' usual"
              " desk hours (the day's own break timing, late and absent desks taken out: nobody knows them at"
              " issue), MAE / p90 — what is left is the estimate's own error and the desks' minutes:", "",
              "| load | all day: actual · usual hours | first hour | from 2nd hour |", "|---|---|---|---|"]
    for f in loads:
        cells = [f"{_pair(f[part]['shown'])} · {_pair(f[part]['shown_usual_desks'])}"
                 for part in ("all_day", "first_hour", "from_second_hour")]
        lines.append(f"| {f['load']:g} | " + " | ".join(cells) + " |")
    floors = (("clairvoyant", "The floor: an estimate that knew the whole day but the minutes of the calls still"
                              " to come"),
              ("knowable", "The floor of what can be known at issue: an estimate that knew the world's own"
                           " draws and the day so far, but not the walk-ins to come, the pauses not begun, the"
                           " desks not open yet nor the minutes of the calls to come"))
    for name, what in floors:
        if not any(f["all_day"][name]["n"] for f in loads):
            continue
        k = next(f["all_day"][name]["twins"] for f in loads if f["all_day"][name]["n"])
        lines += ["", f"{what} (the mean wait over the day and {k} replay(s) branching from it at each quarter"
                  " hour of issue with those drawn anew; see clairvoyant()), MAE / p90 — shown · floor:", "",
                  "| load | all day | first hour | from 2nd hour | regular, from 2nd hour |", "|---|---|---|---|---|"]
        for f in loads:
            cells = [f"{_pair(f[part]['shown'])} · {_pair(f[part][name])}"
                     for part in ("all_day", "first_hour", "from_second_hour", "regular_from_second_hour")]
            lines.append(f"| {f['load']:g} | " + " | ".join(cells) + " |")
    hours = sorted({h for f in loads for h in f["by_hour"]})
    lines += ["", "By hour of issue (shown · naive, MAE / p90):", "",
              "| hour | " + " | ".join(f"load {f['load']:g}" for f in loads) + " |",
              "|---|" + "---|" * len(loads)]
    for h in hours:
        cells = [f"{_both(f['by_hour'][h])} (n {f['by_hour'][h]['tickets']})" if h in f["by_hour"] else "—"
                 for f in loads]
        lines.append(f"| {h}:00 | " + " | ".join(cells) + " |")
    lines += ["", "By lane (shown · naive, MAE / p90; range coverage):", "",
              "| load | regular | preferential | cita |", "|---|---|---|---|"]
    for f in loads:
        cells = [f"{_both(f['by_lane'][lane])}; {_cov(f['by_lane'][lane])}" for lane in LANES]
        lines.append(f"| {f['load']:g} | " + " | ".join(cells) + " |")
    lines += ["", "Waits by lane (issue → first call, minutes, mean / p90; citas: first call past their time):", "",
              "| load | regular | preferential | cita past its time"
              f" | regular > {Settings().regular_max_wait_minutes} min | citas too late (walk-in)"
              " | last call ends (per seed) |",
              "|---|---|---|---|---|---|---|"]
    for f in loads:
        ends = ", ".join(s["last_call_ends"] or "—" for s in f["per_seed"])
        lines.append(f"| {f['load']:g} | {_wait(f['waits']['regular'])} | {_wait(f['waits']['preferential'])}"
                     f" | {_wait(f['cita_past_their_time'])} | {f['regular_over_limit']}"
                     f" | {f['citas_late_as_walk_ins']} | {ends} |")
    names = [g["goal"] for g in loads[0]["goals"]] if loads else []
    lines += ["", "Goals of issue 16 (preferential: difference to regular, ≤ 0 passes):", "",
              "| load | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for f in loads:
        lines.append(f"| {f['load']:g} | " + " | ".join(_verdict(g) for g in f["goals"]) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="2 seeds, load 0.95, 180-minute days (a few minutes)")
    parser.add_argument("--seeds", type=int, default=5, help="seeds per load (1, 2, ...)")
    parser.add_argument("--load", type=float, action="append", help="load (repeatable; default: the world's loads)")
    parser.add_argument("--minutes", type=float, help="days end this long after opening (default: whole days)")
    parser.add_argument("--history", type=int, help=f"earlier days played first (default {WORLD.history_days})")
    parser.add_argument("--desks", type=int, help=f"desks staffed (default {WORLD.desks}; at least 6)")
    parser.add_argument("--twins", type=int, default=0,
                        help="replays of each measured day per quarter hour of issue, the minutes of the calls "
                             "after it drawn anew: the floor, the error even a clairvoyant estimate would make")
    parser.add_argument("--unknown", type=int, default=0,
                        help="with --from: replays of each measured day per quarter hour of issue with all that is"
                             " not known then drawn anew (arrivals to come, pauses not begun, desks not open, the"
                             " calls' minutes): the floor of an estimate that knows all that can be known")
    parser.add_argument("--roster", action="store_true",
                        help="the supervisor enters each day's drawn breaks and lunches as its plan of pauses")
    parser.add_argument("--roster-slip", action="store_true",
                        help="--roster, kept loosely: each pause begins -5 to +10 min off the plan and lasts"
                             " 0.9-1.3 times its planned length")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="processes")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--dump", type=Path, help="also write every run's tickets to this JSON file")
    parser.add_argument("--from", dest="source", type=Path,
                        help="summarise a --dump file instead of running (with --twins: add the floor to it)")
    args = parser.parse_args(argv)
    if args.unknown and not args.source:
        parser.error("--unknown works on a saved run: give it --from (a --dump file)")
    logging.basicConfig(level=logging.WARNING)
    world = WORLD
    if args.desks:
        world = dataclasses.replace(world, desks=max(6, min(24, args.desks)))
    if args.history is not None:
        world = dataclasses.replace(world, history_days=args.history)
    if args.roster or args.roster_slip:
        world = dataclasses.replace(world, pause_roster=True)
    if args.roster_slip:
        world = dataclasses.replace(world, roster_slip=(-5.0, 10.0), roster_stretch=(0.9, 1.3))
    seeds, loads, minutes = args.seeds, tuple(args.load or world.loads), args.minutes
    if args.quick:
        seeds, loads, minutes = min(seeds, 2), tuple(args.load or (0.95,)), minutes or 180
    began = time.perf_counter()
    version = engine_version()
    if args.source:
        saved = json.loads(args.source.read_text())
        runs, minutes, version = saved["runs"], saved["minutes"], saved.get("version", version)
        world = World(**{k: tuple(tuple(x) if isinstance(x, list) else x for x in v) if isinstance(v, list) else v
                         for k, v in saved["world"].items()})
        for k, unknown, key in ((args.twins, False, "twin_waits"), (args.unknown, True, "unknown_waits")):
            if k:  # a floor for a saved run: the twins need no earlier days
                with ProcessPoolExecutor(max_workers=args.jobs) as pool:
                    played = list(pool.map(_twins_job, [(world, run["seed"], run["load"], minutes, k, unknown)
                                                        for run in runs]))
                for run, twins in zip(runs, played):
                    add_twin_waits(run["records"], twins, key)
    else:
        jobs = [(world, seed, load, minutes, args.json, args.twins) for load in loads
                for seed in range(1, seeds + 1)]
        print(f"{len(jobs)} días medidos ({world.history_days} anteriores cada uno), {args.jobs} procesos…",
              file=sys.stderr)
        if args.jobs > 1:
            with ProcessPoolExecutor(max_workers=args.jobs) as pool:
                runs = list(pool.map(_run_job, jobs))
        else:
            runs = [_run_job(job) for job in jobs]
    if args.dump:
        args.dump.write_text(json.dumps({"world": dataclasses.asdict(world), "minutes": minutes, "runs": runs,
                                         "version": version}, ensure_ascii=False))
    rep = report(runs, world, minutes, version)
    if args.json:
        print(json.dumps(rep, ensure_ascii=False, indent=1))
    else:
        print(markdown(rep))
        print(f"\n({time.perf_counter() - began:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
