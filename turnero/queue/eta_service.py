"""Wait estimates for an office: its queue played forward (eta.py), kept, and read
for now at O(log n) per answer.

An estimate (`OfficeEstimate`) is one bounded replay of the office — the first
MAX_PER_LINE tickets of each line as the queue index orders them, the desks open and
the ones expected (staffing.py), the service times and expected arrivals
(eta_inputs.py) — kept as one curve per line: minutes until called by how many stand
ahead. Every answer (a ticket's wait, a new walk-in's, the per-service figures of the
kiosk, the board, the ranking and the balancing page) reads that curve at the place the
lines held in memory (waiting.py) give now, so all surfaces show one figure and no
request replays the office. A stale estimate keeps answering while a new one is
computed in the background (at most one per office at a time, at least MIN_REUSE
apart); only a desk opened, paused, closed or moved by this instance — or no estimate
at all — makes a request compute one, and that replay is bounded.

Entry points (no HTTP): `current_estimate`, `office_estimates`, `wait_for_view`,
`estimates_for_office` (compute now), `estimate_for_ticket`; ranking.py and
desk_balancing.py build on them.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from turnero.core import clock
from turnero.core.db import database_generation, db_datetime, placeholders
from turnero.core.models import Office
from turnero.queue import balancing, eta, eta_inputs, eta_range, lines, policy, staffing, waiting
from turnero.queue.models import ACTIVE_AT_DESK, DeskStatus, Ticket, TicketStatus

log = logging.getLogger("turnero.eta")

# How long an office's estimate answers before a new one is computed in the
# background: after a change of its queue, at least MIN_REUSE and REUSE_FACTOR times
# what computing it took (so estimating never takes more than about a tenth of the
# time); without one, MAX_REUSE (see OfficeEstimate.fresh).
MIN_REUSE = timedelta(seconds=2)
MAX_REUSE = timedelta(seconds=30)
REUSE_FACTOR = 10
_cleared_at = 0.0


def clear_cache() -> None:
    global _cleared_at
    _cleared_at = time.monotonic()
    eta_inputs.clear_cache()
    staffing.clear_cache()
    _estimate_cache.clear()
    _locks.clear()
    waiting.clear()


def _connection():
    return Ticket._meta.db


# ---------------------------------------------------------------- the office's queue now

# The replay reads at most this many tickets from the head of each line: more than its
# desks can call within the horizon. A longer line's tail is extrapolated (LineCurve), so
# the cost of an estimate does not grow with the length of the line.
MAX_PER_LINE = 1000
# A line that no open or expected desk serves is assumed to get one desk this long
# after now (or after today's opening): never "no wait" for a line nobody serves.
UNSTAFFED_DELAY = timedelta(minutes=15)


@dataclass
class _Snapshot:
    waiting: list[eta.WaitingTicket]
    truncated: set[tuple[int, str]]  # lines longer than what was read
    desks: list[eta.DeskState]  # open desks, then the ones expected to open
    desk_rows: list[dict]  # name, status, {service id: weight}


def _next_lane(priority: str) -> str:
    return policy.REGULAR if priority == "regular" else policy.PREFERENTIAL


_TICKET_COLUMNS = "id, lane, priority, service_id, arrived_at, due_at, party_size, flow_service_id, step_index"


def _replay_ticket(r: dict, catalogue: dict[int, eta_inputs.CatalogueService]) -> eta.WaitingTicket:
    flow = catalogue.get(r["flow_service_id"]) if r["flow_service_id"] is not None else None
    next_steps = eta_inputs.step_ids(catalogue, flow.steps[r["step_index"] + 1:]) if flow else ()
    return eta.WaitingTicket(
        r["id"], r["lane"], r["service_id"], db_datetime(r["arrived_at"]), db_datetime(r["due_at"]),
        int(r["party_size"] or 1), next_steps, _next_lane(r["priority"]),
    )


async def _line_heads(office_id: int, line_sizes: dict[tuple[int, str], int]) -> list[dict]:
    """The first MAX_PER_LINE tickets of each line, in its order: one statement, each
    part read from the queue index."""
    parts, params = [], []
    for n, ((service_id, lane), _size) in enumerate(sorted(line_sizes.items())):
        order = "due_at, id" if lane == policy.APPOINTMENT else "arrived_at, id"
        parts.append(
            f"SELECT * FROM (SELECT {_TICKET_COLUMNS} FROM ticket WHERE office_id = ? AND status = ?"
            f" AND lane = ? AND service_id = ? ORDER BY {order} LIMIT {MAX_PER_LINE}) AS l{n}"
        )
        params += [office_id, TicketStatus.WAITING.value, lane, service_id]
    if not parts:
        return []
    return await _connection().execute_query_dict(placeholders(" UNION ALL ".join(parts)), params)


async def _snapshot(office: Office, catalogue: dict[int, eta_inputs.CatalogueService], lines_now: lines.OfficeLines,
                    now: datetime) -> _Snapshot:
    conn = _connection()
    sizes = lines_now.line_sizes()
    waiting_rows = await _line_heads(office.id, sizes)
    at_desk_rows = await conn.execute_query_dict(
        placeholders(f"SELECT {_TICKET_COLUMNS}, desk_id, called_at FROM ticket WHERE office_id = ?"
                     f" AND status IN {eta_inputs.sql_list(ACTIVE_AT_DESK)} AND desk_id IS NOT NULL"),
        [office.id],
    )
    desk_rows = await conn.execute_query_dict(
        placeholders(
            "SELECT d.id, d.name, d.status, d.preferential_streak, ds.service_id, ds.weight FROM desk d"
            " LEFT JOIN desk_service ds ON ds.desk_id = d.id WHERE d.office_id = ? ORDER BY d.id"
        ),
        [office.id],
    )
    waiting_tickets = [_replay_ticket(r, catalogue) for r in waiting_rows]
    truncated = {key for key, size in sizes.items() if size > MAX_PER_LINE}
    at_desk = {r["desk_id"]: (_replay_ticket(r, catalogue), db_datetime(r["called_at"]))
               for r in at_desk_rows if r["called_at"] is not None}
    desks: dict[int, dict] = {}
    for r in desk_rows:
        d = desks.setdefault(r["id"], {"id": r["id"], "name": r["name"], "status": r["status"],
                                       "streak": r["preferential_streak"], "weights": {}})
        if r["service_id"] is not None:
            d["weights"][r["service_id"]] = r["weight"]
    plan = await staffing.desk_plan(office, now, list(desks.values()))
    states = []
    for d in desks.values():
        if d["status"] == DeskStatus.OPEN.value and d["weights"]:
            busy, since = at_desk.get(d["id"], (None, None))
            states.append(eta.DeskState(d["id"], d["weights"], d["streak"] or 0, busy, since,
                                        pauses=plan.pauses.get(d["id"], ())))
    states += plan.coming
    return _Snapshot(waiting_tickets, truncated, states, list(desks.values()))


# ---------------------------------------------------------------- estimates


@dataclass(frozen=True)
class LineCurve:
    """Minutes from an estimate's time until a ticket of one line is called, by how many
    of that line stand before it (its rank): what the replay found for the tickets it
    played, then — when it read the whole line — for a walk-in joining its end; past
    that, `slope` minutes per further place."""

    minutes: tuple[int | None, ...]
    slope: float

    def at(self, rank: int) -> int | None:
        if rank < len(self.minutes):
            return self.minutes[rank]
        last = self.minutes[-1] if self.minutes else None
        if last is None:
            return None
        return last + math.ceil((rank - len(self.minutes) + 1) * self.slope)


def _curves(snap: _Snapshot, prediction: eta.Prediction, model: eta.ServiceTimeModel,
            now: datetime) -> dict[tuple[int, str], LineCurve]:
    by_line: dict[tuple[int, str], list[eta.WaitingTicket]] = {}
    for t in snap.waiting:
        by_line.setdefault((t.service_id, t.lane), []).append(t)
    desks_for: dict[int, int] = {}
    for d in snap.desks:
        for sid in d.weights:
            desks_for[sid] = desks_for.get(sid, 0) + 1
    curves = {}
    for key in set(by_line) | set(prediction.walk_in):
        service_id, lane = key
        tickets = sorted(by_line.get(key, ()), key=eta.line_key)
        minutes = [prediction.wait_minutes(t.ticket_id) for t in tickets]
        if key not in snap.truncated and key in prediction.walk_in:
            minutes.append(prediction.walk_in_minutes(service_id, lane))
        known = [m for m in minutes if m is not None]
        if len(known) >= 5 and known[-1] > known[0]:
            slope = (known[-1] - known[0]) / (len(known) - 1)
        else:
            slope = model.minutes(service_id, now) / max(1, desks_for.get(service_id, 0))
        curves[key] = LineCurve(tuple(minutes), slope)
    return curves


@dataclass
class ServiceEstimate:
    code: str
    name: str
    walk_in: bool
    waiting: int
    open_desks: int  # open desks that serve it at any tier
    primary_desks: float  # open desks with it as (one of) their first services
    service_minutes: float  # expected desk minutes per call now
    wait_minutes: int | None  # a regular walk-in arriving now (its first step's line)
    preferential_wait_minutes: int | None
    opens_at: datetime | None = None  # no desk of it open: when the first is expected
    wait_range: tuple[int, int] | None = None  # of wait_minutes (eta_range)
    preferential_wait_range: tuple[int, int] | None = None

    def as_dict(self, tz: str) -> dict:
        low, high = self.wait_range or (None, None)
        pref_low, pref_high = self.preferential_wait_range or (None, None)
        return {
            "service": self.code, "name": self.name, "waiting": self.waiting, "open_desks": self.open_desks,
            "primary_desks": round(self.primary_desks, 2), "service_minutes": round(self.service_minutes, 1),
            "estimated_wait_minutes": self.wait_minutes,
            "estimated_wait_low_minutes": low, "estimated_wait_high_minutes": high,
            "estimated_wait_minutes_preferential": self.preferential_wait_minutes,
            "estimated_wait_low_minutes_preferential": pref_low,
            "estimated_wait_high_minutes_preferential": pref_high,
            "opens_at": self.opens_at.astimezone(ZoneInfo(tz)).isoformat(timespec="minutes") if self.opens_at else None,
        }


@dataclass
class OfficeEstimate:
    """The office's queue played forward once (at `computed_at`), kept as what does not
    change with every ticket: the curves of its lines, the desks and the service times.
    The figures for now (`services`, `ticket_wait`) combine them with the lines as they
    are now (waiting.py), which costs O(log n) per line, never a replay."""

    office: str
    timezone: str
    computed_at: datetime
    curves: dict[tuple[int, str], LineCurve]
    catalogue: dict[int, eta_inputs.CatalogueService]
    first_steps: dict[int, int | None]
    minutes: dict[int, float]  # expected desk minutes per call, per service id
    open_desks: dict[int, int]
    primary_desks: dict[int, float]
    opens_at: dict[int, datetime]  # service id -> first expected desk, when none is open
    desks: list[dict] = field(default_factory=list)
    tickets: dict[int, int | None] = field(default_factory=dict)  # as played (appointments use it)
    errors: eta_range.ErrorModel = field(default_factory=eta_range.ErrorModel)
    first_hour: bool = False  # computed within the office's first hour of the day (it errs most)
    slot: str | None = None  # the local quarter hour it was computed in (eta_range: errors by the clock)
    lines_version: int = 0
    queue_version: int = 0
    desk_version: int = 0
    computed_mono: float = 0.0
    started_mono: float = 0.0
    cost_seconds: float = 0.0
    generation: int = 0

    def age(self, now: datetime) -> timedelta:
        """By the clock and by the process's monotonic time, whichever is larger (tests
        move the clock; a frozen clock must not keep an estimate forever)."""
        return max(now - self.computed_at, timedelta(seconds=time.monotonic() - self.computed_mono))

    def usable(self, office_id: int, now: datetime) -> bool:
        """Good enough to answer while a newer one is computed in the background."""
        return (self.generation == database_generation()
                and self.desk_version == waiting.desk_version(office_id)
                and self.computed_at <= now and self.age(now) <= MAX_STALE)

    def fresh(self, office_id: int, now: datetime, lines_version: int) -> bool:
        """No new one is needed yet: younger than MAX_REUSE (desks move on as time
        passes) and, if the queue changed since, younger than MIN_REUSE or REUSE_FACTOR
        times its cost — so a busy office is replayed every few seconds, not per change."""
        age = self.age(now)
        if now < self.computed_at or age > MAX_REUSE:
            return False
        changed = (self.lines_version != lines_version
                   or self.queue_version != waiting.queue_version(office_id))
        return not changed or age < max(MIN_REUSE, timedelta(seconds=REUSE_FACTOR * self.cost_seconds))

    def wait_at(self, service_id: int, lane: str, rank: int) -> int | None:
        curve = self.curves.get((service_id, lane))
        if curve is not None:
            return curve.at(rank)
        desks = self.open_desks.get(service_id, 0)
        if not desks:
            return None
        return math.ceil(rank * self.minutes.get(service_id, eta.DEFAULT_PRIOR_MINUTES) / desks)

    def ticket_wait(self, e: lines.Entry, lines_now: lines.OfficeLines, now: datetime) -> int | None:
        """Minutes until a waiting ticket is called."""
        if e.lane == policy.APPOINTMENT:
            played = self.tickets.get(e.ticket_id)
            elapsed = (now - self.computed_at).total_seconds() / 60
            due = max(0, math.ceil((e.key[0] - lines.micros(now)) / 60e6))
            return max(due, round(played - elapsed)) if played is not None else due
        return self.wait_at(e.service_id, e.lane, lines_now.ahead(e))

    def told(self, minutes: int | None, lane: str, service_id: int | None = None) -> "Wait":
        """What a citizen is told of the engine's minutes: the figure corrected by the
        office's past errors and the range where about 80 % of such waits fell
        (eta_range). Every surface shows this pair; the raw minutes are what a promise
        keeps (`ticket.promised_wait`), so the errors are always learnt against the engine.
        While the line's desks have not opened, the minutes until they do are a fact, not
        an estimate: only the wait after opening is corrected and given a range."""
        closed = self.minutes_until_open(service_id)
        if minutes is None or closed <= 0:
            return (self.errors.corrected(minutes, lane, self.first_hour, self.slot),
                    self.errors.range(minutes, lane, self.first_hour, self.slot))
        after = max(0, minutes - closed)
        low, high = self.errors.range(after, lane, self.first_hour, self.slot)
        return closed + self.errors.corrected(after, lane, self.first_hour, self.slot), (closed + low, closed + high)

    def minutes_until_open(self, service_id: int | None) -> int:
        """Whole minutes from this estimate until the line's first desk is expected; 0
        when one is open (or none is known)."""
        if service_id is None or self.open_desks.get(service_id):
            return 0
        opens = self.opens_at.get(service_id)
        return max(0, math.floor((opens - self.computed_at).total_seconds() / 60)) if opens else 0

    def services(self, lines_now: lines.OfficeLines) -> dict[str, ServiceEstimate]:
        out = {}
        for s in self.catalogue.values():
            first = self.first_steps[s.id]

            def walk_in(lane: str) -> int | None:
                return self.wait_at(first, lane, lines_now.length(first, lane)) if first is not None else None

            regular, regular_range = self.told(walk_in(policy.REGULAR), policy.REGULAR, first)
            preferential, preferential_range = self.told(walk_in(policy.PREFERENTIAL), policy.PREFERENTIAL, first)
            out[s.code] = ServiceEstimate(
                s.code, s.name, s.walk_in, lines_now.waiting(s.id), self.open_desks.get(s.id, 0),
                self.primary_desks.get(s.id, 0.0), self.minutes.get(s.id, eta.DEFAULT_PRIOR_MINUTES),
                regular, preferential,
                self.opens_at.get(first) if first is not None and not self.open_desks.get(first) else None,
                regular_range, preferential_range,
            )
        return out

    def as_dict(self, lines_now: lines.OfficeLines) -> dict:
        services = self.services(lines_now)
        return {
            "office": self.office,
            "computed_at": self.computed_at.isoformat(timespec="seconds"),
            "services": [services[code].as_dict(self.timezone) for code in sorted(services)],
        }


_estimate_cache: dict[int, OfficeEstimate] = {}
# Older than this, a cached estimate is not shown even while a new one is computed.
MAX_STALE = timedelta(seconds=60)


async def estimates_for_office(
    office: Office, config: policy.PolicyConfig, *, with_arrivals: bool = True
) -> OfficeEstimate:
    """Play the office's queue forward now (bounded: MAX_PER_LINE per line) and keep the
    result as the office's estimate."""
    now = clock.now()
    began, started = time.perf_counter(), time.monotonic()
    lines_now = await waiting.office_lines(office.id)
    versions = (lines_now.version, waiting.queue_version(office.id), waiting.desk_version(office.id))
    catalogue = await eta_inputs.catalogue(office.id)
    stats = await eta_inputs.office_stats(office, catalogue, now)
    snap = await _snapshot(office, catalogue, lines_now, now)
    first_steps = {s.id: eta_inputs.first_step(catalogue, s) for s in catalogue.values()}
    ghosts = [(sid, lane) for sid in catalogue for lane in (policy.REGULAR, policy.PREFERENTIAL)]
    open_states = [d for d in snap.desks if d.available_at is None]
    served = {sid for d in snap.desks for sid in d.weights}
    assumed = _unstaffed_desks(office, set(catalogue) - served, now)
    prediction = eta.simulate(
        snap.waiting, snap.desks + assumed, stats.model, now=now, config=config, ghosts=ghosts,
        arrivals=eta_inputs.arrival_streams(stats, catalogue) if with_arrivals else (),
        coming=await eta_inputs.coming_citas(office, catalogue, now) if with_arrivals else (),
    )
    capacity = balancing.desk_capacity([d.weights for d in open_states])
    opens_at: dict[int, datetime] = {}  # (a desk assumed for an unstaffed line opens nothing)
    for d in snap.desks:
        if d.available_at is not None:
            for sid in d.weights:
                opens_at[sid] = min(opens_at.get(sid, d.available_at), d.available_at)
    names = {s.id: s.code for s in catalogue.values()}
    estimate = OfficeEstimate(
        office.code, office.timezone, now, _curves(snap, prediction, stats.model, now), catalogue, first_steps,
        minutes={sid: stats.model.minutes(sid, now) for sid in catalogue},
        open_desks={sid: sum(1 for d in open_states if sid in d.weights) for sid in catalogue},
        primary_desks={sid: capacity.get(sid, 0.0) for sid in catalogue},
        opens_at=opens_at,
        desks=[{"name": d["name"], "status": d["status"],
                "services": {names.get(sid, str(sid)): w for sid, w in sorted(d["weights"].items(), key=lambda kv: kv[1])}}
               for d in snap.desk_rows],
        tickets={t.ticket_id: prediction.wait_minutes(t.ticket_id) for t in snap.waiting},
        errors=await eta_inputs.wait_errors(office, now), first_hour=eta_inputs.in_first_hour(office, now),
        slot=eta_inputs.day_slot(office, now),
        lines_version=versions[0], queue_version=versions[1], desk_version=versions[2],
        computed_mono=time.monotonic(), generation=database_generation(),
    )
    estimate.cost_seconds = time.perf_counter() - began
    estimate.started_mono = started
    # Kept unless a newer one (begun later) was kept meanwhile, or the cache was cleared since it began.
    cached = _estimate_cache.get(office.id)
    if started >= _cleared_at and (cached is None or cached.started_mono <= started):
        _estimate_cache[office.id] = estimate
    return estimate


