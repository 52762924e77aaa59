"""Wait estimates for an office, read from the database and played forward by eta.py.

Service times come straight from the ticket rows (called_at → finished_at of finished
calls, written by the engine in the same transaction as the finish): one grouped
statement per office over its last HISTORY_DAYS days, cached for STATS_TTL of the
clock — so they follow every finished ticket without a statistics table, a write in
the finish hot path or a job. The snapshot of the queue (waiting tickets, desks and
what they are serving) is read fresh on every estimate: three indexed statements.

Entry points (no HTTP): `estimates_for_office`, `estimate_for_ticket`,
`walk_in_waits` (offices list), `recommend_offices`, `balancing_view`, `apply_desk_move`,
`set_auto_balance` and `auto_balance` (the server applying moves by itself).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from turnero.admin import service as admin_service
from turnero.core import clock
from turnero.core.auth import Principal
from turnero.core.db import database_generation, db_datetime, is_postgres, placeholders
from turnero.core.errors import conflict, not_found
from turnero.core.models import Office, Service
from turnero.core.service import get_service, offered_service
from turnero.queue import balancing, eta, lines, policy, waiting
from turnero.queue import service as queue_service
from turnero.queue.service import ACTIVE_AT_DESK, get_desk
from turnero.queue.models import Desk, DeskEvent, DeskService, DeskStatus, Ticket, TicketStatus

log = logging.getLogger("turnero.eta")

STATS_TTL = timedelta(seconds=60)
# How long an office's estimate answers the ticket views of a running service: at
# least MIN_REUSE, REUSE_FACTOR times what computing it took (so estimating never takes
# more than about a tenth of the time), at most MAX_REUSE; any change to the queue but
# a new walk-in (desks, calls, finishes) makes it stale at once in this process.
MIN_REUSE = timedelta(seconds=2)
MAX_REUSE = timedelta(seconds=30)
REUSE_FACTOR = 10
HISTORY_DAYS = 14
# A call longer than this counts as this long (a desk left open over lunch, say).
MAX_CALL_MINUTES = 120.0
ARRIVAL_WINDOW = timedelta(minutes=60)
_FINISHED = (TicketStatus.DONE, TicketStatus.NO_SHOW, TicketStatus.TRANSFERRED)
_ACTIVE = (TicketStatus.WAITING, TicketStatus.CALLED, TicketStatus.SERVING)


def _in(values) -> str:
    """A SQL list literal of the code's own enum values."""
    return "(" + ", ".join(f"'{v.value}'" for v in values if v.value.isidentifier()) + ")"


def _connection():
    return Ticket._meta.db


# ---------------------------------------------------------------- catalogue


@dataclass(frozen=True)
class _Service:
    id: int
    code: str
    name: str
    steps: tuple[str, ...]
    prior_minutes: float
    walk_in: bool


async def _catalogue(office_id: int) -> dict[int, _Service]:
    rows = await _connection().execute_query_dict(
        placeholders(
            "SELECT s.id, s.code, s.name, s.steps, s.expected_service_minutes, s.walk_in FROM service s"
            " JOIN office_service os ON os.service_id = s.id WHERE os.office_id = ? AND s.active = ?"
        ),
        [office_id, True],
    )
    out = {}
    for r in rows:
        steps = json.loads(r["steps"]) if isinstance(r["steps"], str) else (r["steps"] or [])
        out[r["id"]] = _Service(r["id"], r["code"], r["name"], tuple(steps),
                                float(r["expected_service_minutes"] or eta.DEFAULT_PRIOR_MINUTES), bool(r["walk_in"]))
    return out


def _step_ids(catalogue: dict[int, _Service], codes) -> tuple[int, ...]:
    by_code = {s.code: s.id for s in catalogue.values()}
    ids = []
    for code in codes:
        if code not in by_code:  # a step the office does not offer: the visit ends here
            break
        ids.append(by_code[code])
    return tuple(ids)


def _first_step(catalogue: dict[int, _Service], service: _Service) -> int | None:
    """The line a walk-in for `service` joins (a multi-step trámite starts at step 1)."""
    if not service.steps:
        return service.id
    steps = _step_ids(catalogue, service.steps[:1])
    return steps[0] if steps else None


