"""Which desks an office is expected to have calling, and from when.

The wait replay (eta.py) needs to know not only the desks open now but the ones about
to open: at 07:45 every desk is closed, and the crowd at the door is served from 08:00
by the desks that usually open then — not by "one desk per line, now". This module
answers it from the office's opening hours and the staffing of recent days at that
hour (the DeskEvent audit trail: open / paused / closed rows with their time).

The rules (`expected_start`, a pure function):

* **Which part of the day.** Today's opening hours are one or more spans ("08:00–12:00,
  14:00–18:00"). The span that matters is the one under way, or the next one today;
  its *window* runs from the end of the span before it (midnight for the first) to its
  own end, so a desk that usually opens at 07:50 for an 08:00 opening counts. Past the
  last closing time nothing is expected. A day with no hours at all (a special opening)
  is one window, the whole day, with no opening time.
* **Comparable days.** The last HISTORY_DAYS days of the same kind as today (weekdays
  with weekdays, Saturday and Sunday with weekends) on which at least one desk of the
  office opened within that window: days the office worked that part of the day.
  Holidays and closed days drop out by themselves.
* **A closed desk with history.** Its first opening within the window on each
  comparable day (a desk left open from before counts as opened at the span's start).
  If it opened on at least half of the comparable days, it is expected today at the
  median of those local times. If that time has passed and the desk is still closed,
  it is late: expected a little after now (the spread of its usual times — upper
  quartile minus median — and at least MIN_LATE); once it is more than GIVE_UP (or
  twice its spread) past its usual time it is no longer expected. A desk that opened on
  fewer than half of those days is not expected.
* **No comparable history** (a new office, the demo, the first Saturday): every desk
  that serves something is expected at the span's opening time if now is before it;
  once the office is open, a closed desk is not expected (never "now": that would
  promise a desk nobody is at).
* **A closed desk that already opened today in this window** closed on purpose (end of
  a shift): not expected again in this window.
* **A paused desk** is expected back at the start of its pause plus its usual pause
  (the median of its paused → open gaps in history, or the office's when it has fewer
  than MIN_PAUSES of its own, DEFAULT_PAUSE without any); a pause that has run past
  that is expected to end MIN_LATE from now, until it is GIVE_UP past it. A paused desk
  whose pause is not on record is not expected.
* **Always:** open desks and desks serving nothing are not part of the answer; no time
  is before now, before the opening of the span for a paused desk, nor at or after the
  span's end (then the desk is not expected: None).

And the pauses a desk is expected to take later today (`expected_pauses`, pure), from
its *habits*: its pauses of the comparable days that start at about the same time (a
lunch rota: 12:40 give or take 5 minutes) — the starts of its pauses within the window,
sorted, cut where two are more than HABIT_SPREAD apart; a group counts when it comes on
at least MIN_SHARE of the days the desk worked and its quartiles lie within
HABIT_SPREAD. Today a habit is expected at its median start (once that has passed, now,
until it is HABIT_SPREAD past the upper quartile) for its median length times the share
of the days it came — the expected minutes away — unless the desk already paused near
that time today (HABIT_SPREAD either side of the quartiles). The replay (eta.py) makes
the desk take it once free, as operators do. A desk with pauses in today's plan
(pause_plan.py) has those expected instead, in full at their times (late: from now, until
HABIT_SPREAD past), and none of its habits. Breaks taken at any time of a long morning
make no habit: played in spread over the morning they made the estimate worse in
`benchmarks/world_day.py` (the correction per quarter hour, eta_range.py, already
carries their usual effect, and which desks go when is not knowable).

`desk_plan(office, now, desks)` feeds the replay from the database: two indexed
statements (desk_event by desk and time, through the office's desks), the history of
past days cached per office and day for HISTORY_TTL, today's rows read fresh.
"""

from __future__ import annotations

import statistics
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from turnero.core import clock
from turnero.core.cache import Cache
from turnero.core.db import db_datetime, placeholders
from turnero.queue import eta
from turnero.queue.models import Ticket