def _opening_today(office: Office, now: datetime) -> datetime | None:
    """Today's first opening time (aware), if the office opens today."""
    zone = ZoneInfo(office.timezone)
    day = now.astimezone(zone).date()
    spans = staffing.spans_for(office.opening_hours, day)
    return datetime.combine(day, spans[0][0], zone) if spans else None


def _unstaffed_desks(office: Office, services: set[int], now: datetime) -> list[eta.DeskState]:
    """One desk for each line that no open or expected desk serves, from UNSTAFFED_DELAY
    after now or after today's opening, whichever is later."""
    opening = _opening_today(office, now)
    start = max(now, opening or now) + UNSTAFFED_DELAY
    return [eta.DeskState(-sid, {sid: 1}, available_at=start) for sid in sorted(services)]


async def current_estimate(office: Office, config: policy.PolicyConfig) -> OfficeEstimate:
    """The office's estimate. A stale one that is still usable answers at once while a
    new one is computed in the background; none (or one made before a desk of this
    instance opened or closed) is computed now — a bounded replay (MAX_PER_LINE)."""
    lines_now = await waiting.office_lines(office.id)
    now = clock.now()
    cached = _estimate_cache.get(office.id)
    if cached is not None and cached.usable(office.id, now):
        if not cached.fresh(office.id, now, lines_now.version):
            _refresh_soon(office, config)
        return cached
    async with _office_lock(office.id):
        cached = _estimate_cache.get(office.id)
        if cached is not None and cached.usable(office.id, clock.now()):
            return cached  # computed while this one waited
        return await estimates_for_office(office, config)