# ---------------------------------------------------------------- service-time statistics


@dataclass
class _Stats:
    computed_at: datetime
    day: date
    model: eta.ServiceTimeModel
    # (service id, lane, flow service id, step index) -> visits issued in the window
    arrivals: dict[tuple, int]
    generation: int = 0  # of the database (core.db.database_generation): ids are per database


_stats_cache: dict[int, _Stats] = {}


_cleared_at = 0.0


def clear_cache() -> None:
    global _cleared_at
    _cleared_at = time.monotonic()
    _stats_cache.clear()
    _estimate_cache.clear()
    _locks.clear()
    waiting.clear()


def _utc_offset_hours(tz: str, at: datetime) -> float:
    offset = at.astimezone(ZoneInfo(tz)).utcoffset()
    return offset.total_seconds() / 3600 if offset else 0.0


async def _observations(office_id: int, today: date) -> list[eta.Observation]:
    if is_postgres():
        hour = "CAST(EXTRACT(HOUR FROM called_at AT TIME ZONE 'UTC') AS INTEGER)"
        minutes = f"LEAST(EXTRACT(EPOCH FROM (finished_at - called_at)) / 60.0, {MAX_CALL_MINUTES})"
    else:
        hour = "CAST(strftime('%H', called_at) AS INTEGER)"
        minutes = f"MIN((julianday(finished_at) - julianday(called_at)) * 1440.0, {MAX_CALL_MINUTES})"
    # The (office, day, number, hop) unique index covers office and day.
    rows = await _connection().execute_query_dict(
        placeholders(
            f"SELECT service_id, {hour} AS utc_hour, CASE WHEN day = ? THEN 1 ELSE 0 END AS today,"
            f" COUNT(*) AS n, SUM({minutes}) AS total FROM ticket"
            f" WHERE office_id = ? AND day >= ? AND day <= ? AND status IN {_in(_FINISHED)}"
            " AND called_at IS NOT NULL AND finished_at IS NOT NULL AND finished_at >= called_at"
            " GROUP BY service_id, utc_hour, today"
        ),
        [today, office_id, today - timedelta(days=HISTORY_DAYS), today],
    )
    return [(r["service_id"], int(r["utc_hour"]), int(r["n"]), float(r["total"] or 0.0), bool(r["today"])) for r in rows]


async def _arrival_counts(office_id: int, today: date, since: datetime) -> dict[tuple, int]:
    rows = await _connection().execute_query_dict(
        placeholders(
            "SELECT service_id, lane, flow_service_id, step_index, COUNT(*) AS n FROM ticket"
            " WHERE office_id = ? AND day = ? AND hop = 0 AND issued_at >= ? AND lane <> ?"
            " GROUP BY service_id, lane, flow_service_id, step_index"
        ),
        [office_id, today, since, policy.APPOINTMENT],
    )
    return {(r["service_id"], r["lane"], r["flow_service_id"], r["step_index"]): int(r["n"]) for r in rows}