HISTORY_DAYS = 14
# A desk is expected when it opened on at least this share of the comparable days.
MIN_SHARE = 0.5
DEFAULT_PAUSE = timedelta(minutes=15)
# A desk's own pause history counts from this many pauses; fewer: the office's.
MIN_PAUSES = 3
# A paused → open gap longer than this was not a pause (a desk reopened the next day).
MAX_PAUSE = timedelta(hours=3)
MIN_LATE = timedelta(minutes=5)
GIVE_UP = timedelta(minutes=60)
# A desk's pauses that start within this of one another on most days are a habit.
HABIT_SPREAD = 20.0  # minutes
# An expected pause shorter than this (a habit unlikely today) is left out.
SHORTEST_EXPECTED_PAUSE = timedelta(minutes=1)
HISTORY_TTL = timedelta(minutes=5)

OPEN, PAUSED, CLOSED = "open", "paused", "closed"
KINDS = (OPEN, PAUSED, CLOSED)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY = timedelta(days=1)


@dataclass(frozen=True)
class DeskNow:
    """A desk as it is now: its status (open / paused / closed) and what it serves."""

    desk_id: int
    status: str
    weights: Mapping[int, int]  # service id -> tier (1 = primary)


@dataclass(frozen=True)
class StatusChange:
    """One DeskEvent row: the desk went `kind` (open / paused / closed) at `at` (aware)."""

    desk_id: int
    kind: str
    at: datetime


def spans_for(opening_hours: Mapping[str, Sequence[Sequence[str]]] | None, day: date) -> list[tuple[time, time]]:
    """The opening spans of `day` from an office's `opening_hours` ({"mon": [["08:00",
    "16:00"]], …}), sorted; [] when the day has none."""
    spans = (opening_hours or {}).get(WEEKDAYS[day.weekday()]) or []
    return sorted((time.fromisoformat(start), time.fromisoformat(end)) for start, end in spans)


def _weekend(day: date) -> bool:
    return day.weekday() >= 5


def same_kind(day: date, other: date) -> bool:
    """Comparable days: weekdays with weekdays, Saturday and Sunday with weekends."""
    return _weekend(day) == _weekend(other)


@dataclass(frozen=True)
class _Window:
    """The part of a day that matters: from `start` (previous span's end or midnight)
    to `end` (the span's end), with the span's opening time `opens` (None: no hours)."""

    start: timedelta
    opens: timedelta | None
    end: timedelta

    def on(self, day: date, zone: ZoneInfo) -> tuple[datetime, datetime | None, datetime]:
        opens = _wall(day, self.opens, zone) if self.opens is not None else None
        return _wall(day, self.start, zone), opens, _wall(day, self.end, zone)


def _offset(t: time) -> timedelta:
    return timedelta(hours=t.hour, minutes=t.minute, seconds=t.second)


def _wall(day: date, offset: timedelta, zone: ZoneInfo) -> datetime:
    """The local wall-clock time `offset` after the midnight of `day`, aware."""
    return (datetime.combine(day, time(0)) + offset).replace(tzinfo=zone)


def _minutes_into(day: date, at: datetime, zone: ZoneInfo) -> float:
    """Wall-clock minutes from the midnight of `day` to `at`."""
    return (at.astimezone(zone).replace(tzinfo=None) - datetime.combine(day, time(0))).total_seconds() / 60


def _window(spans: Sequence[tuple[time, time]], local_now: datetime) -> _Window | None:
    """The span under way or next today; None once the last one has closed."""
    if not spans:
        return _Window(timedelta(0), None, _DAY)
    time_of_day = _offset(local_now.time())
    previous_end = timedelta(0)
    for start, end in spans:
        if _offset(end) > time_of_day:
            return _Window(previous_end, _offset(start), _offset(end))
        previous_end = _offset(end)
    return None


def _quartiles(values: list[float]) -> tuple[float, float]:
    """(median, upper quartile) of minutes."""
    median = statistics.median(values)
    upper = statistics.quantiles(values, n=4, method="inclusive")[2] if len(values) > 1 else median
    return median, max(median, upper)


@dataclass(frozen=True)
class Habit:
    """A pause a desk takes at about the same time on most days: its starts' quartiles
    `earliest` and `latest` and median `start` (minutes after local midnight), its median
    length `minutes`, and the `share` of the days the desk worked on which it came."""

    start: float
    earliest: float
    latest: float
    minutes: float
    share: float = 1.0