_refreshing: dict[int, asyncio.Task] = {}
# Called with the office after a background refresh (the hub re-sends followed tickets).
refresh_listeners: list = []


def _refresh_soon(office: Office, config: policy.PolicyConfig) -> None:
    task = _refreshing.get(office.id)
    if task is not None and not task.done():
        return

    async def refresh() -> None:
        generation = database_generation()
        try:
            async with _office_lock(office.id):
                if generation == database_generation():
                    await estimates_for_office(office, config)
            for listener in refresh_listeners:
                listener(office)
        except Exception:  # noqa: BLE001 — the previous estimate keeps answering
            if generation == database_generation():  # (not a database closed under it)
                log.warning("no se pudo actualizar la espera estimada de %s", office.code, exc_info=True)

    _refreshing[office.id] = asyncio.get_running_loop().create_task(refresh())


async def settled() -> None:
    """Wait for the background refreshes under way (tests, shutdown)."""
    tasks = [t for t in _refreshing.values() if not t.done()]
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)


_locks: dict[tuple[int, int], asyncio.Lock] = {}


def _office_lock(office_id: int) -> asyncio.Lock:
    """One estimate computation at a time per office (and event loop): a burst of
    requests that finds no estimate computes it once, not once per request."""
    key = (id(asyncio.get_running_loop()), office_id)
    lock = _locks.get(key)
    if lock is None:
        if len(_locks) > 1000:
            _locks.clear()
        lock = _locks[key] = asyncio.Lock()
    return lock