async def _office_stats(office: Office, catalogue: dict[int, _Service], now: datetime) -> _Stats:
    today = clock.local_day(now, office.timezone)
    cached = _stats_cache.get(office.id)
    if (cached and cached.generation == database_generation() and cached.day == today
            and timedelta(0) <= now - cached.computed_at < STATS_TTL):
        return cached
    offset = _utc_offset_hours(office.timezone, now)
    observations = [
        eta.Observation(service_id, int((utc_hour + offset) // 1) % 24, n, total, is_today)
        for service_id, utc_hour, n, total, is_today in await _observations(office.id, today)
    ]
    model = eta.ServiceTimeModel.fit(
        observations, {s.id: s.prior_minutes for s in catalogue.values()}, utc_offset_hours=offset
    )
    stats = _Stats(now, today, model, await _arrival_counts(office.id, today, now - ARRIVAL_WINDOW),
                   database_generation())
    _stats_cache[office.id] = stats
    return stats


async def service_times(office: Office) -> eta.ServiceTimeModel:
    """The office's expected desk minutes per call (by service and hour), as used now."""
    return (await _office_stats(office, await _catalogue(office.id), clock.now())).model


def _streams(stats: _Stats, catalogue: dict[int, _Service]) -> list[eta.ArrivalStream]:
    minutes = ARRIVAL_WINDOW.total_seconds() / 60
    streams = []
    for (service_id, lane, flow_id, step_index), n in stats.arrivals.items():
        flow = catalogue.get(flow_id) if flow_id is not None else None
        next_steps = _step_ids(catalogue, flow.steps[step_index + 1:]) if flow else ()
        streams.append(eta.ArrivalStream(service_id, lane, n / minutes, next_steps))
    return streams


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


def _replay_ticket(r: dict, catalogue: dict[int, _Service]) -> eta.WaitingTicket:
    flow = catalogue.get(r["flow_service_id"]) if r["flow_service_id"] is not None else None
    next_steps = _step_ids(catalogue, flow.steps[r["step_index"] + 1:]) if flow else ()
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


async def _snapshot(office: Office, catalogue: dict[int, _Service], lines_now: lines.OfficeLines,
                    now: datetime) -> _Snapshot:
    conn = _connection()
    sizes = lines_now.line_sizes()
    waiting_rows = await _line_heads(office.id, sizes)
    at_desk_rows = await conn.execute_query_dict(
        placeholders(f"SELECT {_TICKET_COLUMNS}, desk_id, called_at FROM ticket WHERE office_id = ?"
                     f" AND status IN {_in(ACTIVE_AT_DESK)} AND desk_id IS NOT NULL"),
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
    states = []
    for d in desks.values():
        if d["status"] == DeskStatus.OPEN.value and d["weights"]:
            busy, since = at_desk.get(d["id"], (None, None))
            states.append(eta.DeskState(d["id"], d["weights"], d["streak"] or 0, busy, since))
    states += await _expected_desks(office, now, list(desks.values()))
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

    def as_dict(self, tz: str) -> dict:
        return {
            "service": self.code, "name": self.name, "waiting": self.waiting, "open_desks": self.open_desks,
            "primary_desks": round(self.primary_desks, 2), "service_minutes": round(self.service_minutes, 1),
            "estimated_wait_minutes": self.wait_minutes,
            "estimated_wait_minutes_preferential": self.preferential_wait_minutes,
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
    catalogue: dict[int, _Service]
    first_steps: dict[int, int | None]
    minutes: dict[int, float]  # expected desk minutes per call, per service id
    open_desks: dict[int, int]
    primary_desks: dict[int, float]
    opens_at: dict[int, datetime]  # service id -> first expected desk, when none is open
    desks: list[dict] = field(default_factory=list)
    tickets: dict[int, int | None] = field(default_factory=dict)  # as played (appointments use it)
    lines_version: int = 0
    queue_version: int = 0
    desk_version: int = 0
    computed_mono: float = 0.0
    started_mono: float = 0.0
    cost_seconds: float = 0.0
    generation: int = 0

    def reuse(self) -> timedelta:
        return min(MAX_REUSE, max(MIN_REUSE, timedelta(seconds=REUSE_FACTOR * self.cost_seconds)))

    def usable(self, office_id: int, now: datetime) -> bool:
        """Good enough to answer while a newer one is computed in the background."""
        return (self.generation == database_generation()
                and self.desk_version == waiting.desk_version(office_id)
                and timedelta(0) <= now - self.computed_at <= MAX_STALE
                and time.monotonic() - self.computed_mono <= MAX_STALE.total_seconds())

    def fresh(self, office_id: int, now: datetime, lines_version: int) -> bool:
        reuse = self.reuse()
        if not (timedelta(0) <= now - self.computed_at <= reuse
                and time.monotonic() - self.computed_mono <= reuse.total_seconds()):
            return False
        return (self.lines_version == lines_version
                and self.queue_version == queue_service.queue_versions.get(office_id, 0))

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

    def services(self, lines_now: lines.OfficeLines) -> dict[str, ServiceEstimate]:
        out = {}
        for s in self.catalogue.values():
            first = self.first_steps[s.id]

            def walk_in(lane: str) -> int | None:
                return self.wait_at(first, lane, lines_now.length(first, lane)) if first is not None else None

            out[s.code] = ServiceEstimate(
                s.code, s.name, s.walk_in, lines_now.waiting(s.id), self.open_desks.get(s.id, 0),
                self.primary_desks.get(s.id, 0.0), self.minutes.get(s.id, eta.DEFAULT_PRIOR_MINUTES),
                walk_in(policy.REGULAR), walk_in(policy.PREFERENTIAL),
                self.opens_at.get(first) if first is not None and not self.open_desks.get(first) else None,
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
    versions = (lines_now.version, queue_service.queue_versions.get(office.id, 0), waiting.desk_version(office.id))
    catalogue = await _catalogue(office.id)
    stats = await _office_stats(office, catalogue, now)
    snap = await _snapshot(office, catalogue, lines_now, now)
    first_steps = {s.id: _first_step(catalogue, s) for s in catalogue.values()}
    ghosts = [(sid, lane) for sid in catalogue for lane in (policy.REGULAR, policy.PREFERENTIAL)]
    open_states = [d for d in snap.desks if d.available_at is None]
    served = {sid for d in snap.desks for sid in d.weights}
    assumed = _unstaffed_desks(office, set(catalogue) - served, now)
    prediction = eta.simulate(
        snap.waiting, snap.desks + assumed, stats.model, now=now, config=config, ghosts=ghosts,
        arrivals=_streams(stats, catalogue) if with_arrivals else (),
    )
    capacity = balancing.desk_capacity([d.weights for d in open_states])
    opens_at: dict[int, datetime] = {}
    for d in snap.desks + assumed:
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


async def _expected_desks(office: Office, now: datetime, desks: list[dict]) -> list[eta.DeskState]:
    try:  # TEMPORARY until staffing.py lands
        from turnero.queue import staffing
    except ImportError:
        return []
    expected = getattr(staffing, "expected_desks", None)
    return await expected(office, now, desks) if expected is not None else []


def _opening_today(office: Office, now: datetime) -> datetime | None:
    """Today's first opening time (aware), if the office opens today."""
    tz = ZoneInfo(office.timezone)
    local = now.astimezone(tz)
    spans = (office.opening_hours or {}).get(("mon", "tue", "wed", "thu", "fri", "sat", "sun")[local.weekday()]) or []
    starts = [datetime.combine(local.date(), datetime.strptime(start, "%H:%M").time(), tz) for start, _end in spans]
    return min(starts) if starts else None


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


async def wait_for_view(ticket: Ticket, office: Office, config: policy.PolicyConfig) -> int | None:
    """Minutes until a waiting ticket is called, for every view of it (issue, GET
    /api/tickets/{id}, the citizen page and its live updates, the slip): the office's
    estimate at the ticket's place in its line now. None: not waiting, or not within
    the horizon; an estimator failure never fails the view."""
    if ticket.status != TicketStatus.WAITING:
        return None
    try:
        lines_now = await waiting.office_lines(office.id)
        e = lines_now.get(ticket.id)
        if e is None:
            return None
        estimate = await current_estimate(office, config)
        return estimate.ticket_wait(e, lines_now, clock.now())
    except Exception:  # noqa: BLE001 — the ticket must still be shown
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


async def office_estimates(office: Office, config: policy.PolicyConfig) -> dict:
    """GET /api/offices/{office}/estimates."""
    estimate = await current_estimate(office, config)
    return estimate.as_dict(await waiting.office_lines(office.id))


async def walk_in_waits(service_code: str, offices: list[Office], config: policy.PolicyConfig) -> dict[str, dict]:
    """Per office code: `estimated_wait_minutes` for a regular walk-in for the service
    and how many wait in that line now (for GET /api/offices?service=CODE)."""
    out = {}
    for office in offices:
        estimate = await current_estimate(office, config)
        s = estimate.services(await waiting.office_lines(office.id)).get(service_code)
        if s is not None:
            out[office.code] = {"estimated_wait_minutes": s.wait_minutes, "waiting": s.waiting}
    return out


async def add_walk_in_waits(offices: list[dict], service_code: str, config: policy.PolicyConfig) -> list[dict]:
    """GET /api/offices?service=CODE: adds `estimated_wait_minutes` (a regular walk-in,
    None when the trámite takes no walk-ins) and `waiting` to each office dict."""
    service = await get_service(service_code)
    rows = await Office.filter(code__in=[o["code"] for o in offices])
    waits = await walk_in_waits(service.code, rows, config)
    for o in offices:
        w = waits.get(o["code"], {"estimated_wait_minutes": None, "waiting": 0})
        o["estimated_wait_minutes"] = w["estimated_wait_minutes"] if service.walk_in else None
        o["waiting"] = w["waiting"]
    return offices


async def recommend_offices(
    service_code: str, config: policy.PolicyConfig, *, city: str | None = None, near: str | None = None,
    next_free: dict[str, datetime] | None = None,
) -> list[dict]:
    """Offices (of `city`, if given) offering the trámite: fastest first for a walk-in,
    each with its next free cita time from `next_free` (office code -> time)."""
    service = await get_service(service_code)
    query = Office.filter(active=True, catalogue__service_id=service.id)
    if city:
        query = query.filter(city__iexact=city)
    offices = await query.order_by("code").distinct()
    options = []
    for office in offices:
        estimate = await current_estimate(office, config)
        s = estimate.services(await waiting.office_lines(office.id))[service.code]
        cita = (next_free or {}).get(office.code) if service.bookable else None
        options.append(balancing.OfficeOption(
            office.code, office.name, s.wait_minutes if service.walk_in else None, s.waiting, s.open_desks, cita,
        ))
    return [o.as_dict() for o in balancing.rank_offices(options, current=near)]


async def ranking(
    service_code: str, config: policy.PolicyConfig, *, city: str | None = None, near: str | None = None,
    scheduler_config=None,
) -> dict:
    """The offices ranked for a trámite (walk-in wait, then next free cita) and, when
    `near` is the citizen's office and its wait is long, the faster office to propose."""
    service = await get_service(service_code)
    here = None
    if near is not None:
        here = await Office.get_or_none(code=near, active=True)
        if here is None:
            raise not_found("office_not_found", f"No existe la oficina {near!r}.")
        city = city or here.city
    next_free = {}
    if service.bookable:
        from turnero.scheduler import service as scheduler

        for row in await scheduler.offices_for_service(service.code, scheduler_config or scheduler.SchedulerConfig()):
            if row.get("next_free"):
                next_free[row["code"]] = datetime.fromisoformat(row["next_free"]["start"])
    ranked = await recommend_offices(service.code, config, city=city, near=near, next_free=next_free)
    suggestion = None
    if here is not None:
        options = [
            balancing.OfficeOption(
                o["office"], o["name"], o["estimated_wait_minutes"], o["waiting"], o["open_desks"],
                datetime.fromisoformat(o["next_appointment"]) if o["next_appointment"] else None,
            )
            for o in ranked
        ]
        best = balancing.faster_alternative(options, here.code)
        if best is not None:
            local = next(o for o in options if o.office == here.code)
            target = await Office.get(code=best.office)
            suggestion = {
                **best.as_dict(), "address": target.address,
                "saving_minutes": local.wait_minutes - best.wait_minutes,
                "message": (
                    f"La espera aquí es de unos {local.wait_minutes} min. En {target.name} ({target.address})"
                    + (f" es de unos {best.wait_minutes} min." if best.wait_minutes else " no hay espera.")
                ),
            }
    return {"service": service.code, "city": city, "offices": ranked, "suggestion": suggestion}


# ---------------------------------------------------------------- desk balancing


async def balancing_view(
    office: Office, config: policy.PolicyConfig, *, threshold_minutes: int = balancing.DEFAULT_THRESHOLD_MINUTES
) -> dict:
    """Per service: queue, open desks and predicted wait; and suggested desk moves."""
    estimate = await current_estimate(office, config)
    lines_now = await waiting.office_lines(office.id)
    services = estimate.services(lines_now)
    queues = [
        balancing.ServiceQueue(s.code, s.waiting, s.wait_minutes, s.primary_desks, s.service_minutes)
        for s in services.values()
    ]
    open_desks = [
        balancing.DeskAssignment(d["name"], d["services"]) for d in estimate.desks if d["status"] == DeskStatus.OPEN.value
    ]
    moves = balancing.suggest_moves(queues, open_desks, threshold_minutes=threshold_minutes)
    return {**estimate.as_dict(lines_now), "desks": estimate.desks, "threshold_minutes": threshold_minutes,
            "auto_threshold_minutes": office.auto_balance_minutes,
            "suggestions": [m.as_dict() for m in moves]}


async def apply_desk_move(office: Office, desk_name: str, service_code: str, actor: Principal | None) -> dict:
    """Make `service_code` the desk's first service (weight 1); the services it had
    first become its fallbacks (weight 2). One transaction with its audit event."""
    service: Service = await offered_service(office, service_code)
    desk = await get_desk(office, desk_name)
    async with in_transaction():
        moved = await _move_desk(desk, service, actor)
    waiting.desks_changed(office.id)
    await queue_service.publish_queue_changed(office)  # also makes cached estimates stale
    return moved


async def set_auto_balance(office: Office, threshold_minutes: int | None, actor: Principal) -> dict:
    """Turn automatic desk moves on (above `threshold_minutes` of predicted wait) or off
    (None); with its audit record."""
    async with in_transaction():
        before = office.auto_balance_minutes
        await Office.filter(id=office.id).update(auto_balance_minutes=threshold_minutes)
        await admin_service.audit(actor, "office.auto_balance", office.code, office.id,
                                  {"auto_balance_minutes": before}, {"auto_balance_minutes": threshold_minutes})
    office.auto_balance_minutes = threshold_minutes
    return {"office": office.code, "auto_threshold_minutes": threshold_minutes}


# After a desk moves (by hand or by itself), the lines need time to show its effect:
# no automatic move sooner than this, so desks do not swing back and forth.
AUTO_BALANCE_COOLDOWN = timedelta(minutes=10)


async def auto_balance(office: Office, config: policy.PolicyConfig) -> dict | None:
    """One automatic step for an office with `auto_balance_minutes` set: apply the first
    suggested move, unless a desk of the office moved within AUTO_BALANCE_COOLDOWN.
    Several instances may run this at once: the office row is written first in the
    transaction (a row lock on PostgreSQL, the write lock on SQLite), so the check of
    the last move and the move itself happen one instance at a time."""
    threshold = office.auto_balance_minutes
    if threshold is None:
        return None
    view = await balancing_view(office, config, threshold_minutes=threshold)
    if not view["suggestions"]:
        return None
    first = view["suggestions"][0]
    moved = None
    async with in_transaction():
        locked = await Office.filter(id=office.id, auto_balance_minutes=threshold).update(
            auto_balance_minutes=threshold)
        recent = await DeskEvent.filter(desk__office_id=office.id, kind="reassigned",
                                        at__gte=clock.now() - AUTO_BALANCE_COOLDOWN).exists()
        if locked and not recent:
            service = await offered_service(office, first["to"])
            desk = await get_desk(office, first["desk"])
            moved = await _move_desk(desk, service, None)
    if moved is None:
        return None
    waiting.desks_changed(office.id)
    await queue_service.publish_queue_changed(office)  # also makes cached estimates stale
    log.info("balanceo automático en %s: %s", office.code, first["message"])
    return {**moved, "message": first["message"]}


async def _move_desk(desk: Desk, service: Service, actor: Principal | None) -> dict:
    """apply_desk_move's change, in the caller's transaction (published by the caller
    after it commits)."""
    now = clock.now()
    desk = await Desk.filter(id=desk.id).select_for_update().get()
    if desk.status == DeskStatus.CLOSED:
        raise conflict("desk_not_open", f"La ventanilla {desk.name} está cerrada.")
    links = {link.service_id: link for link in await DeskService.filter(desk_id=desk.id)}
    before = {sid: link.weight for sid, link in links.items()}
    for sid, link in links.items():
        if sid != service.id and link.weight <= 1:
            link.weight = 2
            await link.save(update_fields=["weight"])
    if service.id in links:
        links[service.id].weight = 1
        await links[service.id].save(update_fields=["weight"])
    else:
        await DeskService.create(desk_id=desk.id, service_id=service.id, weight=1)
    await DeskEvent.create(desk_id=desk.id, kind="reassigned", at=now, user_id=actor.user_id if actor else None)
    return {"desk": desk.name, "service": service.code, "before": before}