def _habit(group: Sequence[tuple[date, float, float]], days_worked: int) -> Habit:
    starts = [p[1] for p in group]
    low, _median, high = statistics.quantiles(starts, n=4, method="inclusive") if len(starts) > 1 else starts * 3
    share = min(1.0, len({p[0] for p in group}) / max(1, days_worked))
    return Habit(statistics.median(starts), low, high, statistics.median(p[2] for p in group), share)


def habits(pauses: Iterable[tuple[date, float, float]], days_worked: int) -> tuple[Habit, ...]:
    """A desk's habits from its pauses of the comparable days, (day, start, minutes)
    with starts in minutes after local midnight (see the module doc), by start."""
    found: list[Habit] = []
    group: list[tuple[date, float, float]] = []
    for pause in [*sorted(pauses, key=lambda p: p[1]), None]:
        if group and (pause is None or pause[1] - group[-1][1] > HABIT_SPREAD):
            habit = _habit(group, days_worked)
            if habit.share >= MIN_SHARE and habit.latest - habit.earliest <= HABIT_SPREAD:
                found.append(habit)
            group = []
        if pause is not None:
            group.append(pause)
    return tuple(found)


@dataclass(frozen=True)
class Usual:
    """What the past comparable days say about one window of the day: on how many the
    office worked it, and per desk its first openings (minutes after local midnight,
    one per day it opened), its pause lengths (minutes) and its habits."""

    office_days: int
    first_opens: Mapping[int, tuple[float, ...]]
    pauses: Mapping[int, tuple[float, ...]]
    habits: Mapping[int, tuple[Habit, ...]] = field(default_factory=dict)

    def pause(self, desk_id: int) -> timedelta:
        own = self.pauses.get(desk_id, ())
        gaps = own if len(own) >= MIN_PAUSES else [g for gaps in self.pauses.values() for g in gaps]
        return timedelta(minutes=statistics.median(gaps)) if gaps else DEFAULT_PAUSE

    def opening(self, desk_id: int) -> tuple[float, float] | None:
        """(median, upper quartile) of the desk's first openings, if it opened on at
        least MIN_SHARE of the office's days."""
        times = self.first_opens.get(desk_id, ())
        if not times or len(times) < MIN_SHARE * self.office_days:
            return None
        return _quartiles(list(times))


def _by_desk(changes: Iterable[StatusChange], until: datetime) -> dict[int, list[StatusChange]]:
    by_desk: dict[int, list[StatusChange]] = {}
    for c in sorted((c for c in changes if c.kind in KINDS and c.at <= until), key=lambda c: c.at):
        by_desk.setdefault(c.desk_id, []).append(c)
    return by_desk


def usual_staffing(
    changes: Iterable[StatusChange],
    *,
    spans: Sequence[tuple[time, time]],
    now: datetime,
    tz: str,
    history_days: int = HISTORY_DAYS,
) -> Usual:
    """What the days before today (changes before today's local midnight) say about the
    window of today under way at `now` (see the module doc)."""
    zone = ZoneInfo(tz)
    local_now = now.astimezone(zone)
    today = local_now.date()
    window = _window(spans, local_now) or _Window(timedelta(0), None, _DAY)
    days = [today - timedelta(days=n) for n in range(1, history_days + 1)]
    bounds = {d: window.on(d, zone) for d in days if same_kind(d, today)}
    first_opens: dict[int, tuple[float, ...]] = {}
    pauses: dict[int, tuple[float, ...]] = {}
    desk_habits: dict[int, tuple[Habit, ...]] = {}
    worked: set[date] = set()
    midnight = clock.day_start(today, zone)
    for desk_id, rows in _by_desk(changes, midnight - timedelta(microseconds=1)).items():
        ats = [c.at for c in rows]
        opened: dict[date, float] = {}
        for d, (start, opens, end) in bounds.items():
            i, k = bisect_left(ats, start), bisect_right(ats, start)
            if k and rows[k - 1].kind == OPEN and rows[k - 1].at < start:
                if opens is not None:  # left open from before: as if opened at the opening
                    opened[d] = _minutes_into(d, opens, zone)
                continue
            at = next((c.at for c in rows[i:bisect_left(ats, end)] if c.kind == OPEN), None)
            if at is not None:
                opened[d] = _minutes_into(d, at, zone)
        worked |= set(opened)
        if opened:
            first_opens[desk_id] = tuple(opened.values())
        taken = [(a.at, (b.at - a.at).total_seconds() / 60) for a, b in zip(rows, rows[1:])
                 if a.kind == PAUSED and b.kind == OPEN and b.at - a.at <= MAX_PAUSE]
        if taken:
            pauses[desk_id] = tuple(minutes for _at, minutes in taken)
        in_window = [(d, _minutes_into(d, at, zone), minutes) for at, minutes in taken
                     for d in [at.astimezone(zone).date()] if d in bounds and bounds[d][0] <= at < bounds[d][2]]
        if found := habits(in_window, len(opened)):
            desk_habits[desk_id] = found
    return Usual(len(worked), first_opens, pauses, desk_habits)