Wait = tuple[int | None, tuple[int, int] | None]  # minutes, and their range


async def wait_for_view(ticket: Ticket, office: Office, config: policy.PolicyConfig) -> Wait:
    """Minutes until a waiting ticket is called and their range, for every view of it
    (issue, GET /api/tickets/{id}, the citizen page and its live updates, the slip): the
    office's estimate at the ticket's place in its line now. None: not waiting, or not
    within the horizon; an estimator failure never fails the view."""
    if ticket.status != TicketStatus.WAITING:
        return None, None
    try:
        lines_now = await waiting.office_lines(office.id)
        e = lines_now.get(ticket.id)
        if e is None:
            return None, None
        estimate = await current_estimate(office, config)
        if e.lane == policy.APPOINTMENT:  # a cita's time is its own, not a line's
            minutes = estimate.ticket_wait(e, lines_now, clock.now())
            return minutes, estimate.errors.range(minutes, e.lane, estimate.first_hour, estimate.slot)
        return estimate.told(estimate.ticket_wait(e, lines_now, clock.now()), e.lane, e.service_id)
    except Exception:  # noqa: BLE001 — the ticket must still be shown
        log.exception("wait estimate failed for office %s", office.code)
        return None, None


async def walk_in_promise(office: Office, service_id: int, lane: str, config: policy.PolicyConfig) -> int | None:
    """The engine's wait for a walk-in joining the end of a line now, before the learnt
    correction (kept on its ticket: the promise its error is learnt from; the citizen is
    told `OfficeEstimate.told` of it). None when it cannot be estimated."""
    try:
        lines_now = await waiting.office_lines(office.id)
        estimate = await current_estimate(office, config)
        return estimate.wait_at(service_id, lane, lines_now.length(service_id, lane))
    except Exception:  # noqa: BLE001 — issuing must go on
        log.exception("wait estimate failed for office %s", office.code)
        return None


async def estimate_for_ticket(ticket: Ticket, office: Office, config: policy.PolicyConfig) -> int | None:
    """Minutes until a waiting ticket is called, from an estimate computed now."""
    if ticket.status != TicketStatus.WAITING:
        return None
    estimate = await estimates_for_office(office, config)
    lines_now = await waiting.office_lines(office.id)
    e = lines_now.get(ticket.id)
    return estimate.ticket_wait(e, lines_now, clock.now()) if e is not None else None


async def service_estimates(office: Office, config: policy.PolicyConfig) -> dict[str, ServiceEstimate]:
    """Per service code, the office's figures now (kiosk, board, ranking, balancing)."""
    estimate = await current_estimate(office, config)
    return estimate.services(await waiting.office_lines(office.id))


async def office_estimates(office: Office, config: policy.PolicyConfig) -> dict:
    """GET /api/offices/{office}/estimates."""
    estimate = await current_estimate(office, config)
    return estimate.as_dict(await waiting.office_lines(office.id))