def expected_start(
    desks: Iterable[DeskNow],
    changes: Iterable[StatusChange],
    *,
    spans: Sequence[tuple[time, time]],
    now: datetime,
    tz: str,
    history_days: int = HISTORY_DAYS,
    usual: Usual | None = None,
    planned: Mapping[int, Sequence[tuple[datetime, float]]] | None = None,
) -> dict[int, datetime | None]:
    """For each desk that is not open now and serves something: when it is expected to
    start calling (aware, in `tz`, never before `now`), or None: not expected in the
    part of today under way (see the module doc for the rules).

    `changes`: the desks' status changes from at least `history_days` + 1 days before
    today up to now (later ones are ignored) — or only today's, with `usual` learnt
    from the earlier ones by `usual_staffing` for the same window; `spans`: today's
    opening hours, local; `planned`: today's planned pauses by desk, (start, minutes)."""
    zone = ZoneInfo(tz)
    local_now = now.astimezone(zone)
    today = local_now.date()
    candidates = [d for d in desks if d.status != OPEN and d.weights]
    out: dict[int, datetime | None] = {d.desk_id: None for d in candidates}
    window = _window(spans, local_now)
    if window is None or not candidates:
        return out
    changes = list(changes)
    if usual is None:
        usual = usual_staffing(changes, spans=spans, now=now, tz=tz, history_days=history_days)
    start_today, opens_today, end_today = window.on(today, zone)
    midnight = clock.day_start(today, zone)
    by_desk = _by_desk((c for c in changes if c.at >= midnight), now)

    for desk in candidates:
        rows = by_desk.get(desk.desk_id, [])
        at: datetime | None = None
        if desk.status == PAUSED:
            if rows and rows[-1].kind == PAUSED:
                paused_at = rows[-1].at
                own = (planned or {}).get(desk.desk_id, ())
                taking = pause_taken([start for start, _minutes in own], paused_at)
                back = paused_at + (timedelta(minutes=own[taking][1]) if taking is not None
                                    else usual.pause(desk.desk_id))
                if back >= now:
                    at = back
                elif now - back <= GIVE_UP:
                    at = now + MIN_LATE
                if at is not None and opens_today is not None:
                    at = max(at, opens_today)
        elif any(c.kind == OPEN and start_today <= c.at for c in rows):
            at = None  # it opened in this window already and closed: end of its shift
        elif not usual.office_days:
            at = opens_today if opens_today is not None and now < opens_today else None
        elif (opening := usual.opening(desk.desk_id)) is not None:
            median, upper = opening
            expected = _wall(today, timedelta(minutes=median), zone)
            spread = timedelta(minutes=upper - median)
            if now <= expected:
                at = expected
            elif now - expected <= max(GIVE_UP, 2 * spread):
                at = now + max(MIN_LATE, spread)
        if at is not None and at >= end_today:
            at = None
        out[desk.desk_id] = max(at, now).astimezone(zone) if at is not None else None
    return out


Pauses = tuple[tuple[datetime, timedelta], ...]


def pause_taken(starts: Sequence[datetime], paused_at: datetime) -> int | None:
    """Which planned pause a pause begun at `paused_at` is taking: the index in `starts`
    of the one due nearest it, within HABIT_SPREAD — or None (a pause the plan does not
    hold). The desk console tells its operator the same (pause_plan.reminder)."""
    gaps = [(abs((start - paused_at).total_seconds()), i) for i, start in enumerate(starts)]
    near = [(gap, i) for gap, i in gaps if gap <= HABIT_SPREAD * 60]
    return min(near)[1] if near else None


def expected_pauses(
    desk_ids: Iterable[int],
    changes: Iterable[StatusChange],
    *,
    spans: Sequence[tuple[time, time]],
    now: datetime,
    tz: str,
    usual: Usual,
    planned: Mapping[int, Sequence[tuple[datetime, float]]] | None = None,
) -> dict[int, Pauses]:
    """The pauses each desk is expected to take in the part of today under way, from
    today's plan and its habits in `usual` (see the module doc): (start, length), starts
    at or after `now` and before the span's end, earliest first; desks without any are
    left out. `changes`: today's status changes (later ones than `now` are ignored);
    `planned`: today's planned pauses by desk, (start, minutes) — each is played like a
    habit kept every day, in full, and a desk with a plan has no other pause expected."""
    zone = ZoneInfo(tz)
    local_now = now.astimezone(zone)
    today = local_now.date()
    window = _window(spans, local_now)
    if window is None:
        return {}
    _start, _opens, end_today = window.on(today, zone)
    midnight = clock.day_start(today, zone)
    by_desk = _by_desk((c for c in changes if c.at >= midnight), now)
    minutes_now = _minutes_into(today, now, zone)
    out: dict[int, Pauses] = {}
    for desk_id in desk_ids:
        paused_at = [_minutes_into(today, c.at, zone) for c in by_desk.get(desk_id, []) if c.kind == PAUSED]
        # A desk with a plan for today keeps to it: its habits are only a guess without
        # one (and breaks scattered over the earlier mornings can leave a false habit
        # that, played beside the planned break, would take the desk away twice).
        roster = [Habit(m, m, m, minutes) for start, minutes in (planned or {}).get(desk_id, ())
                  for m in [_minutes_into(today, start, zone)]]
        expected = []
        for habit in roster or usual.habits.get(desk_id, ()):
            if any(habit.earliest - HABIT_SPREAD <= m <= habit.latest + HABIT_SPREAD for m in paused_at):
                continue  # taken today already (or under way)
            if minutes_now > habit.latest + HABIT_SPREAD:
                continue  # long past its time: skipped today
            start = max(_wall(today, timedelta(minutes=habit.start), zone), now)  # late: from now
            length = timedelta(minutes=habit.share * habit.minutes)
            if start < end_today and length >= SHORTEST_EXPECTED_PAUSE:
                expected.append((start.astimezone(zone), length))
        if expected:
            out[desk_id] = tuple(sorted(expected))
    return out


# ---------------------------------------------------------------- from the database


@dataclass
class _History:
    """An office's past days: read once per HISTORY_TTL, learnt once per window."""

    changes: list[StatusChange]
    usual: dict[_Window, Usual] = field(default_factory=dict)


# Per office and local day, on the estimate's clock (`now`), like eta_inputs' caches.
_history = Cache(HISTORY_TTL.total_seconds())


def clear_cache() -> None:
    _history.forget()


def _connection():
    return Ticket._meta.db


_SELECT = (
    "SELECT e.desk_id, e.kind, e.at FROM desk d JOIN desk_event e ON e.desk_id = d.id"
    " WHERE d.office_id = ? AND e.at >= ? AND e.at < ? AND e.kind IN ('open', 'paused', 'closed')"
    " ORDER BY e.at, e.id"
)


async def _changes(office_id: int, since: datetime, until: datetime) -> list[StatusChange]:
    """The status changes of an office's desks in [since, until): one statement, the
    desk (office_id, name) index then desk_event's (desk_id, at)."""
    # In UTC, as stored: SQLite compares the ISO text, offset and all.
    params = [office_id, since.astimezone(timezone.utc), until.astimezone(timezone.utc)]
    rows = await _connection().execute_query_dict(placeholders(_SELECT), params)
    return [StatusChange(r["desk_id"], r["kind"], db_datetime(r["at"])) for r in rows]


_PLANNED = (
    "SELECT p.desk_id, p.starts_at, p.minutes FROM planned_pause p JOIN desk d ON d.id = p.desk_id"
    " WHERE p.day = ? AND d.office_id = ? ORDER BY p.starts_at"
)


async def _planned(office_id: int, day: date) -> dict[int, list[tuple[datetime, float]]]:
    """The office's planned pauses of `day` (pause_plan.py) by desk id: (start,
    minutes), earliest first — one statement, by the (day, desk) index."""
    rows = await _connection().execute_query_dict(placeholders(_PLANNED), [day, office_id])
    out: dict[int, list[tuple[datetime, float]]] = {}
    for r in rows:
        out.setdefault(r["desk_id"], []).append((db_datetime(r["starts_at"]), float(r["minutes"])))
    return out


async def _past(office_id: int, zone: ZoneInfo, today: date, now: datetime) -> _History:
    """The office's desk changes over the HISTORY_DAYS + 1 days before today, cached."""
    cached = _history.get((office_id, today), now=now.timestamp())
    if cached is not None:
        return cached
    midnight = clock.day_start(today, zone)
    since = clock.day_start(today - timedelta(days=HISTORY_DAYS + 1), zone)
    changes = await _changes(office_id, since, midnight)
    return _history.put((office_id, today), _History(changes), now=now.timestamp())


@dataclass(frozen=True)
class DeskPlan:
    """What the replay needs beyond the desks open now: the desks not open that are
    expected to start calling (with `available_at`, earliest first, and their pauses),
    and the pauses expected of the open ones, by desk id."""

    coming: list[eta.DeskState]
    pauses: dict[int, Pauses]


async def desk_plan(office, now: datetime, desks: Sequence[Mapping]) -> DeskPlan:
    """The desks of `office` not open at `now` that are expected to start calling today,
    as replay desks, and the pauses every desk is expected to take (see the module doc).

    `office`: anything with `id`, `timezone` and `opening_hours` (core.models.Office);
    `desks`: every desk of the office as {"id", "status", "weights": {service id: tier}}
    (the rows eta_service reads; ones serving nothing are skipped).
    Reads desk_event: the past days through a per-office cache (HISTORY_TTL), today's
    rows fresh, and today's planned pauses — three indexed statements at most, two when no desk is
    closed or paused and none has a habit, none after closing time."""
    serving = [DeskNow(d["id"], str(d["status"]), dict(d["weights"])) for d in desks if d["weights"]]
    candidates = [d for d in serving if d.status != OPEN]
    zone = ZoneInfo(office.timezone)
    local_now = now.astimezone(zone)
    today = local_now.date()
    spans = spans_for(office.opening_hours, today)
    window = _window(spans, local_now)
    if window is None or not serving:
        return DeskPlan([], {})  # closed for the day, or no desk serves anything
    history = await _past(office.id, zone, today, now)
    usual = history.usual.get(window)
    if usual is None:
        usual = history.usual[window] = usual_staffing(history.changes, spans=spans, now=now, tz=office.timezone)
    planned = await _planned(office.id, today)
    if not candidates and not planned and not any(d.desk_id in usual.habits for d in serving):
        return DeskPlan([], {})
    today_changes = await _changes(office.id, clock.day_start(today, zone), now + timedelta(microseconds=1))
    starts = expected_start(candidates, today_changes, spans=spans, now=now, tz=office.timezone, usual=usual,
                            planned=planned)
    pauses = expected_pauses([d.desk_id for d in serving], today_changes, spans=spans, now=now,
                             tz=office.timezone, usual=usual, planned=planned)
    weights = {d.desk_id: d.weights for d in candidates}
    expected = sorted((at, desk_id) for desk_id, at in starts.items() if at is not None)
    coming = [eta.DeskState(desk_id, weights[desk_id], available_at=at, pauses=pauses.get(desk_id, ()))
              for at, desk_id in expected]
    return DeskPlan(coming, pauses)
